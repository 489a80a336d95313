import Foundation
import GRDB

/// The job queue on one SQLite file (system libsqlite3 through GRDB), shared by the API and any
/// number of worker processes on one host.
///
/// WAL journal, `synchronous = NORMAL`, a 10 s busy wait (`BusyWait`), and every write is a single
/// statement or one short `BEGIN IMMEDIATE` transaction — never held across a job's execution.
/// Hot statements (claim, complete, heartbeat) are cached per connection.
public final class SQLiteJobStore: JobStore {
    private let pool: DatabasePool
    /// The connection pool, for the extensions of this store in other files.
    var databasePool: DatabasePool { pool }
    /// The database file.
    public let path: String
    private let watcher: DatabaseChangeWatcher
    /// Group commit for `complete`.
    private let completions: CompletionBatcher
    private let now = DatabaseClock.now

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
        completions = CompletionBatcher(pool: openedPool)
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
        let now = self.now
        return try await pool.write { db in
            if let key = newJob.idempotencyKey,
                let existing = try Self.fetchJob(
                    db, where: "owner = ? AND idempotency_key = ?", [newJob.owner, key])
            {
                let sameRequest = try String.fetchOne(
                    db, sql: "SELECT request_hash FROM jobs WHERE id = ?", arguments: [existing.id])
                return sameRequest == newJob.requestHash ? .repeated(existing) : .conflict(existing)
            }
            if let limit = maxQueueDepth,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs WHERE state = 'queued'") ?? 0 >= limit
            {
                return .queueFull
            }
            try db.cachedStatement(
                sql: """
                    INSERT INTO jobs (public_id, kind, state, owner, idempotency_key, request_hash,
                        unique_key, payload, max_attempts, run_at, created_at)
                    VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, \(now), \(now))
                    """
            ).execute(arguments: [
                UUID().uuidString.lowercased(), newJob.kind.rawValue, newJob.owner, newJob.idempotencyKey,
                newJob.requestHash, newJob.uniqueKey, newJob.payload, newJob.maxAttempts,
            ])
            guard let job = try Self.fetchJob(db, where: "id = ?", [db.lastInsertedRowID]) else {
                throw DatabaseError(message: "inserted job vanished")
            }
            return .created(job)
        }
    }

    public func job(publicID: String, owner: String) async throws -> Job? {
        try await pool.read { db in
            try Self.fetchJob(db, where: "public_id = ? AND owner = ?", [publicID, owner])
        }
    }

    public func jobs(owner: String, state: JobState?, limit: Int, before: String?) async throws -> [Job] {
        try await pool.read { db in
            var conditions = ["owner = ?"]
            var arguments: [(any DatabaseValueConvertible)?] = [owner]
            if let state {
                conditions.append("state = ?")
                arguments.append(state.rawValue)
            }
            if let before {
                conditions.append("id < coalesce((SELECT id FROM jobs WHERE public_id = ? AND owner = ?), 0)")
                arguments.append(before)
                arguments.append(owner)
            }
            let sql = "SELECT * FROM jobs WHERE \(conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT ?"
            arguments.append(limit)
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map(Job.init(row:))
        }
    }

    public func finishedJobs(among ids: [Int64]) async throws -> [Job] {
        guard !ids.isEmpty else { return [] }
        return try await pool.read { db in
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ",")
            return try Row.fetchAll(
                db,
                sql: "SELECT * FROM jobs WHERE id IN (\(marks)) AND state IN (\(JobState.finalStatesSQL))",
                arguments: StatementArguments(ids)
            ).map(Job.init(row:))
        }
    }

    public func cancel(publicID: String, owner: String) async throws -> CancelOutcome {
        let now = self.now
        return try await pool.write { db in
            guard let job = try Self.fetchJob(db, where: "public_id = ? AND owner = ?", [publicID, owner]) else {
                return .notFound
            }
            guard !job.state.isFinal else { return .alreadyFinished(job) }
            try db.execute(
                sql: """
                    UPDATE jobs SET state = 'cancelled', finished_at = \(now), lease_token = NULL,
                        lease_expires_at = NULL WHERE id = ?
                    """, arguments: [job.id])
            return .cancelled(try Self.fetchJob(db, where: "id = ?", [job.id]) ?? job)
        }
    }

    public func counts() async throws -> QueueCounts {
        try await pool.read { db in
            let queued = try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs WHERE state = 'queued'") ?? 0
            let running = try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs WHERE state = 'running'") ?? 0
            return QueueCounts(queued: queued, running: running)
        }
    }

    public func liveWorkers(within seconds: Double) async throws -> [WorkerStatus] {
        let now = self.now
        return try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM workers WHERE heartbeat_at > \(now) - ? ORDER BY started_at",
                arguments: [seconds]
            ).map(WorkerStatus.init(row:))
        }
    }

    // MARK: - worker side

    public func hasClaimableJobs() async throws -> Bool {
        let now = self.now
        return try await pool.read { db in
            try Bool.fetchOne(
                db.cachedStatement(
                    sql: "SELECT EXISTS(SELECT 1 FROM jobs WHERE state = 'queued' AND run_at <= \(now))")
            ) ?? false
        }
    }

    public func claim(worker: String, limit: Int, leaseSeconds: Double) async throws -> [ClaimedJob] {
        guard limit > 0 else { return [] }
        let now = self.now
        return try await pool.writeWithoutTransaction { db in
            let rows = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        UPDATE jobs SET state = 'running', attempts = attempts + 1,
                            lease_token = lower(hex(randomblob(16))), lease_owner = ?,
                            lease_expires_at = \(now) + ?, started_at = \(now)
                        WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= \(now)
                                     ORDER BY run_at, id LIMIT ?)
                        RETURNING *
                        """),
                arguments: [worker, leaseSeconds, limit])
            return try rows.map { row in
                let job = try Job(row: row)
                return ClaimedJob(job: job, lease: Lease(jobID: job.id, token: row["lease_token"]))
            }.sorted { $0.job.id < $1.job.id }
        }
    }

    public func heartbeat(_ status: WorkerStatus, leaseSeconds: Double) async throws -> Set<Lease> {
        let now = self.now
        let images = String(decoding: try JSONEncoder().encode(status.images), as: UTF8.self)
        return try await pool.write { db in
            try db.cachedStatement(
                sql: """
                    INSERT INTO workers (id, pid, host, started_at, heartbeat_at, slots, busy, draining,
                        docker_connected, engine_version, docker_error, images, pool_ready)
                    VALUES (?, ?, ?, \(now), \(now), ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,
                        slots = excluded.slots, busy = excluded.busy, draining = excluded.draining,
                        docker_connected = excluded.docker_connected,
                        engine_version = excluded.engine_version,
                        docker_error = excluded.docker_error, images = excluded.images,
                        pool_ready = excluded.pool_ready
                    """
            ).execute(arguments: [
                status.id, status.pid, status.host, status.slots, status.busy, status.draining,
                status.dockerConnected, status.engineVersion, status.dockerError, images, status.poolReady,
            ])
            let rows = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        UPDATE jobs SET lease_expires_at = \(now) + ?
                        WHERE lease_owner = ? AND state = 'running' RETURNING id, lease_token
                        """),
                arguments: [leaseSeconds, status.id])
            return Set(rows.map { Lease(jobID: $0["id"], token: $0["lease_token"]) })
        }
    }

    public func currentLeases(among leases: [Lease]) async throws -> Set<Lease> {
        guard !leases.isEmpty else { return [] }
        return try await pool.read { db in
            let marks = Array(repeating: "?", count: leases.count).joined(separator: ",")
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT id, lease_token FROM jobs WHERE id IN (\(marks)) AND state = 'running'",
                arguments: StatementArguments(leases.map(\.jobID)))
            let current = Set(rows.map { Lease(jobID: $0["id"], token: $0["lease_token"]) })
            return current.intersection(leases)
        }
    }

    /// Completions arriving together are written in one transaction (`CompletionBatcher`).
    public func complete(_ lease: Lease, result: Data) async throws -> Bool {
        try await completions.complete(lease, result: result)
    }

    public func fail(_ lease: Lease, failure: JobFailure, retry: Bool) async throws -> Bool {
        let now = self.now
        return try await pool.writeWithoutTransaction { db in
            let retryCondition = retry ? "attempts < max_attempts" : "0"
            try db.execute(
                sql: """
                    UPDATE jobs SET
                        state = CASE WHEN \(retryCondition) THEN 'queued' ELSE 'failed' END,
                        error_status = ?, error_detail = ?,
                        finished_at = CASE WHEN \(retryCondition) THEN NULL ELSE \(now) END,
                        started_at = CASE WHEN \(retryCondition) THEN NULL ELSE started_at END,
                        lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
                    WHERE id = ? AND lease_token = ? AND state = 'running'
                    """,
                arguments: [failure.statusCode, failure.detail, lease.jobID, lease.token])
            return db.changesCount == 1
        }
    }

    public func release(_ lease: Lease) async throws -> Bool {
        try await pool.writeWithoutTransaction { db in
            try db.execute(
                sql: """
                    UPDATE jobs SET state = 'queued', attempts = max(attempts - 1, 0), started_at = NULL,
                        lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
                    WHERE id = ? AND lease_token = ? AND state = 'running'
                    """, arguments: [lease.jobID, lease.token])
            return db.changesCount == 1
        }
    }

    public func reapExpiredLeases() async throws -> Int {
        let now = self.now
        let expired = try await pool.read { db in
            try Bool.fetchOne(
                db.cachedStatement(
                    sql: "SELECT EXISTS(SELECT 1 FROM jobs WHERE state = 'running' AND lease_expires_at < \(now))")
            ) ?? false
        }
        guard expired else { return 0 }  // never write (and wake everybody) when nothing expired
        return try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE jobs SET state = 'queued', started_at = NULL, lease_token = NULL,
                        lease_owner = NULL, lease_expires_at = NULL
                    WHERE state = 'running' AND lease_expires_at < \(now) AND attempts < max_attempts
                    """)
            var reaped = db.changesCount
            try db.execute(
                sql: """
                    UPDATE jobs SET state = 'failed', error_status = ?, error_detail = ?,
                        finished_at = \(now), lease_token = NULL, lease_expires_at = NULL
                    WHERE state = 'running' AND lease_expires_at < \(now)
                    """,
                arguments: [JobFailure.workerLost.statusCode, JobFailure.workerLost.detail])
            reaped += db.changesCount
            return reaped
        }
    }

    public func removeWorker(id: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM workers WHERE id = ?", arguments: [id])
        }
    }

    // MARK: - rows

    private static func fetchJob(_ db: Database, where condition: String, _ arguments: StatementArguments) throws -> Job? {
        try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE \(condition)", arguments: arguments).map(Job.init(row:))
    }
}

extension Job {
    init(row: Row) throws {
        guard let kind = JobKind(rawValue: row["kind"]), let state = JobState(rawValue: row["state"]) else {
            throw DatabaseError(message: "job \(row["public_id"] as String? ?? "?") has an unknown kind or state")
        }
        let errorStatus: Int? = row["error_status"]
        let errorDetail: String? = row["error_detail"]
        self.init(
            id: row["id"], publicID: row["public_id"], kind: kind, state: state, owner: row["owner"],
            payload: row["payload"], result: row["result"],
            failure: state == .failed
                ? JobFailure(statusCode: errorStatus ?? 500, detail: errorDetail ?? "An unexpected error occurred")
                : nil,
            attempts: row["attempts"], maxAttempts: row["max_attempts"], createdAt: row["created_at"],
            startedAt: row["started_at"], finishedAt: row["finished_at"])
    }
}

extension WorkerStatus {
    init(row: Row) {
        let imagesJSON: String = row["images"] ?? "[]"
        self.init(
            id: row["id"], pid: row["pid"], host: row["host"], slots: row["slots"], busy: row["busy"],
            draining: row["draining"], dockerConnected: row["docker_connected"],
            engineVersion: row["engine_version"], dockerError: row["docker_error"],
            images: (try? JSONDecoder().decode([String].self, from: Data(imagesJSON.utf8))) ?? [],
            poolReady: row["pool_ready"] ?? 0)
    }
}
