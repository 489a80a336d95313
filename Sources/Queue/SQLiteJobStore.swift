import Foundation
import GRDB

/// The job queue on one SQLite file (system libsqlite3 through GRDB), shared by the API and any
/// number of worker processes on one host.
///
/// WAL journal, `synchronous = NORMAL`, a 10 s busy wait (`BusyWait`), and every write is a single
/// statement or one short `BEGIN IMMEDIATE` transaction — never held across a job's execution.
/// Hot statements (claim, complete, heartbeat) are cached per connection. The SQL of the `jobs`
/// table is in `JobStatements` (its life, its lease columns), that of `workers` in
/// `WorkerStatements`; the methods here put them together into transactions.
public final class SQLiteJobStore: JobStore {
    private let pool: DatabasePool
    /// The connection pool, for the extensions of this store in other files.
    var databasePool: DatabasePool { pool }
    /// The database file.
    public let path: String
    private let watcher: DatabaseChangeWatcher
    /// Group commit for `complete`.
    private let completions: CompletionBatcher

    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    /// - Parameter safetyInterval: how often the change watcher looks at `PRAGMA data_version`
    ///   when no write to the database files was seen.
    public init(path: String, safetyInterval: Duration = .milliseconds(250)) throws {
        self.path = path
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = BusyWait.mode
        configuration.label = "jobs"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
        }
        // Processes opening a fresh file at the same moment serialise here: switching to WAL
        // cannot wait for a busy lock (SQLite just keeps the old mode), so it must not race.
        let (openedPool, openedWatcher) = try OpeningLock.holding(path + ".open-lock") {
            let pool = try DatabasePool(path: path, configuration: configuration)
            try Migrations.apply(to: pool)
            return (pool, try DatabaseChangeWatcher(path: path, safetyInterval: safetyInterval))
        }
        pool = openedPool
        watcher = openedWatcher
        completions = CompletionBatcher { [openedPool] items in
            try await openedPool.write { db in try JobStatements.complete(items, in: db) }
        }
    }

    public func changes() -> AsyncStream<Void> {
        watcher.subscribe()
    }

    public func deploymentID() async throws -> String {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM deployment WHERE key = 'id'") ?? "unknown"
        }
    }

    // MARK: - API side

    public func enqueue(_ newJob: NewJob, maxQueueDepth: Int?) async throws -> EnqueueOutcome {
        try await pool.write { db in
            if let key = newJob.idempotencyKey,
                let row = try JobStatements.find(idempotencyKey: key, owner: newJob.owner).fetchOne(db)
            {
                let existing = try Job(row: row)
                let requestHash: String? = row["request_hash"]
                return requestHash == newJob.requestHash ? .repeated(existing) : .conflict(existing)
            }
            if let limit = maxQueueDepth, try JobStatements.queueDepth().fetchOne(db) ?? 0 >= limit {
                return .queueFull
            }
            if let quota = newJob.quota, let refusal = try Self.refusal(of: newJob.owner, by: quota, in: db) {
                return refusal
            }
            let fairTime = try JobStatements.fairTime(of: newJob).fetchOne(db) ?? 0
            guard let row = try JobStatements.enqueue(newJob, fairTime: fairTime).fetchOne(db) else {
                throw DatabaseError(
                    resultCode: .SQLITE_CONSTRAINT,
                    message: "a job with unique key \(newJob.uniqueKey ?? "") exists"
                )
            }
            return .created(try Job(row: row))
        }
    }

    /// The owner's quota's answer to one more job, read in the enqueue's transaction; nil: within it.
    private static func refusal(of owner: String, by quota: OwnerQuota, in db: Database) throws -> EnqueueOutcome? {
        if let limit = quota.maxQueued, try JobStatements.queuedCount(owner: owner, upTo: limit).fetchOne(db) ?? 0 >= limit {
            return .ownerQueueFull(limit: limit)
        }
        if let limit = quota.runsPerMinute, let left = try JobStatements.rateWindowLeft(owner: owner, count: limit).fetchOne(db),
            left > 0
        {
            return .rateLimited(limit: limit, retryAfter: left)
        }
        return nil
    }

    public func job(publicID: String, owner: String) async throws -> Job? {
        try await pool.read { db in
            try JobStatements.find(publicID: publicID, owner: owner).fetchOne(db).map(Job.init(row:))
        }
    }

    public func jobs(owner: String, state: JobState?, limit: Int, before: String?) async throws -> [Job] {
        try await pool.read { db in
            try JobStatements.list(owner: owner, state: state, limit: limit, before: before).fetchAll(db).map(Job.init(row:))
        }
    }

    public func finishedJobs(among ids: [Int64]) async throws -> [Job] {
        guard !ids.isEmpty else { return [] }
        return try await pool.read { db in
            try JobStatements.finished(among: ids).fetchAll(db).map(Job.init(row:))
        }
    }

    public func cancel(publicID: String, owner: String) async throws -> CancelOutcome {
        try await pool.write { db in
            guard let row = try JobStatements.find(publicID: publicID, owner: owner).fetchOne(db) else {
                return .notFound
            }
            let job = try Job(row: row)
            guard !job.state.isFinal else { return .alreadyFinished(job) }
            return .cancelled(try JobStatements.cancel(id: job.id).fetchOne(db).map(Job.init(row:)) ?? job)
        }
    }

    public func counts() async throws -> QueueCounts {
        try await pool.read { db in
            QueueCounts(
                queued: try JobStatements.count(.queued).fetchOne(db) ?? 0,
                running: try JobStatements.count(.running).fetchOne(db) ?? 0
            )
        }
    }

    public func countsByOwner() async throws -> [OwnerCounts] {
        try await pool.read { db in
            try JobStatements.countsByOwner().fetchAll(db).map { row in
                OwnerCounts(owner: row["owner"], queued: row["queued"], running: row["running"])
            }
        }
    }

    public func replaceTenants(_ tenants: [Tenant]) async throws {
        try await pool.write { db in
            try db.execute(literal: TenantStatements.deleteAll)
            for tenant in tenants { try db.execute(literal: TenantStatements.insert(tenant)) }
        }
    }

    public func tenants() async throws -> [Tenant] {
        try await pool.read { db in try TenantStatements.all().fetchAll(db).map(Tenant.init(row:)) }
    }

    public func liveWorkers(within seconds: Double) async throws -> [WorkerStatus] {
        try await pool.read { db in
            try WorkerStatements.live(within: seconds).fetchAll(db).map(WorkerStatus.init(row:))
        }
    }

    // MARK: - worker side

    /// An empty claim takes the write lock: probe first.
    public var probesBeforeClaiming: Bool { true }

    public func hasClaimableJobs() async throws -> Bool {
        try await pool.read { db in
            try JobStatements.anyClaimable().fetchOne(db) ?? false
        }
    }

    public func claim(worker: String, limit: Int, leaseSeconds: Double) async throws -> [ClaimedJob] {
        guard limit > 0 else { return [] }
        return try await pool.writeWithoutTransaction { db in
            let capped = try TenantStatements.anyCap().fetchOne(db) ?? false
            let claim =
                capped
                ? JobStatements.claimCapped(worker: worker, limit: limit, leaseSeconds: leaseSeconds)
                : JobStatements.claim(worker: worker, limit: limit, leaseSeconds: leaseSeconds)
            return try claim.fetchAll(db).map { row in
                ClaimedJob(job: try Job(row: row), lease: try Lease(row: row))
            }.sorted { $0.job.id < $1.job.id }
        }
    }

    public func heartbeat(_ status: WorkerStatus, holding leases: [Lease], leaseSeconds: Double) async throws -> Set<Lease> {
        let images = String(decoding: try JSONEncoder().encode(status.images), as: UTF8.self)
        return try await pool.write { db in
            try db.executeCached(WorkerStatements.upsert(status, images: images))
            guard !leases.isEmpty else { return [] }
            let rows = try JobStatements.extendLeases(leases, worker: status.id, leaseSeconds: leaseSeconds).fetchAll(db)
            return Set(try rows.map(Lease.init(row:))).intersection(leases)
        }
    }

    public func currentLeases(among leases: [Lease]) async throws -> Set<Lease> {
        guard !leases.isEmpty else { return [] }
        return try await pool.read { db in
            let rows = try JobStatements.leases(among: leases.map(\.jobID)).fetchAll(db)
            return Set(try rows.map(Lease.init(row:))).intersection(leases)
        }
    }

    /// Completions arriving together are written in one transaction (`CompletionBatcher`).
    public func complete(_ lease: Lease, result: Data) async throws -> Bool {
        try await completions.complete(lease, result: result)
    }

    public func fail(_ lease: Lease, failure: JobFailure, retry: Bool) async throws -> Bool {
        try await pool.writeWithoutTransaction { db in
            try JobStatements.fail(lease, failure: failure, retry: retry, in: db)
        }
    }

    public func recordDelivery(_ lease: Lease, of jobID: Int64, outcome: DeliveryOutcome) async throws -> Bool {
        try await pool.write { db in
            let held: Bool
            switch outcome {
            case .delivered:
                held = try JobStatements.complete([(lease, Data("{}".utf8))], in: db).first ?? false
            case .retry(let seconds, _, _):
                held = try JobStatements.retryLater(lease, after: seconds, in: db)
            case .gaveUp(_, let error):
                held = try JobStatements.fail(lease, failure: JobFailure(statusCode: 502, detail: error), retry: false, in: db)
            }
            guard held else { return false }
            try db.executeCached(JobStatements.recordCallback(of: jobID, outcome))
            return true
        }
    }

    /// With the release, the output the given-back attempt stored goes (its attempt number is
    /// used again by the next claim; `OutputStatements.discardReleased`).
    public func release(_ lease: Lease) async throws -> Bool {
        try await pool.write { db in
            guard try JobStatements.release(lease, in: db) else { return false }
            try db.executeCached(OutputStatements.discardReleased(jobID: lease.jobID))
            return true
        }
    }

    public func reapExpiredLeases() async throws -> Int {
        let expired = try await pool.read { db in
            try JobStatements.anyExpired().fetchOne(db) ?? false
        }
        guard expired else { return 0 }  // never write (and wake everybody) when nothing expired
        return try await pool.write { db in
            let requeued = try db.executeCached(JobStatements.requeueExpired())
            return requeued + (try db.executeCached(JobStatements.failExpired()))
        }
    }

    public func expireLeases(ofWorker id: String) async throws -> Int {
        try await pool.write { db in try db.executeCached(JobStatements.expireLeases(worker: id)) }
    }

    public func removeWorker(id: String) async throws {
        try await pool.write { db in
            _ = try db.executeCached(WorkerStatements.remove(id: id))
        }
    }
}
