import Logging
import PostgresNIO
import Synchronization

/// Wake-ups between the processes of a PostgreSQL deployment: `LISTEN` on one dedicated
/// session per process, `NOTIFY` after this process's commits, coalesced.
///
/// A notification is only a hint: subscribers re-read the database, which stays the truth.
/// So a lost notification costs latency, never correctness, and the feed makes sure none is
/// lost for long:
/// - every (re)connection, and every failure, is announced as a hint (a catch-up read: what was
///   sent while nobody listened is never delivered);
/// - the session is pinged every `pingInterval`; a ping that fails or takes longer than
///   `pingInterval` ends it (a half-open socket never errors on its own), and it reconnects
///   with a growing back-off, 50 ms to 2 s;
/// - a hint comes every `pollInterval` in any case (the backstop, as SQLite's watcher has).
///
/// Sending goes through `NotifyCoalescer`: at most one `NOTIFY` in flight per process, then
/// `cooldown`; changes meanwhile fold into one more.
final class PostgresChangeFeed: Sendable {
    /// The channel: one per schema, so deployments (and tests) sharing a database do not wake
    /// each other. 63 bytes at most, as PostgreSQL's identifiers; ASCII lower-case letters,
    /// digits and `_`.
    let channel: String
    private let connector: PostgresConnector
    private let client: PostgresClient
    private let logger: Logger
    private let broadcaster = ChangeBroadcaster()
    private let listening = Mutex<Task<Void, Never>?>(nil)
    private let coalescer = Mutex(NotifyCoalescer())
    private let pollInterval: Duration
    private let pingInterval: Duration
    private let cooldown: Duration

    init(
        connector: PostgresConnector,
        client: PostgresClient,
        logger: Logger,
        pollInterval: Duration = .seconds(1),
        pingInterval: Duration = .seconds(5),
        cooldown: Duration = .milliseconds(5)
    ) {
        self.connector = connector
        self.client = client
        self.logger = logger
        self.pollInterval = pollInterval
        self.pingInterval = pingInterval
        self.cooldown = cooldown
        // ASCII letters, digits and `_` only: statements name it as a literal (`notifyColumn`).
        let suffix = (connector.schema ?? "changes").lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
        channel = String("code_runner_\(suffix)".prefix(63))
    }

    /// Hints that the database changed; the first subscription starts listening.
    func subscribe() -> AsyncStream<Void> {
        let stream = broadcaster.subscribe()
        listening.withLock { task in
            guard task == nil else { return }
            task = Task.detached { [self] in await listen() }
        }
        return stream
    }

    /// Announces a commit of this process (coalesced).
    func changed() {
        if coalescer.withLock({ $0.changed() }) == .send { startSending(from: .send) }
    }

    /// For a write about to be sent: the channel its statement notifies itself (a `pg_notify`
    /// delivered at its commit: one round trip less than a `NOTIFY` after it), or nil when a
    /// `NOTIFY` is in flight or cooling down — then the write goes without and the caller calls
    /// `changed()` after it. A non-nil answer must be followed by `carriedNotifyEnded()`.
    func channelForWrite() -> String? {
        coalescer.withLock { $0.carriedByWrite() } ? channel : nil
    }

    /// The write that carried the `NOTIFY` ended (committed or not): the cooldown starts.
    func carriedNotifyEnded() {
        startSending(from: coalescer.withLock { $0.sent() })
    }

    private func startSending(from first: NotifyCoalescer.Action) {
        guard first != .none else { return }
        Task.detached { [self] in
            var action = first
            while action != .none {
                switch action {
                case .send:
                    do {
                        _ = try await Deadline.run(within: .seconds(5), "NOTIFY") { [client, channel] in
                            try await client.query("SELECT pg_notify(\(channel), '')")
                        }
                    } catch {
                        logger.warning("NOTIFY failed; listeners fall back to their poll", metadata: ["error": "\(String(reflecting: error))"])
                    }
                    action = coalescer.withLock { $0.sent() }
                case .startCooldown:
                    try? await Task.sleep(for: cooldown)  // the spacing between NOTIFYs, not a synchronisation
                    action = coalescer.withLock { $0.cooledDown() }
                case .none:
                    break
                }
            }
        }
    }

    /// Listens until the process ends: reconnects after every failure, polls all along.
    private func listen() async {
        let poll = Task.detached { [broadcaster, pollInterval] in
            while !Task.isCancelled {
                do { try await Task.sleep(for: pollInterval) } catch { return }
                broadcaster.broadcast()
            }
        }
        defer { poll.cancel() }
        var backoff = Duration.milliseconds(50)
        var connectionID = 1_000_000
        while !Task.isCancelled {
            connectionID += 1
            do {
                let connection = try await connector.connect(id: connectionID, logger: logger)
                let began = ContinuousClock.now
                do {
                    defer {
                        // A session that lasted resets the back-off; one that fails at once
                        // (LISTEN refused: a standby, a transaction-mode pooler) does not spin.
                        if began.duration(to: .now) > .seconds(5) { backoff = .milliseconds(50) }
                    }
                    try await session(on: connection)
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                if !Task.isCancelled {
                    logger.warning(
                        "the wake-up session to PostgreSQL ended; reconnecting",
                        metadata: ["error": "\(String(reflecting: error))", "retry_in": "\(backoff)"]
                    )
                }
            }
            broadcaster.broadcast()  // whatever was sent while nobody listened
            try? await Task.sleep(for: backoff)  // back-off before reconnecting, not a synchronisation
            backoff = min(backoff * 2, .seconds(2))
        }
    }

    /// One `LISTEN` session: hints for every notification, a ping every `pingInterval`.
    private func session(on connection: PostgresConnection) async throws {
        try await connection.listen(on: channel) { notifications in
            broadcaster.broadcast()  // listening from now on: catch up on what came before
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { [broadcaster] in
                    for try await _ in notifications { broadcaster.broadcast() }
                    throw PostgresUnavailable("the wake-up session was closed")
                }
                // Ends the session on a failed or slow ping, and on cancellation, by closing
                // the connection: that also ends the notification sequence above.
                group.addTask { [pingInterval, logger] in
                    do {
                        while true {
                            try await Task.sleep(for: pingInterval)
                            _ = try await Deadline.run(within: pingInterval, "ping of the wake-up session") {
                                try await connection.query("SELECT 1", logger: logger)
                            }
                        }
                    } catch {
                        try? await connection.close()
                        throw error
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    /// Stops listening (the store closes).
    func stop() {
        listening.withLock { $0?.cancel() }
    }

    deinit {
        stop()
    }
}
