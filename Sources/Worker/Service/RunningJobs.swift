import Queue

/// The jobs this worker is executing, with their leases and tasks, and why a run was stopped
/// early (its lease vanished, or the worker is draining).
actor RunningJobs {
    enum StopReason: Sendable {
        /// Cancelled by the client or reaped: the lease is gone, the result must not be written.
        case leaseLost
        /// The worker is shutting down: give the job back to the queue.
        case draining
    }

    private struct Entry {
        var lease: Lease
        var publicID: String
        var task: Task<Void, Never>?
        var stopReason: StopReason?
        /// The run ended and its outcome is being written: its lease vanishing is expected.
        var storing = false
    }

    private var entries: [Int64: Entry] = [:]
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []

    var count: Int { entries.count }
    var leases: [Lease] { entries.values.map(\.lease) }
    var publicIDs: Set<String> { Set(entries.values.map(\.publicID)) }

    func add(_ lease: Lease, publicID: String) {
        entries[lease.jobID] = Entry(lease: lease, publicID: publicID)
    }

    func attach(_ task: Task<Void, Never>, to jobID: Int64) {
        entries[jobID]?.task = task
        if entries[jobID]?.stopReason != nil { task.cancel() }
    }

    /// Why the run was stopped, if it was; otherwise marks it as storing its outcome, so that
    /// the lease disappearing with that write is not taken for a cancellation.
    func beginStoring(_ jobID: Int64) -> StopReason? {
        if let reason = entries[jobID]?.stopReason { return reason }
        entries[jobID]?.storing = true
        return nil
    }

    func finish(_ jobID: Int64) {
        entries.removeValue(forKey: jobID)
        if entries.isEmpty {
            for waiter in idleWaiters { waiter.resume() }
            idleWaiters.removeAll()
        }
    }

    /// Stops the runs under the leases `judged` that are not in `current` (the answer of a
    /// database read about `judged`). A run added since `judged` was taken is not judged: the
    /// answer knew nothing of it (a job claimed while a heartbeat was on its way).
    func stopAll(among judged: [Lease], except current: Set<Lease>) -> [String] {
        let judged = Set(judged)
        var stopped: [String] = []
        for (id, entry) in entries
        where judged.contains(entry.lease) && !current.contains(entry.lease) && entry.stopReason == nil && !entry.storing {
            entries[id]?.stopReason = .leaseLost
            entry.task?.cancel()
            stopped.append(entry.publicID)
        }
        return stopped
    }

    /// Stops every run so that it is released (drain timeout passed).
    func stopForDrain() {
        for (id, entry) in entries where entry.stopReason == nil {
            entries[id]?.stopReason = .draining
            entry.task?.cancel()
        }
    }

    /// Returns once no job is running.
    func waitUntilIdle() async {
        guard !entries.isEmpty else { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }
}
