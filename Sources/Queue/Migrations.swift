import GRDB

/// The versioned schema of the job database.
///
/// Each migration is applied once, in order, inside one `BEGIN IMMEDIATE` transaction that also
/// bumps `PRAGMA user_version`. Because the version is read and written under the write lock,
/// several processes that open a fresh file at the same moment serialise: the first applies the
/// pending steps, the others find the version already current and do nothing. (GRDB's own
/// `DatabaseMigrator` reads its applied list outside that lock and can race; the test
/// "several processes migrating a fresh file at the same moment all succeed" in
/// `Tests/QueueTests/MultiProcessQueueTests.swift` holds this one to it.)
enum Migrations {
    /// The schema steps; index `i` moves the database from `user_version` i to i + 1.
    /// A step is frozen once shipped: never edit one, add the next. So the job states in step 1's
    /// partial indexes stay literal text — the one place outside `JobState` that names them.
    /// `JobStatements` writes states as the same literals, which is what lets these indexes serve
    /// its statements; renaming a state would take a new step that recreates the indexes.
    static let steps: [String] = [
        // 1: jobs, workers, deployment facts
        """
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            public_id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            owner TEXT NOT NULL DEFAULT '',
            idempotency_key TEXT,
            request_hash TEXT,
            unique_key TEXT UNIQUE,
            payload BLOB NOT NULL,
            result BLOB,
            error_status INTEGER,
            error_detail TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL DEFAULT 2,
            lease_token TEXT,
            lease_owner TEXT,
            lease_expires_at REAL,
            run_at REAL NOT NULL,
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL
        );
        CREATE INDEX jobs_claimable ON jobs(run_at, id) WHERE state = 'queued';
        CREATE INDEX jobs_leased ON jobs(lease_expires_at) WHERE state = 'running';
        CREATE INDEX jobs_finished ON jobs(finished_at) WHERE state IN ('completed','failed','cancelled');
        CREATE INDEX jobs_by_owner ON jobs(owner, id);
        CREATE UNIQUE INDEX jobs_idempotency ON jobs(owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE TABLE workers (
            id TEXT PRIMARY KEY,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            started_at REAL NOT NULL,
            heartbeat_at REAL NOT NULL,
            slots INTEGER NOT NULL,
            busy INTEGER NOT NULL DEFAULT 0,
            draining INTEGER NOT NULL DEFAULT 0,
            docker_connected INTEGER NOT NULL DEFAULT 0,
            engine_version TEXT,
            docker_error TEXT,
            images TEXT NOT NULL DEFAULT '[]'
        );
        CREATE TABLE deployment (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        INSERT INTO deployment(key, value) VALUES ('id', lower(hex(randomblob(6))));
        """,
        // 2: schedules (fired once per tick across all workers) and the clean-up history
        """
        CREATE TABLE schedules (
            name TEXT PRIMARY KEY,
            interval_seconds REAL NOT NULL,
            next_fire_at REAL NOT NULL
        );
        CREATE TABLE cleanup_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            finished_at REAL NOT NULL,
            removed_jobs INTEGER NOT NULL,
            removed_containers INTEGER NOT NULL,
            removed_images INTEGER NOT NULL
        );
        """,
        // 3: prebuilt images this service built (identity is stored, never guessed from a name)
        """
        CREATE TABLE prebuilds (
            tag TEXT PRIMARY KEY,
            base_runtime TEXT NOT NULL,
            setup_script TEXT NOT NULL,
            status TEXT NOT NULL,
            build_log TEXT NOT NULL DEFAULT '',
            size_bytes INTEGER NOT NULL DEFAULT 0,
            layer_size_bytes INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            built_at REAL,
            last_used_at REAL
        );
        """,
        // 4: one build per tag across all workers (a lease, so a dead builder's lock expires)
        """
        ALTER TABLE prebuilds ADD COLUMN build_owner TEXT;
        ALTER TABLE prebuilds ADD COLUMN build_lease_until REAL;
        """,
        // 5: the workers' counters and histograms for /metrics, and each worker's ready pool
        """
        CREATE TABLE metric_samples (
            family TEXT NOT NULL,
            labels TEXT NOT NULL,
            suffix TEXT NOT NULL,
            bound REAL NOT NULL,
            value REAL NOT NULL,
            PRIMARY KEY (family, labels, suffix, bound)
        ) WITHOUT ROWID;
        ALTER TABLE workers ADD COLUMN pool_ready INTEGER NOT NULL DEFAULT 0;
        """,
        // 6: prebuilt images belong to the credential that built them: keyed by (owner, tag).
        // Images recorded before had no owner; they keep the owner '' (the one owner of a
        // service without authentication), so no credential inherits them.
        """
        CREATE TABLE prebuilds_by_owner (
            owner TEXT NOT NULL DEFAULT '',
            tag TEXT NOT NULL,
            base_runtime TEXT NOT NULL,
            setup_script TEXT NOT NULL,
            status TEXT NOT NULL,
            build_log TEXT NOT NULL DEFAULT '',
            size_bytes INTEGER NOT NULL DEFAULT 0,
            layer_size_bytes INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            built_at REAL,
            last_used_at REAL,
            build_holder TEXT,
            build_lease_until REAL,
            build_started_at REAL,
            PRIMARY KEY (owner, tag)
        );
        INSERT INTO prebuilds_by_owner (owner, tag, base_runtime, setup_script, status, build_log, size_bytes,
            layer_size_bytes, created_at, built_at, last_used_at, build_holder, build_lease_until, build_started_at)
        SELECT '', tag, base_runtime, setup_script, status, build_log, size_bytes, layer_size_bytes, created_at,
            built_at, last_used_at, build_owner, build_lease_until, created_at FROM prebuilds;
        DROP TABLE prebuilds;
        ALTER TABLE prebuilds_by_owner RENAME TO prebuilds;
        """,
        // 7: the labels a prebuilt image carries, for GET /prebuilds (issue 14)
        """
        ALTER TABLE prebuilds ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
        """,
        // 8: why a worker cannot start networked runs (its egress policy could not be installed)
        """
        ALTER TABLE workers ADD COLUMN egress_problem TEXT;
        """,
        // 9: webhooks (issue 18): a job's callback, and its delivery job, made by the transition
        // that ends the job (`Callback`); `OR IGNORE`: one delivery per job, whatever happens
        """
        ALTER TABLE jobs ADD COLUMN callback_url TEXT;
        ALTER TABLE jobs ADD COLUMN callback_status TEXT;
        ALTER TABLE jobs ADD COLUMN callback_attempts INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE jobs ADD COLUMN callback_error TEXT;
        CREATE TRIGGER jobs_callback_due AFTER UPDATE OF state ON jobs
        WHEN NEW.callback_url IS NOT NULL AND NEW.kind <> 'webhook'
            AND NEW.state IN ('completed','failed','cancelled') AND OLD.state NOT IN ('completed','failed','cancelled')
        BEGIN
            INSERT OR IGNORE INTO jobs (public_id, kind, state, owner, unique_key, payload, max_attempts, run_at, created_at)
            VALUES ('webhook-' || NEW.public_id, 'webhook', 'queued', 'code-runner:webhooks', 'webhook:' || NEW.public_id,
                CAST('{"job_id":' || NEW.id || '}' AS BLOB), 1000000,
                coalesce(NEW.finished_at, NEW.run_at), coalesce(NEW.finished_at, NEW.run_at));
        END;
        """,
        // 10: the live output of running jobs (`OutputStatements`), deleted with its job
        """
        CREATE TABLE output_chunks (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            attempt INTEGER NOT NULL,
            stream TEXT NOT NULL CHECK (stream IN ('stdout','stderr')),
            byte_offset INTEGER NOT NULL,
            data BLOB NOT NULL
        );
        CREATE INDEX output_chunks_by_job ON output_chunks(job_id, seq);
        CREATE UNIQUE INDEX output_chunks_once ON output_chunks(job_id, attempt, stream, byte_offset);
        """,
        // 11: jobs someone streams (`OutputStatements.watch`): only their workers store live output
        """
        CREATE TABLE output_watchers (
            job_id INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE
        );
        """,
        // 12: fair scheduling across owners (`FairShare`): claims in `fair_time` order instead of
        // `run_at`'s; jobs queued before keep 0, so they go first, oldest first
        """
        ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE jobs ADD COLUMN fair_time REAL NOT NULL DEFAULT 0;
        DROP INDEX jobs_claimable;
        CREATE INDEX jobs_fair ON jobs(fair_time, id) WHERE state = 'queued';
        CREATE INDEX jobs_fair_by_owner ON jobs(owner, priority, fair_time) WHERE state = 'queued';
        CREATE TABLE tenants (
            owner TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            max_running INTEGER
        );
        """,
    ]

    /// Applies every pending step; safe to call from any number of processes at once.
    static func apply(to writer: some DatabaseWriter) throws {
        try writer.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                guard version < steps.count else { return .commit }
                for index in version..<steps.count {
                    try db.execute(sql: steps[index])
                }
                try db.execute(sql: "PRAGMA user_version = \(steps.count)")
                return .commit
            }
        }
    }
}
