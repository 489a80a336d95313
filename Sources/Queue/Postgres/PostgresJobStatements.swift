import Foundation
import PostgresNIO

/// Every statement of the `jobs` table on PostgreSQL, by name: the twins of `JobStatements`
/// (whose documentation tells a job's life, the lease columns and the conventions), written
/// for concurrent writers instead of SQLite's single one.
///
/// What differs, and why:
/// - `claim` picks its rows in a `MATERIALIZED` CTE with `FOR UPDATE SKIP LOCKED`: claimers on
///   every host take disjoint rows without waiting for each other, and the fence keeps the
///   planner from re-running the pick per updated row (more rows than `LIMIT`, Oban's bug).
/// - `cancel` names the states it may leave in its `WHERE`: a job completed a moment before by
///   a worker on another host stays completed (SQLite's version checks first, under its lock).
/// - `enqueue` runs under `enqueueLock` when the queue has a depth limit, so the count and the
///   insert of concurrent API hosts are serialised and the limit holds.
/// - Time is `now()`, the server's clock (the start of the statement's transaction).
/// - Values are always bound (`\(value)` becomes `$n`); states are literals (`\(unescaped:)`),
///   so the partial indexes serve the statements that name them.
enum PostgresJobStatements {
    /// Current Unix time in seconds on the server, as `double precision`.
    static let now = "extract(epoch from now())::float8"

    /// A state as an SQL literal.
    static func literal(_ state: JobState) -> String { "'\(state.rawValue)'" }

    static let finalStates = JobState.finalStates.map(literal).joined(separator: ", ")

    private static let endLease = "lease_token = NULL, lease_expires_at = NULL"
    private static let isClaimable = "state = \(literal(.queued)) AND run_at <= \(now)"
    private static let hasExpiredLease = "state = \(literal(.running)) AND lease_expires_at < \(now)"
    private static let newToken = "replace(gen_random_uuid()::text, '-', '')"

    // MARK: - reads

    static func find(publicID: String, owner: String) -> PostgresQuery {
        "SELECT * FROM jobs WHERE public_id = \(publicID) AND owner = \(owner)"
    }

    static func find(idempotencyKey: String, owner: String) -> PostgresQuery {
        "SELECT * FROM jobs WHERE owner = \(owner) AND idempotency_key = \(idempotencyKey)"
    }

    static func list(owner: String, state: JobState?, limit: Int, before: String?) -> PostgresQuery {
        """
        SELECT * FROM jobs WHERE owner = \(owner)
            AND (\(state?.rawValue)::text IS NULL OR state = \(state?.rawValue))
            AND (\(before)::text IS NULL
                OR id < coalesce((SELECT id FROM jobs WHERE public_id = \(before) AND owner = \(owner)), 0))
        ORDER BY id DESC LIMIT \(limit)
        """
    }

    static func finished(among ids: [Int64]) -> PostgresQuery {
        "SELECT * FROM jobs WHERE id = ANY(\(ids)) AND state IN (\(unescaped: finalStates))"
    }

    static func count(_ state: JobState) -> PostgresQuery {
        "SELECT count(*) FROM jobs WHERE state = \(unescaped: literal(state))"
    }

    /// As `JobStatements.queueDepth`: queued work without webhook deliveries.
    static func queueDepth() -> PostgresQuery {
        "SELECT count(*) FROM jobs WHERE state = \(unescaped: literal(.queued)) AND kind <> \(JobKind.webhook.rawValue)"
    }

    static func anyClaimable() -> PostgresQuery {
        "SELECT EXISTS(SELECT 1 FROM jobs WHERE \(unescaped: isClaimable))"
    }

    static func anyExpired() -> PostgresQuery {
        "SELECT EXISTS(SELECT 1 FROM jobs WHERE \(unescaped: hasExpiredLease))"
    }

    static func leases(among ids: [Int64]) -> PostgresQuery {
        "SELECT id, lease_token FROM jobs WHERE id = ANY(\(ids)) AND state = \(unescaped: literal(.running))"
    }

    // MARK: - transitions

    /// Serialises enqueues that check the queue's depth (the lock ends with the transaction).
    static func enqueueLock() -> PostgresQuery {
        "SELECT pg_advisory_xact_lock(hashtext('code-runner enqueue ' || current_schema()))"
    }

    /// Inserts `job` as `queued`, due now, under `publicID`, stamped with its `fair_time` as
    /// `JobStatements.fairTime(of:)` tells, through the function `code_runner_fair_time`
    /// (`PostgresMigrations` step 5): PL/pgSQL keeps its queries' plans for the session, where
    /// the same subqueries in this statement were planned again for every insert (the planning
    /// cost more than the insert); no row when a job with its
    /// `unique_key` exists. The caller picks the public id once, so an insert run again after a
    /// lost answer meets its own row (a unique violation on `public_id`) instead of storing the
    /// job twice.
    /// - Parameter channel: the change feed's channel when the insert carries the wake-up
    ///   (`notifyColumn`).
    static func enqueue(
        _ job: NewJob,
        publicID: String = UUID().uuidString.lowercased(),
        notifying channel: String? = nil
    ) throws -> PostgresQuery {
        try """
        INSERT INTO jobs (public_id, kind, state, owner, idempotency_key, request_hash,
            unique_key, payload, max_attempts, run_at, created_at, callback_url, callback_status, priority, fair_time)
        VALUES (\(publicID), \(job.kind.rawValue), \(unescaped: literal(.queued)), \(job.owner),
            \(job.idempotencyKey), \(job.requestHash), \(job.uniqueKey), \(job.payload), \(job.maxAttempts),
            \(unescaped: now), \(unescaped: now),
            \(job.callbackURL), \(job.callbackURL == nil ? nil : CallbackStatus.pending.rawValue),
            \(job.priority), code_runner_fair_time(\(job.owner), \(job.priority)::integer,
                \(FairShare.highestLevel(of: job))::integer, \(FairShare.step(weight: job.weight))::float8))
        ON CONFLICT (unique_key) DO NOTHING
        RETURNING *\(unescaped: notifyColumn(channel))
        """
    }

    /// `, pg_notify('<channel>', '') AS notified` for a `RETURNING` list: the statement wakes the
    /// listeners itself, at its commit, and only when it returns a row (it changed something).
    /// Empty without a channel. The channel is a literal, so it must be ASCII lower-case
    /// letters, digits and `_` (as `PostgresChangeFeed` makes it); anything else gives "".
    static func notifyColumn(_ channel: String?) -> String {
        guard let channel, !channel.isEmpty,
            channel.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") })
        else { return "" }
        return ", pg_notify('\(channel)', '') AS notified"
    }

    /// Takes up to `limit` claimable jobs in `fair_time` order (`FairShare`), skipping rows another
    /// claimer has locked; each becomes `running` under a fresh token held by `worker`. For a
    /// queue where no owner has a cap on running jobs (`claimCapped` otherwise).
    static func claim(worker: String, limit: Int, leaseSeconds: Double) -> PostgresQuery {
        """
        WITH picked AS MATERIALIZED (
            SELECT id FROM jobs WHERE \(unescaped: isClaimable)
            ORDER BY fair_time, id LIMIT \(limit) FOR UPDATE SKIP LOCKED)
        UPDATE jobs SET \(unescaped: claimed), lease_owner = \(worker), lease_expires_at = \(unescaped: now) + \(leaseSeconds)
        FROM picked WHERE jobs.id = picked.id
        RETURNING jobs.*
        """
    }

    /// `claim` where some owners have a cap on running jobs, as `JobStatements.claimCapped`.
    /// The caller runs it after `claimLock`, in the same transaction: claims that count running
    /// jobs are serialised, and this statement's snapshot, taken after the lock, sees every
    /// claim committed before, so a cap holds across all workers and hosts.
    static func claimCapped(worker: String, limit: Int, leaseSeconds: Double) -> PostgresQuery {
        """
        WITH caps AS MATERIALIZED (
            SELECT t.owner, t.max_running - (
                SELECT count(*) FROM jobs r WHERE r.state = \(unescaped: literal(.running)) AND r.owner = t.owner) AS room
            FROM tenants t WHERE t.max_running IS NOT NULL),
        candidates AS MATERIALIZED (
            SELECT id, owner, fair_time FROM jobs
            WHERE \(unescaped: isClaimable) AND owner NOT IN (SELECT owner FROM caps WHERE room <= 0)
            ORDER BY fair_time, id LIMIT \(FairShare.claimWindow(limit: limit)) FOR UPDATE SKIP LOCKED),
        picked AS MATERIALIZED (
            SELECT id FROM (
                SELECT c.id, c.fair_time, caps.room,
                    row_number() OVER (PARTITION BY c.owner ORDER BY c.fair_time, c.id) AS n
                FROM candidates c LEFT JOIN caps ON caps.owner = c.owner) AS ranked
            WHERE room IS NULL OR n <= room ORDER BY fair_time, id LIMIT \(limit))
        UPDATE jobs SET \(unescaped: claimed), lease_owner = \(worker), lease_expires_at = \(unescaped: now) + \(leaseSeconds)
        FROM picked WHERE jobs.id = picked.id
        RETURNING jobs.*
        """
    }

    /// Serialises the claims of `claimCapped` (the lock ends with the transaction).
    static func claimLock() -> PostgresQuery {
        "SELECT pg_advisory_xact_lock(hashtext('code-runner capped claim ' || current_schema()))"
    }

    /// The `SET` list of a claim, but the lease's holder and end.
    private static let claimed =
        "state = \(literal(.running)), attempts = attempts + 1, lease_token = \(newToken), started_at = \(now)"

    /// Whether any owner has a cap on running jobs.
    static func anyCap() -> PostgresQuery {
        "SELECT EXISTS(SELECT 1 FROM tenants WHERE max_running IS NOT NULL)"
    }

    /// Serialises the enqueues of one owner that check its quota (`OwnerQuota`).
    static func ownerEnqueueLock(_ owner: String) -> PostgresQuery {
        "SELECT pg_advisory_xact_lock(hashtext('code-runner enqueue ' || current_schema() || ' ' || \(owner)))"
    }

    /// As `JobStatements.queuedCount`.
    static func queuedCount(owner: String, upTo limit: Int) -> PostgresQuery {
        """
        SELECT count(*) FROM (
            SELECT 1 FROM jobs WHERE owner = \(owner) AND state = \(unescaped: literal(.queued)) LIMIT \(limit)) AS queued
        """
    }

    /// As `JobStatements.rateWindowLeft`.
    static func rateWindowLeft(owner: String, count: Int) -> PostgresQuery {
        """
        SELECT created_at + 60 - \(unescaped: now) FROM jobs
        WHERE owner = \(owner) AND kind = \(JobKind.run.rawValue) ORDER BY id DESC LIMIT 1 OFFSET \(count - 1)
        """
    }

    /// As `JobStatements.countsByOwner`.
    static func countsByOwner() -> PostgresQuery {
        """
        SELECT owner, count(*) FILTER (WHERE state = \(unescaped: literal(.queued))) AS queued,
            count(*) FILTER (WHERE state = \(unescaped: literal(.running))) AS running
        FROM jobs WHERE state IN (\(unescaped: literal(.queued)), \(unescaped: literal(.running))) GROUP BY owner
        """
    }

    // MARK: - tenants (`Tenant`)

    static let deleteTenants: PostgresQuery = "DELETE FROM tenants"

    static func insert(_ tenant: Tenant) -> PostgresQuery {
        "INSERT INTO tenants (owner, name, max_running) VALUES (\(tenant.owner), \(tenant.name), \(tenant.maxRunning))"
    }

    static let tenants: PostgresQuery = "SELECT owner, name, max_running FROM tenants ORDER BY owner"

    static func extendLeases(_ leases: [Lease], worker: String, leaseSeconds: Double) -> PostgresQuery {
        """
        UPDATE jobs SET lease_expires_at = \(unescaped: now) + \(leaseSeconds)
        WHERE id = ANY(\(leases.map(\.jobID))) AND lease_token = ANY(\(leases.map(\.token)))
            AND lease_owner = \(worker) AND state = \(unescaped: literal(.running))
        RETURNING id, lease_token
        """
    }

    // MARK: - writes fenced on a lease

    /// - Parameter channel: as `enqueue`'s.
    static func complete(_ lease: Lease, result: Data, notifying channel: String? = nil) throws -> PostgresQuery {
        try """
        UPDATE jobs SET state = \(unescaped: literal(.completed)), result = \(result), finished_at = \(unescaped: now),
            \(unescaped: endLease)
        WHERE id = \(lease.jobID) AND lease_token = \(lease.token) AND state = \(unescaped: literal(.running))
        RETURNING id\(unescaped: notifyColumn(channel))
        """
    }

    static func fail(_ lease: Lease, failure: JobFailure, retry: Bool) -> PostgresQuery {
        """
        UPDATE jobs SET
            state = CASE WHEN \(retry) AND attempts < max_attempts THEN \(unescaped: literal(.queued))
                ELSE \(unescaped: literal(.failed)) END,
            error_status = \(failure.statusCode), error_detail = \(failure.detail.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}")),
            finished_at = CASE WHEN \(retry) AND attempts < max_attempts THEN NULL ELSE \(unescaped: now) END,
            started_at = CASE WHEN \(retry) AND attempts < max_attempts THEN NULL ELSE started_at END,
            \(unescaped: endLease)
        WHERE id = \(lease.jobID) AND lease_token = \(lease.token) AND state = \(unescaped: literal(.running))
        RETURNING id
        """
    }

    static func release(_ lease: Lease) -> PostgresQuery {
        """
        UPDATE jobs SET state = \(unescaped: literal(.queued)), attempts = greatest(attempts - 1, 0), started_at = NULL,
            \(unescaped: endLease)
        WHERE id = \(lease.jobID) AND lease_token = \(lease.token) AND state = \(unescaped: literal(.running))
        RETURNING id
        """
    }

    // MARK: - webhook deliveries (`Callback`; as `JobStatements`')

    static func retryLater(_ lease: Lease, after seconds: Double) -> PostgresQuery {
        """
        UPDATE jobs SET state = \(unescaped: literal(.queued)), run_at = \(unescaped: now) + \(seconds), started_at = NULL,
            \(unescaped: endLease)
        WHERE id = \(lease.jobID) AND lease_token = \(lease.token) AND state = \(unescaped: literal(.running))
        RETURNING id
        """
    }

    static func recordCallback(of jobID: Int64, _ outcome: DeliveryOutcome) -> PostgresQuery {
        let callback = outcome.callback
        return """
            UPDATE jobs SET callback_status = \(callback.status.rawValue), callback_attempts = \(callback.attempts),
                callback_error = \(callback.error)
            WHERE id = \(jobID)
            """
    }

    // MARK: - the reaper and the other transitions

    static func requeueExpired() -> PostgresQuery {
        """
        UPDATE jobs SET state = \(unescaped: literal(.queued)), started_at = NULL, \(unescaped: endLease)
        WHERE \(unescaped: hasExpiredLease) AND attempts < max_attempts
        RETURNING id
        """
    }

    static func failExpired() -> PostgresQuery {
        """
        UPDATE jobs SET state = \(unescaped: literal(.failed)), error_status = \(JobFailure.workerLost.statusCode),
            error_detail = \(JobFailure.workerLost.detail), finished_at = \(unescaped: now), \(unescaped: endLease)
        WHERE \(unescaped: hasExpiredLease)
        RETURNING id
        """
    }

    static func expireLeases(worker: String) -> PostgresQuery {
        """
        UPDATE jobs SET lease_expires_at = \(unescaped: now) - 1
        WHERE lease_owner = \(worker) AND state = \(unescaped: literal(.running))
        RETURNING id
        """
    }

    /// Cancels the owner's job if it has not finished, in one statement (no read first).
    static func cancel(publicID: String, owner: String) -> PostgresQuery {
        """
        UPDATE jobs SET state = \(unescaped: literal(.cancelled)), finished_at = \(unescaped: now), \(unescaped: endLease)
        WHERE public_id = \(publicID) AND owner = \(owner)
            AND state IN (\(unescaped: literal(.queued)), \(unescaped: literal(.running)))
        RETURNING *
        """
    }

    /// Deletes up to `limit` jobs that finished more than `seconds` ago, skipping rows others hold.
    static func deleteFinished(olderThan seconds: Double, limit: Int) -> PostgresQuery {
        """
        DELETE FROM jobs WHERE id IN (
            SELECT id FROM jobs WHERE state IN (\(unescaped: finalStates)) AND finished_at < \(unescaped: now) - \(seconds)
            LIMIT \(limit) FOR UPDATE SKIP LOCKED)
        RETURNING id
        """
    }
}

/// Every statement of the `workers` table on PostgreSQL (`WorkerStatements`' twins).
enum PostgresWorkerStatements {
    static func upsert(_ status: WorkerStatus, images: String) -> PostgresQuery {
        let now = PostgresJobStatements.now
        return """
            INSERT INTO workers (id, pid, host, started_at, heartbeat_at, slots, busy, draining,
                docker_connected, engine_version, docker_error, images, pool_ready, egress_problem)
            VALUES (\(status.id), \(status.pid), \(status.host), \(unescaped: now), \(unescaped: now),
                \(status.slots), \(status.busy), \(status.draining), \(status.dockerConnected), \(status.engineVersion),
                \(status.dockerError), \(images), \(status.poolReady), \(status.egressProblem))
            ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,
                slots = excluded.slots, busy = excluded.busy, draining = excluded.draining,
                docker_connected = excluded.docker_connected, engine_version = excluded.engine_version,
                docker_error = excluded.docker_error, images = excluded.images, pool_ready = excluded.pool_ready,
                egress_problem = excluded.egress_problem
            """
    }

    static func live(within seconds: Double) -> PostgresQuery {
        "SELECT * FROM workers WHERE heartbeat_at > \(unescaped: PostgresJobStatements.now) - \(seconds) ORDER BY started_at"
    }

    static func remove(id: String) -> PostgresQuery {
        "DELETE FROM workers WHERE id = \(id)"
    }
}
