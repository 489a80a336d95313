import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The job queue on a PostgreSQL server, shared by API and worker processes on any number of
/// hosts: the same semantics as `SQLiteJobStore` (the conformance suite in `Tests/QueueTests`
/// runs every behaviour against both), written for concurrent writers.
///
/// - Queries go through postgres-nio's `PostgresClient` (a pool of `DATABASE_POOL_SIZE`
///   connections), wake-ups through one more, dedicated session (`PostgresChangeFeed`).
/// - The statements are in `PostgresJobStatements` (and, for the other tables, in the files of
///   their role); this type puts them together into transactions.
/// - Every call is bounded by `callDeadline`, 5 s (`Deadline`): while the server is unreachable,
///   callers get `PostgresUnavailable` (the API's 503 with `Retry-After`) within it, and the pool
///   reconnects by itself once the server is back; a restart of the server (a fraction of a
///   second) only delays the calls made meanwhile.
/// - A transaction that loses a deadlock or a serialisation conflict is retried (twice).
public final class PostgresJobStore: JobStore {
    let client: PostgresClient
    let logger: Logger
    let feed: PostgresChangeFeed
    /// How long any call may take before the caller hears `PostgresUnavailable`.
    static let callDeadline: Duration = .seconds(5)
    var callDeadline: Duration { Self.callDeadline }
    private let running: Task<Void, Never>
    private let outage = Mutex<ContinuousClock.Instant?>(nil)
    /// The last answer of `capsExist`, and when it was read.
    private let caps = Mutex<(exist: Bool, readAt: ContinuousClock.Instant)?>(nil)
    /// How long after an outage the reaper waits (`LEASE_SECONDS`): the holders of leases that
    /// expired while nobody could heartbeat renew them first.
    let outageGrace: Double
    private let completions: CompletionBatcher

    /// Connects, migrates and starts the pool. Throws, with one clear line in
    /// `PostgresStartFailure`, when the server cannot be reached, refuses the credentials or
    /// cannot be migrated: a process does not start without its database.
    /// - Parameter schema: a schema of its own (the tests'), created when missing; nil uses the
    ///   server's default search path.
    /// - Parameter outageGrace: see `lastOutage`; the deployment's `LEASE_SECONDS`.
    public init(location: PostgresLocation, poolSize: Int = 10, schema: String? = nil, outageGrace: Double = 10, logger: Logger) async throws {
        let connector = PostgresConnector(location: location, schema: schema, poolSize: poolSize)
        do {
            let connection = try await connector.connect(id: 1, logger: logger)
            do {
                try await PostgresMigrations.apply(on: connection, schema: schema, logger: logger)
            } catch {
                try? await connection.close()
                throw error
            }
            try await connection.close()
        } catch {
            throw PostgresStartFailure(location: location, error: error)
        }
        let client = PostgresClient(configuration: connector.clientConfiguration(), backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.outageGrace = outageGrace
        running = Task.detached { await client.run() }
        feed = PostgresChangeFeed(connector: connector, client: client, logger: logger)
        // The batch's own deadline: a write that hangs must not hold up the completions after it.
        completions = CompletionBatcher { [client, logger, feed] items in
            try await Deadline.run(within: Self.callDeadline, "storing results") {
                try await Self.reconnecting(true, logger: logger) {
                    // A lone result (the usual case below full load, and the one a waiting
                    // POST /run waits for) is one statement in its own transaction: one round
                    // trip instead of three (BEGIN, UPDATE, COMMIT), the same fenced write,
                    // and it carries the waiters' wake-up when it can.
                    if items.count == 1, let (lease, result) = items.first {
                        return [
                            try await Self.announcing(in: feed) { channel in
                                let query = try PostgresJobStatements.complete(lease, result: result, notifying: channel)
                                return !(try await Self.statement(client: client, logger: logger, query)).isEmpty
                            }
                        ]
                    }
                    defer { feed.changed() }
                    return try await Self.transaction(client: client, logger: logger) { connection in
                        var stored: [Bool] = []
                        for (lease, result) in items {
                            let rows = try await connection.query(try PostgresJobStatements.complete(lease, result: result), logger: logger)
                                .collect()
                            stored.append(!rows.isEmpty)
                        }
                        return stored
                    }
                }
            }
        }
    }

    /// Stops listening and closes the pool (tests; a process just exits).
    public func close() {
        feed.stop()
        running.cancel()
    }

    deinit {
        close()
    }

    // MARK: - running statements

    /// The rows of one statement, within the deadline.
    func rows(_ query: PostgresQuery, _ what: String, retrying: Bool = true) async throws -> [PostgresRow] {
        try await noticingOutages {
            try await Deadline.run(within: callDeadline, what) { [client, logger] in
                try await Self.reconnecting(retrying, logger: logger) { try await client.query(query, logger: logger).collect() }
            }
        }
    }

    public var lastOutage: ContinuousClock.Instant? { outage.withLock { $0 } }

    /// Runs a call, remembering when it found the server unavailable (`lastOutage`).
    func noticingOutages<Value>(_ call: () async throws -> Value) async throws -> Value {
        do {
            return try await call()
        } catch  where PostgresErrorCode.unavailability(error) != nil {
            outage.withLock { $0 = .now }
            throw error
        }
    }

    /// Runs `body` in one transaction, within the deadline; retried after a deadlock or a
    /// serialisation failure, and after a lost connection (see `reconnecting`). Throws the
    /// body's (or the commit's) own error.
    func inTransaction<Value: Sendable>(
        _ what: String,
        retrying: Bool = true,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Value
    ) async throws -> Value {
        try await noticingOutages {
            try await Deadline.run(within: callDeadline, what) { [client, logger] in
                try await Self.reconnecting(retrying, logger: logger) { try await Self.transaction(client: client, logger: logger, body) }
            }
        }
    }

    /// Runs `operation` again, after 50 ms, 100 ms, … (at most 1 s apart), while it fails
    /// because the server is unavailable — a connection closed by a restart of the server, a
    /// refused connection — until it succeeds, fails otherwise, or the caller's deadline
    /// cancels it. So a restart of the server (a fraction of a second) costs a caller a delay,
    /// not an error. What runs again must be safe to run twice, as its first commit may have
    /// happened with the answer lost: reads; writes fenced on a lease (a completion run again
    /// finds its job completed and says "not stored", which is harmless); idempotent upserts; an
    /// enqueue (its public id is chosen once, so the second insert meets the first). Writes that
    /// would answer wrongly the second time pass `retrying: false`: cancel, the build request,
    /// forgetting images, adding metric samples.
    static func reconnecting<Value: Sendable>(
        _ retrying: Bool,
        logger: Logger,
        _ operation: () async throws -> Value
    ) async throws -> Value {
        var pause = Duration.milliseconds(50)
        while true {
            do {
                return try await operation()
            } catch let error where retrying && !Task.isCancelled && PostgresErrorCode.unavailability(error) != nil {
                logger.debug("PostgreSQL unavailable; trying again", metadata: ["error": "\(String(reflecting: error))"])
                try await Task.sleep(for: pause)  // back-off between attempts, bounded by the caller's deadline
                pause = min(pause * 2, .seconds(1))
            }
        }
    }

    static func transaction<Value: Sendable>(
        client: PostgresClient,
        logger: Logger,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Value
    ) async throws -> Value {
        var attempt = 1
        while true {
            do {
                return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
            } catch let error as PostgresTransactionError {
                let cause = error.closureError ?? error.commitError ?? error.beginError ?? error
                guard attempt < 3, PostgresErrorCode.isTransient(cause) else { throw cause }
                attempt += 1
                logger.debug("transaction retried", metadata: ["error": "\(String(reflecting: cause))"])
            }
        }
    }

    /// The rows of one statement, which is its own transaction; retried after a deadlock or a
    /// serialisation failure, as `transaction` retries its body.
    static func statement(client: PostgresClient, logger: Logger, _ query: PostgresQuery) async throws -> [PostgresRow] {
        var attempt = 1
        while true {
            do {
                return try await client.query(query, logger: logger).collect()
            } catch let error where attempt < 3 && PostgresErrorCode.isTransient(error) {
                attempt += 1
                logger.debug("statement retried", metadata: ["error": "\(String(reflecting: error))"])
            }
        }
    }

    /// Runs a write that others may wait for, then wakes them (coalesced `NOTIFY`).
    func announcing<Value>(_ write: () async throws -> Value) async throws -> Value {
        let value = try await write()
        feed.changed()
        return value
    }

    /// Runs a write that others may wait for and that can carry their wake-up itself: `write`
    /// gets the channel to notify in its statement (`PostgresJobStatements.notifyColumn`) when no
    /// `NOTIFY` of this process is in flight, and nil when one is — then the wake-up is sent
    /// after it, coalesced, as `announcing(_:)` does. One round trip less for a lone write.
    static func announcing<Value>(in feed: PostgresChangeFeed, _ write: (String?) async throws -> Value) async throws -> Value {
        guard let channel = feed.channelForWrite() else {
            let value = try await write(nil)
            feed.changed()
            return value
        }
        defer { feed.carriedNotifyEnded() }
        return try await write(channel)
    }

    // MARK: - every process

    public func changes() -> AsyncStream<Void> {
        feed.subscribe()
    }

    public func deploymentID() async throws -> String {
        let rows = try await rows("SELECT value FROM deployment WHERE key = 'id'", "reading the deployment id")
        return try rows.first?.decode(String.self) ?? "unknown"
    }

    public func liveWorkers(within seconds: Double) async throws -> [WorkerStatus] {
        try await rows(PostgresWorkerStatements.live(within: seconds), "listing workers").map(WorkerStatus.init(postgres:))
    }

    // MARK: - API side

    public func enqueue(_ newJob: NewJob, maxQueueDepth: Int?) async throws -> EnqueueOutcome {
        let publicID = UUID().uuidString.lowercased()
        do {
            return try await Self.announcing(in: feed) { channel in
                // Without a depth limit or a key to check, the insert is the whole enqueue: one
                // statement, one round trip (its own transaction).
                let quota = newJob.quota.flatMap { $0.isEmpty ? nil : $0 }
                if maxQueueDepth == nil && newJob.idempotencyKey == nil && quota == nil {
                    let query = try PostgresJobStatements.enqueue(newJob, publicID: publicID, notifying: channel)
                    return try Self.created(from: try await rows(query, "enqueueing a job"), newJob)
                }
                return try await inTransaction("enqueueing a job") { [logger] connection in
                    // The global lock covers the owner's quota too; an owner's quota alone
                    // serialises only that owner's enqueues.
                    if maxQueueDepth != nil {
                        try await connection.query(PostgresJobStatements.enqueueLock(), logger: logger)
                    } else if quota != nil {
                        try await connection.query(PostgresJobStatements.ownerEnqueueLock(newJob.owner), logger: logger)
                    }
                    if let key = newJob.idempotencyKey,
                        let outcome = try await Self.repeatedRequest(key: key, of: newJob, on: connection, logger: logger)
                    {
                        return outcome
                    }
                    if let limit = maxQueueDepth {
                        let queued = try await connection.query(PostgresJobStatements.queueDepth(), logger: logger).collect()
                        if try queued.first?.decode(Int.self) ?? 0 >= limit { return .queueFull }
                    }
                    if let quota, let refusal = try await Self.refusal(of: newJob.owner, by: quota, on: connection, logger: logger) {
                        return refusal
                    }
                    let query = try PostgresJobStatements.enqueue(newJob, publicID: publicID, notifying: channel)
                    return try Self.created(from: try await connection.query(query, logger: logger).collect(), newJob)
                }
            }
        } catch let error where PostgresErrorCode.of(error) == PostgresErrorCode.uniqueViolation {
            // This call's own insert, committed by an attempt whose answer was lost.
            if let stored = try await job(publicID: publicID, owner: newJob.owner) { return .created(stored) }
            // Another API host stored a job under this idempotency key since this one looked.
            guard let key = newJob.idempotencyKey else { throw error }
            let outcome = try await inTransaction("reading a repeated request") { [logger] connection in
                try await Self.repeatedRequest(key: key, of: newJob, on: connection, logger: logger)
            }
            guard let outcome else { throw error }
            return outcome
        }
    }

    /// As `SQLiteJobStore`'s: the owner's quota's answer to one more job, under the enqueue's lock.
    private static func refusal(
        of owner: String,
        by quota: OwnerQuota,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> EnqueueOutcome? {
        if let limit = quota.maxQueued {
            let rows = try await connection.query(PostgresJobStatements.queuedCount(owner: owner, upTo: limit), logger: logger).collect()
            if try rows.first?.decode(Int.self) ?? 0 >= limit { return .ownerQueueFull(limit: limit) }
        }
        if let limit = quota.runsPerMinute {
            let rows = try await connection.query(PostgresJobStatements.rateWindowLeft(owner: owner, count: limit), logger: logger)
                .collect()
            if let left = try rows.first?.decode(Double.self), left > 0 { return .rateLimited(limit: limit, retryAfter: left) }
        }
        return nil
    }

    /// The job the insert returned; no row means a job with its unique key exists.
    private static func created(from rows: [PostgresRow], _ newJob: NewJob) throws -> EnqueueOutcome {
        guard let row = rows.first else { throw PostgresUnreadableRow("a job with unique key \(newJob.uniqueKey ?? "") exists") }
        return .created(try Job(postgres: row))
    }

    /// The job stored under the owner's idempotency key, as a repeat or a conflict; nil when none is.
    private static func repeatedRequest(
        key: String,
        of newJob: NewJob,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> EnqueueOutcome? {
        let rows = try await connection.query(PostgresJobStatements.find(idempotencyKey: key, owner: newJob.owner), logger: logger).collect()
        guard let row = rows.first else { return nil }
        let existing = try Job(postgres: row)
        let requestHash = try row.makeRandomAccess()["request_hash"].decode(String?.self)
        return requestHash == newJob.requestHash ? .repeated(existing) : .conflict(existing)
    }

    public func job(publicID: String, owner: String) async throws -> Job? {
        try await rows(PostgresJobStatements.find(publicID: publicID, owner: owner), "reading a job").first.map(Job.init(postgres:))
    }

    public func jobs(owner: String, state: JobState?, limit: Int, before: String?) async throws -> [Job] {
        try await rows(PostgresJobStatements.list(owner: owner, state: state, limit: limit, before: before), "listing jobs")
            .map(Job.init(postgres:))
    }

    public func finishedJobs(among ids: [Int64]) async throws -> [Job] {
        guard !ids.isEmpty else { return [] }
        return try await rows(PostgresJobStatements.finished(among: ids), "reading finished jobs").map(Job.init(postgres:))
    }

    /// One statement cancels the job only while it is queued or running, so a completion
    /// written a moment before on another host is never overwritten.
    public func cancel(publicID: String, owner: String) async throws -> CancelOutcome {
        let cancelled = try await announcing {
            // Not run again after a lost answer: the second run would find the job cancelled and
            // answer "already finished" for a cancel that worked.
            try await rows(PostgresJobStatements.cancel(publicID: publicID, owner: owner), "cancelling a job", retrying: false)
        }
        if let row = cancelled.first { return .cancelled(try Job(postgres: row)) }
        guard let job = try await job(publicID: publicID, owner: owner) else { return .notFound }
        return .alreadyFinished(job)
    }

    public func counts() async throws -> QueueCounts {
        let rows = try await rows(
            """
            SELECT count(*) FILTER (WHERE state = \(unescaped: PostgresJobStatements.literal(.queued))),
                count(*) FILTER (WHERE state = \(unescaped: PostgresJobStatements.literal(.running)))
            FROM jobs WHERE state IN (\(unescaped: PostgresJobStatements.literal(.queued)), \(unescaped: PostgresJobStatements.literal(.running)))
            """,
            "counting jobs"
        )
        let (queued, running) = try rows.first?.decode((Int, Int).self) ?? (0, 0)
        return QueueCounts(queued: queued, running: running)
    }

    public func countsByOwner() async throws -> [OwnerCounts] {
        try await rows(PostgresJobStatements.countsByOwner(), "counting jobs by owner").map { row in
            let (owner, queued, running) = try row.decode((String, Int, Int).self)
            return OwnerCounts(owner: owner, queued: queued, running: running)
        }
    }

    public func replaceTenants(_ tenants: [Tenant]) async throws {
        try await inTransaction("recording the keys' caps") { [logger] connection in
            try await connection.query(PostgresJobStatements.deleteTenants, logger: logger)
            for tenant in tenants { try await connection.query(PostgresJobStatements.insert(tenant), logger: logger) }
        }
        caps.withLock { $0 = nil }
    }

    public func tenants() async throws -> [Tenant] {
        try await rows(PostgresJobStatements.tenants, "reading the keys' caps").map { row in
            let (owner, name, maxRunning) = try row.decode((String, String, Int?).self)
            return Tenant(owner: owner, name: name, maxRunning: maxRunning)
        }
    }

    // MARK: - worker side

    /// An empty claim writes nothing: claim at once.
    public var probesBeforeClaiming: Bool { false }

    public func hasClaimableJobs() async throws -> Bool {
        try await rows(PostgresJobStatements.anyClaimable(), "probing for jobs").first?.decode(Bool.self) ?? false
    }

    public func claim(worker: String, limit: Int, leaseSeconds: Double) async throws -> [ClaimedJob] {
        guard limit > 0 else { return [] }
        let capped = try await capsExist()
        let giveBack: @Sendable ([PostgresRow]) async -> Void = { [client, logger] rows in
            // Claimed after this worker stopped waiting: give the jobs back (no attempt used).
            for lease in rows.compactMap({ try? Lease(postgres: $0) }) {
                do {
                    try await client.query(PostgresJobStatements.release(lease), logger: logger)
                } catch {
                    logger.warning("a late claim could not be given back; its lease will expire", metadata: ["error": "\(error)"])
                }
            }
        }
        let rows = try await noticingOutages {
            try await Deadline.run(within: callDeadline, "claiming jobs", lateSuccess: giveBack) { [client, logger] in
                try await Self.reconnecting(true, logger: logger) {
                    guard capped else {
                        let query = PostgresJobStatements.claim(worker: worker, limit: limit, leaseSeconds: leaseSeconds)
                        return try await client.query(query, logger: logger).collect()
                    }
                    return try await Self.transaction(client: client, logger: logger) { connection in
                        try await connection.query(PostgresJobStatements.claimLock(), logger: logger)
                        let query = PostgresJobStatements.claimCapped(worker: worker, limit: limit, leaseSeconds: leaseSeconds)
                        return try await connection.query(query, logger: logger).collect()
                    }
                }
            }
        }
        return try rows.map { row in ClaimedJob(job: try Job(postgres: row), lease: try Lease(postgres: row)) }
            .sorted { $0.job.id < $1.job.id }
    }

    /// Whether some owner has a cap on running jobs (`Tenant.maxRunning`), read at most once a
    /// second (`capsRefresh`): claims then take the serialised `claimCapped`. So a cap the API
    /// writes applies to claims within a second; until then claims run as before.
    private func capsExist() async throws -> Bool {
        if let known = caps.withLock({ $0 }), known.readAt.duration(to: .now) < Self.capsRefresh { return known.exist }
        let exist = try await rows(PostgresJobStatements.anyCap(), "reading caps").first?.decode(Bool.self) ?? false
        caps.withLock { $0 = (exist, .now) }
        return exist
    }

    static let capsRefresh: Duration = .seconds(1)

    public func heartbeat(_ status: WorkerStatus, holding leases: [Lease], leaseSeconds: Double) async throws -> Set<Lease> {
        let images = String(decoding: try JSONEncoder().encode(status.images), as: UTF8.self)
        return try await inTransaction("recording a heartbeat") { [logger] connection in
            try await connection.query(PostgresWorkerStatements.upsert(status, images: images), logger: logger)
            guard !leases.isEmpty else { return [] }
            let rows = try await connection.query(
                PostgresJobStatements.extendLeases(leases, worker: status.id, leaseSeconds: leaseSeconds),
                logger: logger
            ).collect()
            return Set(try rows.map(Lease.init(postgres:))).intersection(leases)
        }
    }

    public func currentLeases(among leases: [Lease]) async throws -> Set<Lease> {
        guard !leases.isEmpty else { return [] }
        let rows = try await rows(PostgresJobStatements.leases(among: leases.map(\.jobID)), "reading leases")
        return Set(try rows.map(Lease.init(postgres:))).intersection(leases)
    }

    /// Completions arriving together are written in one transaction (`CompletionBatcher`).
    /// The batch announces what it stored (a lone result carries its `NOTIFY`).
    public func complete(_ lease: Lease, result: Data) async throws -> Bool {
        try await noticingOutages {
            try await Deadline.run(within: callDeadline, "storing a result") { [completions] in
                try await completions.complete(lease, result: result)
            }
        }
    }

    public func fail(_ lease: Lease, failure: JobFailure, retry: Bool) async throws -> Bool {
        try await announcing {
            !(try await rows(PostgresJobStatements.fail(lease, failure: failure, retry: retry), "recording a failure").isEmpty)
        }
    }

    public func recordDelivery(_ lease: Lease, of jobID: Int64, outcome: DeliveryOutcome) async throws -> Bool {
        try await inTransaction("recording a webhook delivery") { [logger] connection in
            let transition: PostgresQuery
            switch outcome {
            case .delivered: transition = try PostgresJobStatements.complete(lease, result: Data("{}".utf8))
            case .retry(let seconds, _, _): transition = PostgresJobStatements.retryLater(lease, after: seconds)
            case .gaveUp(_, let error):
                transition = PostgresJobStatements.fail(lease, failure: JobFailure(statusCode: 502, detail: error), retry: false)
            }
            guard !(try await connection.query(transition, logger: logger).collect()).isEmpty else { return false }
            try await connection.query(PostgresJobStatements.recordCallback(of: jobID, outcome), logger: logger)
            return true
        }
    }

    /// With the release, the output the given-back attempt stored goes (its attempt number is
    /// used again by the next claim; `PostgresOutputStatements.discardReleased`).
    public func release(_ lease: Lease) async throws -> Bool {
        try await announcing {
            try await inTransaction("releasing a job") { [logger] connection in
                let released = try await connection.query(PostgresJobStatements.release(lease), logger: logger).collect()
                guard !released.isEmpty else { return false }
                try await connection.query(PostgresOutputStatements.discardReleased(jobID: lease.jobID), logger: logger)
                return true
            }
        }
    }

    /// Reaps nothing for `outageGrace` after an outage (see `lastOutage`).
    public func reapExpiredLeases() async throws -> Int {
        guard !hadOutage(within: outageGrace) else { return 0 }
        let expired = try await rows(PostgresJobStatements.anyExpired(), "probing for expired leases").first?.decode(Bool.self) ?? false
        guard expired else { return 0 }  // never write (and wake everybody) when nothing expired
        return try await announcing {
            try await inTransaction("reaping expired leases") { [logger] connection in
                let requeued = try await connection.query(PostgresJobStatements.requeueExpired(), logger: logger).collect().count
                return requeued + (try await connection.query(PostgresJobStatements.failExpired(), logger: logger).collect().count)
            }
        }
    }

    public func expireLeases(ofWorker id: String) async throws -> Int {
        // In a transaction: a deadlock with a reaper is retried (`transaction`), not a failed start.
        try await inTransaction("expiring a previous process's leases") { [logger] connection in
            try await connection.query(PostgresJobStatements.expireLeases(worker: id), logger: logger).collect().count
        }
    }

    public func removeWorker(id: String) async throws {
        _ = try await rows(PostgresWorkerStatements.remove(id: id), "removing a worker")
    }
}

/// Why a process could not open its PostgreSQL database, in one line without the password.
public struct PostgresStartFailure: Error, CustomStringConvertible {
    public var location: PostgresLocation
    public var error: any Error

    public var description: String {
        "cannot use the PostgreSQL database \(location): \(PostgresErrorCode.explanation(of: error))"
    }
}

/// Quoting of identifiers that cannot be bound (a schema's name).
enum PostgresIdentifier {
    static func quoted(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
