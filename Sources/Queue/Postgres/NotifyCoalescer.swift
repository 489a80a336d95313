/// When a process sends its wake-up `NOTIFY`: a plain state machine, no I/O (unit-tested in
/// `NotifyCoalescerTests`).
///
/// A `NOTIFY` takes PostgreSQL's global commit lock: one per enqueue cost 74 % of enqueue
/// throughput at 16 clients (multihost.md). So a process sends at most one at a time and then
/// waits `cooldown` before the next; changes committed meanwhile fold into one trailing
/// `NOTIFY`. A lone change is announced at once (its wake-up costs one round trip), a burst
/// costs at most one `NOTIFY` per cooldown per process — and no change goes unannounced. A
/// `NOTIFY` due at once rides on the write itself when it can (`carriedByWrite`): a
/// `pg_notify` in the statement's `RETURNING`, delivered at its commit.
struct NotifyCoalescer: Sendable, Equatable {
    enum State: Sendable, Equatable {
        case idle
        /// A `NOTIFY` is on its way; `pending`: changes committed since it was sent.
        case sending(pending: Bool)
        /// Waiting out the cooldown after a `NOTIFY`.
        case coolingDown(pending: Bool)
    }

    /// What the caller does next.
    enum Action: Sendable, Equatable {
        case none
        case send
        case startCooldown
    }

    private(set) var state = State.idle

    /// A write committed.
    mutating func changed() -> Action {
        switch state {
        case .idle:
            state = .sending(pending: false)
            return .send
        case .sending:
            state = .sending(pending: true)
            return .none
        case .coolingDown:
            state = .coolingDown(pending: true)
            return .none
        }
    }

    /// A write is about to be sent: true when it should carry the `NOTIFY` itself (nothing is
    /// in flight or cooling down), which saves the round trip of a `NOTIFY` of its own. The
    /// caller then reports `sent()` once the write ended, committed or not. False: the write
    /// goes without, and the caller reports `changed()` after it committed.
    mutating func carriedByWrite() -> Bool {
        guard state == .idle else { return false }
        state = .sending(pending: false)
        return true
    }

    /// The `NOTIFY` was sent (or failed: the listeners' poll backstop covers a lost one).
    mutating func sent() -> Action {
        guard case .sending(let pending) = state else { return .none }
        state = .coolingDown(pending: pending)
        return .startCooldown
    }

    /// The cooldown is over: a trailing `NOTIFY` if anything changed during it.
    mutating func cooledDown() -> Action {
        guard case .coolingDown(let pending) = state else { return .none }
        if pending {
            state = .sending(pending: false)
            return .send
        }
        state = .idle
        return .none
    }
}
