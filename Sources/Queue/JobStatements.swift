import Foundation
import GRDB

/// Every statement of the `jobs` table, by name (River's rule: one file of named statements per
/// table). `SQLiteJobStore`, `CompletionBatcher` and the scheduler only call these; a PostgreSQL
/// store would have its own file with the same names.
///
/// ## A job's life in statements
/// `enqueue` inserts it `queued`; `claim` makes it `running` under a fresh lease, which
/// `extendLeases` keeps alive. It then ends with `complete`, `fail`, `cancel` or `failExpired`
/// (finished), or goes back to `queued` with `release`, `fail` (retry) or `requeueExpired`;
/// `deleteFinished` removes it at last. `cancel` is the only transition not fenced on a lease: it
/// may hit a queued job, or take a running one from its worker.
///
/// ## Leases and `lease_owner`
/// A lease is `lease_token` — the fence: every write for a running job names it (`heldUnder`) —
/// and `lease_expires_at`, which the reaper reads. `endLease` is the one clause that ends a lease,
/// in every statement that moves a job out of `running`: it clears both and keeps `lease_owner`.
/// So `lease_owner` is the last worker that claimed the job: for a finished job, the worker that
/// completed or failed it, or that had it when it was cancelled or reaped (kept for diagnosis);
/// `NULL` only for a job never claimed. It means the current holder only while the job is
/// `running`, and the one statement that reads it that way (`extendLeases`) says so.
///
/// ## Conventions
/// - Values are interpolated (`\(value)` becomes a bound `?`), so a statement's text does not
///   change with its values and cached statements are reused. A `nil` value is written as `NULL`,
///   so a statement with optional values has one text per combination of them present. The
///   writes fenced on a lease (`complete`, `fail`, `release`) bind named values instead, to a text
///   built once per batch (see their section).
/// - States are literals, `\(state: .queued)` (see `JobState`): the partial indexes
///   `jobs_fair`, `jobs_fair_by_owner`, `jobs_leased` and `jobs_finished` serve the statements that name their
///   state, and the statements are never re-prepared.
/// - Time is the database's (`DatabaseClock.now`), one clock for every process.
/// - Requests marked *cached* are prepared once per connection: the hot paths (claim, probe,
///   heartbeat). Every write goes through the cache too (`Database.executeCached`, or
///   `cachedStatement` for the fenced writes); the reads whose text grows with a list of ids do not.
enum JobStatements {
    // MARK: - fragments

    /// Ends a job's lease: its token can no longer write, and the reaper no longer sees it.
    /// `lease_owner` stays (see the type's documentation).
    private static let endLease: SQL = "lease_token = NULL, lease_expires_at = NULL"

    /// Jobs a worker may take now (the `jobs_fair` index holds the queued ones).
    private static let isClaimable: SQL = "state = \(state: .queued) AND run_at <= \(sql: DatabaseClock.now)"

    /// Running jobs whose lease has expired (the `jobs_leased` index).
    private static let hasExpiredLease: SQL = "state = \(state: .running) AND lease_expires_at < \(sql: DatabaseClock.now)"

    /// Finished jobs (the `jobs_finished` index, whose list this is, in the same order).
    private static let isFinished: SQL = "state IN (\(states: JobState.finalStates))"

    // MARK: - reads

    /// The job with this public id, if it belongs to `owner`.
    static func find(publicID: String, owner: String) -> SQLRequest<Row> {
        "SELECT * FROM jobs WHERE public_id = \(publicID) AND owner = \(owner)"
    }

    /// The owner's job stored under this idempotency key; its row includes `request_hash`.
    static func find(idempotencyKey: String, owner: String) -> SQLRequest<Row> {
        "SELECT * FROM jobs WHERE owner = \(owner) AND idempotency_key = \(idempotencyKey)"
    }

    /// Up to `limit` of the owner's jobs, newest first, optionally in one state and older than
    /// the owner's job `before` (a public id; an unknown one gives an empty page).
    static func list(owner: String, state: JobState?, limit: Int, before: String?) -> SQLRequest<Row> {
        let inState: SQL = state.map { (state: JobState) -> SQL in "AND state = \(state: state)" } ?? ""
        let olderThan: SQL =
            before.map { (before: String) -> SQL in
                "AND id < coalesce((SELECT id FROM jobs WHERE public_id = \(before) AND owner = \(owner)), 0)"
            } ?? ""
        return "SELECT * FROM jobs WHERE owner = \(owner) \(inState) \(olderThan) ORDER BY id DESC LIMIT \(limit)"
    }

    /// The finished ones among these jobs.
    static func finished(among ids: [Int64]) -> SQLRequest<Row> {
        "SELECT * FROM jobs WHERE id IN \(ids) AND \(isFinished)"
    }

    /// How many jobs are in `state` (for `queued` and `running`, a count of a partial index).
    static func count(_ state: JobState) -> SQLRequest<Int> {
        "SELECT count(*) FROM jobs WHERE state = \(state: state)"
    }

    /// The jobs `MAX_QUEUE_DEPTH` limits: queued work, without webhook deliveries (a receiver
    /// that is down for an hour must not make the service refuse new runs).
    static func queueDepth() -> SQLRequest<Int> {
        "SELECT count(*) FROM jobs WHERE state = \(state: .queued) AND kind <> \(JobKind.webhook.rawValue)"
    }

    /// Cached. Whether any job can be claimed now: the workers' read-only probe.
    static func anyClaimable() -> SQLRequest<Bool> {
        SQLRequest(literal: "SELECT EXISTS(SELECT 1 FROM jobs WHERE \(isClaimable))", cached: true)
    }

    /// Cached. Whether any running job's lease has expired: the reaper's read-only probe.
    static func anyExpired() -> SQLRequest<Bool> {
        SQLRequest(literal: "SELECT EXISTS(SELECT 1 FROM jobs WHERE \(hasExpiredLease))", cached: true)
    }

    /// The `id` and `lease_token` of the running ones among these jobs.
    static func leases(among ids: [Int64]) -> SQLRequest<Row> {
        "SELECT id, lease_token FROM jobs WHERE id IN \(ids) AND state = \(state: .running)"
    }

    /// Cached. The `fair_time` stamp of `job` (`FairShare`): the queue's virtual time, or one
    /// step after the owner's last queued job of the same or a higher priority if later. Read
    /// in the enqueue's transaction. Each part is one index probe: the running jobs' greatest
    /// stamp (few rows, `jobs_leased`), the head (`jobs_fair`), and per priority level from the
    /// job's to its key's the owner's last queued job (`jobs_fair_by_owner`).
    static func fairTime(of job: NewJob) -> SQLRequest<Double> {
        SQLRequest(
            literal: """
                WITH RECURSIVE levels(level) AS (
                    SELECT \(job.priority) UNION ALL SELECT level + 1 FROM levels WHERE level < \(FairShare.highestLevel(of: job))),
                clock AS (
                    SELECT (SELECT max(fair_time) FROM jobs INDEXED BY jobs_leased WHERE state = \(state: .running)) AS running,
                        (SELECT fair_time FROM jobs WHERE \(isClaimable) ORDER BY fair_time, id LIMIT 1) AS head),
                lane AS (
                    SELECT max((
                        SELECT fair_time FROM jobs
                        WHERE owner = \(job.owner) AND state = \(state: .queued) AND priority = levels.level
                        ORDER BY fair_time DESC LIMIT 1)) AS last
                    FROM levels),
                virtual AS (SELECT coalesce(max(running, head), running, head, 0) AS vtime FROM clock)
                SELECT max(vtime, coalesce(last + \(FairShare.step(weight: job.weight)), vtime)) FROM virtual, lane
                """,
            cached: true
        )
    }

    /// How many of the owner's jobs are queued, counted up to `limit` (enough to compare with it).
    static func queuedCount(owner: String, upTo limit: Int) -> SQLRequest<Int> {
        "SELECT count(*) FROM (SELECT 1 FROM jobs WHERE owner = \(owner) AND state = \(state: .queued) LIMIT \(limit))"
    }

    /// Seconds until the owner's `count`-th newest run job is 60 seconds old (negative once it
    /// is; no row when the owner has created fewer): `OwnerQuota.runsPerMinute`'s window.
    static func rateWindowLeft(owner: String, count: Int) -> SQLRequest<Double> {
        """
        SELECT created_at + 60 - \(sql: DatabaseClock.now) FROM jobs
        WHERE owner = \(owner) AND kind = \(JobKind.run.rawValue) ORDER BY id DESC LIMIT 1 OFFSET \(count - 1)
        """
    }

    /// Queued and running jobs per owner (`/metrics`; reads the queued and running rows).
    static func countsByOwner() -> SQLRequest<Row> {
        """
        SELECT owner, sum(state = \(state: .queued)) AS queued, sum(state = \(state: .running)) AS running
        FROM jobs WHERE state IN (\(state: .queued), \(state: .running)) GROUP BY owner
        """
    }

    // MARK: - transitions

    /// Inserts `job` as `queued`, due now, under a fresh public id (a lowercase UUID); returns the
    /// stored row — or no row when a job with the same `unique_key` exists (nothing is inserted:
    /// the scheduler relies on this to enqueue one job per tick).
    /// - Parameter fairTime: the job's stamp (`fairTime(of:)`, read in the same transaction).
    static func enqueue(_ job: NewJob, fairTime: Double) -> SQLRequest<Row> {
        SQLRequest(
            literal: """
                INSERT INTO jobs (public_id, kind, state, owner, idempotency_key, request_hash,
                    unique_key, payload, max_attempts, run_at, created_at, callback_url, callback_status,
                    priority, fair_time)
                VALUES (\(UUID().uuidString.lowercased()), \(job.kind.rawValue), \(state: .queued), \(job.owner),
                    \(job.idempotencyKey), \(job.requestHash), \(job.uniqueKey), \(job.payload), \(job.maxAttempts),
                    \(sql: DatabaseClock.now), \(sql: DatabaseClock.now),
                    \(job.callbackURL), \(job.callbackURL == nil ? nil : CallbackStatus.pending.rawValue),
                    \(job.priority), \(fairTime))
                ON CONFLICT(unique_key) DO NOTHING
                RETURNING *
                """,
            cached: true
        )
    }

    /// Cached. Takes up to `limit` claimable jobs in `fair_time` order (`FairShare`; the order of
    /// `jobs_fair`, so only the rows taken are read), in one statement: each becomes `running`
    /// under a fresh random token held by `worker` for `leaseSeconds`, and uses up an attempt.
    /// Returns the claimed rows, in no particular order. For a queue where no owner has a cap
    /// on running jobs (`claimCapped` otherwise).
    static func claim(worker: String, limit: Int, leaseSeconds: Double) -> SQLRequest<Row> {
        SQLRequest(
            literal: """
                UPDATE jobs SET \(claimed(by: worker, leaseSeconds: leaseSeconds))
                WHERE id IN (SELECT id FROM jobs WHERE \(isClaimable) ORDER BY fair_time, id LIMIT \(limit))
                RETURNING *
                """,
            cached: true
        )
    }

    /// Cached. `claim` for a queue where some owners have a cap on running jobs (`tenants`):
    /// owners at their cap are skipped, and of the others no more are taken than their room.
    /// It ranks a window of `FairShare.claimWindow` queued jobs from the head, so it reads a
    /// bounded number of rows; the running jobs are counted per capped owner (few rows, the
    /// `jobs_leased` index). Exact under SQLite's single writer.
    static func claimCapped(worker: String, limit: Int, leaseSeconds: Double) -> SQLRequest<Row> {
        SQLRequest(
            literal: """
                WITH caps AS (
                    SELECT t.owner, t.max_running - (
                        SELECT count(*) FROM jobs r INDEXED BY jobs_leased
                        WHERE r.state = \(state: .running) AND r.owner = t.owner) AS room
                    FROM tenants t WHERE t.max_running IS NOT NULL),
                candidates AS (
                    SELECT id, owner, fair_time FROM jobs
                    WHERE \(isClaimable) AND owner NOT IN (SELECT owner FROM caps WHERE room <= 0)
                    ORDER BY fair_time, id LIMIT \(FairShare.claimWindow(limit: limit))),
                ranked AS (
                    SELECT c.id, c.fair_time, caps.room,
                        row_number() OVER (PARTITION BY c.owner ORDER BY c.fair_time, c.id) AS n
                    FROM candidates c LEFT JOIN caps ON caps.owner = c.owner)
                UPDATE jobs SET \(claimed(by: worker, leaseSeconds: leaseSeconds))
                WHERE id IN (SELECT id FROM ranked WHERE room IS NULL OR n <= room ORDER BY fair_time, id LIMIT \(limit))
                RETURNING *
                """,
            cached: true
        )
    }

    /// The `SET` list of a claim.
    private static func claimed(by worker: String, leaseSeconds: Double) -> SQL {
        """
        state = \(state: .running), attempts = attempts + 1,
            lease_token = lower(hex(randomblob(16))), lease_owner = \(worker),
            lease_expires_at = \(sql: DatabaseClock.now) + \(leaseSeconds), started_at = \(sql: DatabaseClock.now)
        """
    }

    /// Extends these leases of `worker`'s, where still current, to `leaseSeconds` from now;
    /// returns their `id` and `lease_token`. (Tokens are random: a token names one job's lease.)
    static func extendLeases(_ leases: [Lease], worker: String, leaseSeconds: Double) -> SQLRequest<Row> {
        """
        UPDATE jobs SET lease_expires_at = \(sql: DatabaseClock.now) + \(leaseSeconds)
        WHERE id IN \(leases.map(\.jobID)) AND lease_token IN \(leases.map(\.token))
            AND lease_owner = \(worker) AND state = \(state: .running)
        RETURNING id, lease_token
        """
    }

    // MARK: - writes fenced on a lease
    //
    // `complete`, `fail` and `release` bind their values by name (`:id`, `:token`, …) to a text
    // that never changes, instead of interpolating them: `complete` runs once per job, many jobs
    // to a transaction, and building an interpolated statement for each job took about 7 % of a
    // queue-probe worker's CPU (perf). Each is built once per call and binds every job in turn.

    /// The fence of every write for a running job: it still runs under the lease `:id`, `:token`.
    private static let heldUnder: SQL = "id = :id AND lease_token = :token AND state = \(state: .running)"

    /// Stores each job's result and makes it `completed`, if it still runs under its lease, with
    /// one statement for all of them (the caller's transaction). Returns, per job, whether its
    /// result was stored.
    static func complete(_ jobs: [(lease: Lease, result: Data)], in db: Database) throws -> [Bool] {
        let statement = try db.cachedStatement(
            literal: """
                UPDATE jobs SET state = \(state: .completed), result = :result, finished_at = \(sql: DatabaseClock.now),
                    \(endLease)
                WHERE \(heldUnder)
                """
        )
        return try jobs.map { lease, result in
            try statement.execute(arguments: ["id": lease.jobID, "token": lease.token, "result": result])
            return db.changesCount == 1
        }
    }

    /// Records an infrastructure failure, if the job still runs under `lease`: with `retry` and
    /// attempts left, the job is `queued` again (not started, the failure kept in the error
    /// columns); otherwise it is `failed`. Returns whether the lease was current.
    static func fail(_ lease: Lease, failure: JobFailure, retry: Bool, in db: Database) throws -> Bool {
        let requeue: SQL = ":retry AND attempts < max_attempts"
        let statement = try db.cachedStatement(
            literal: """
                UPDATE jobs SET
                    state = CASE WHEN \(requeue) THEN \(state: .queued) ELSE \(state: .failed) END,
                    error_status = :status, error_detail = :detail,
                    finished_at = CASE WHEN \(requeue) THEN NULL ELSE \(sql: DatabaseClock.now) END,
                    started_at = CASE WHEN \(requeue) THEN NULL ELSE started_at END,
                    \(endLease)
                WHERE \(heldUnder)
                """
        )
        try statement.execute(arguments: [
            "id": lease.jobID, "token": lease.token, "retry": retry, "status": failure.statusCode, "detail": failure.detail,
        ])
        return db.changesCount == 1
    }

    /// Gives the job back to the queue without using up an attempt, if it still runs under
    /// `lease` (a worker shutting down). Returns whether the lease was current.
    static func release(_ lease: Lease, in db: Database) throws -> Bool {
        let statement = try db.cachedStatement(
            literal: """
                UPDATE jobs SET state = \(state: .queued), attempts = max(attempts - 1, 0), started_at = NULL, \(endLease)
                WHERE \(heldUnder)
                """
        )
        try statement.execute(arguments: ["id": lease.jobID, "token": lease.token])
        return db.changesCount == 1
    }

    // MARK: - webhook deliveries (`Callback`)

    /// A failed delivery goes back to the queue, due `seconds` from now, if it still runs under
    /// `lease`. The attempt stays counted (claims count them), so `attempts` is the number made.
    static func retryLater(_ lease: Lease, after seconds: Double, in db: Database) throws -> Bool {
        let statement = try db.cachedStatement(
            literal: """
                UPDATE jobs SET state = \(state: .queued), run_at = \(sql: DatabaseClock.now) + :delay, started_at = NULL,
                    \(endLease)
                WHERE \(heldUnder)
                """
        )
        try statement.execute(arguments: ["id": lease.jobID, "token": lease.token, "delay": seconds])
        return db.changesCount == 1
    }

    /// The job's callback as a delivery attempt left it.
    static func recordCallback(of jobID: Int64, _ outcome: DeliveryOutcome) -> SQL {
        let callback = outcome.callback
        return """
            UPDATE jobs SET callback_status = \(callback.status.rawValue), callback_attempts = \(callback.attempts),
                callback_error = \(callback.error)
            WHERE id = \(jobID)
            """
    }

    // MARK: - the reaper and the other transitions

    /// The reaper's first step: running jobs whose lease expired and that have attempts left go
    /// back to the queue (the attempt stays used).
    static func requeueExpired() -> SQL {
        """
        UPDATE jobs SET state = \(state: .queued), started_at = NULL, \(endLease)
        WHERE \(hasExpiredLease) AND attempts < max_attempts
        """
    }

    /// Ends every lease a previous process of `worker` held: they expire now, so the reaper's
    /// next pass requeues or fails those jobs as it does any lost worker's. A worker runs it as it
    /// starts: a process that takes over its predecessor's id (a restarted
    /// `code-runner-worker@N`, a process `make run` restarted) would otherwise keep extending,
    /// with every heartbeat, the leases of runs that nobody runs any more.
    static func expireLeases(worker: String) -> SQL {
        """
        UPDATE jobs SET lease_expires_at = \(sql: DatabaseClock.now) - 1
        WHERE lease_owner = \(worker) AND state = \(state: .running)
        """
    }

    /// The reaper's second step, in the same transaction: the other running jobs whose lease
    /// expired are `failed` with `worker lost`.
    static func failExpired() -> SQL {
        """
        UPDATE jobs SET state = \(state: .failed), error_status = \(JobFailure.workerLost.statusCode),
            error_detail = \(JobFailure.workerLost.detail), finished_at = \(sql: DatabaseClock.now), \(endLease)
        WHERE \(hasExpiredLease)
        """
    }

    /// Makes the job `cancelled`, whatever its state (the caller checks that it has not
    /// finished, in the same transaction); a running job's worker finds its lease gone. Returns
    /// the updated row.
    static func cancel(id: Int64) -> SQLRequest<Row> {
        SQLRequest(
            literal: """
                UPDATE jobs SET state = \(state: .cancelled), finished_at = \(sql: DatabaseClock.now), \(endLease)
                WHERE id = \(id)
                RETURNING *
                """,
            cached: true
        )
    }

    /// Deletes up to `limit` jobs that finished more than `seconds` ago (retention, in batches
    /// so the write lock is released often).
    static func deleteFinished(olderThan seconds: Double, limit: Int) -> SQL {
        """
        DELETE FROM jobs WHERE id IN (
            SELECT id FROM jobs WHERE \(isFinished) AND finished_at < \(sql: DatabaseClock.now) - \(seconds) LIMIT \(limit))
        """
    }
}

extension Database {
    /// Runs a write through this connection's statement cache; returns how many rows it changed.
    @discardableResult
    func executeCached(_ statement: SQL) throws -> Int {
        try cachedStatement(literal: statement).execute()
        return changesCount
    }
}

extension Job {
    /// A `jobs` row (`SELECT *` or `RETURNING *`); throws on a kind or state this build does not know.
    init(row: Row) throws {
        guard let kind = JobKind(rawValue: row["kind"]), let state = JobState(rawValue: row["state"]) else {
            throw DatabaseError(message: "job \(row["public_id"] as String? ?? "?") has an unknown kind or state")
        }
        let errorStatus: Int? = row["error_status"]
        let errorDetail: String? = row["error_detail"]
        self.init(
            id: row["id"],
            publicID: row["public_id"],
            kind: kind,
            state: state,
            owner: row["owner"],
            payload: row["payload"],
            result: row["result"],
            failure: state == .failed
                ? JobFailure(statusCode: errorStatus ?? 500, detail: errorDetail ?? "An unexpected error occurred")
                : nil,
            attempts: row["attempts"],
            maxAttempts: row["max_attempts"],
            createdAt: row["created_at"],
            startedAt: row["started_at"],
            finishedAt: row["finished_at"],
            callback: Callback(
                url: row["callback_url"],
                status: row["callback_status"],
                attempts: row["callback_attempts"],
                lastError: row["callback_error"]
            ),
            priority: row["priority"]
        )
    }
}

extension Lease {
    /// The lease of a row with `id` and `lease_token`; throws when the row has no lease.
    init(row: Row) throws {
        guard let token: String = row["lease_token"] else {
            throw DatabaseError(message: "job \(row["id"] as Int64? ?? 0) has no lease token")
        }
        self.init(jobID: row["id"], token: token)
    }
}
