import PostgresNIO

// Every statement of the `prebuilds` table on PostgreSQL (`Prebuilds.swift`'s twins). Rows are
// always addressed by (owner, tag).
extension PostgresJobStore {
    /// Records a (re)build request unless the owner has another build under way. The check and
    /// the write run under a lock per owner (`pg_advisory_xact_lock`), so two API hosts taking
    /// the same owner's requests at once start one build, not two.
    public func beginPrebuild(_ key: PrebuildKey, baseRuntime: String, setupScript: String, busyFor: Double) async throws -> PrebuildStart {
        let now = PostgresJobStatements.now
        // Not run again after a lost answer: the second run would find its own build under way.
        return try await inTransaction("recording a build request", retrying: false) { [logger] connection in
            try await connection.query(
                "SELECT pg_advisory_xact_lock(hashtext('code-runner prebuild ' || current_schema() || ' ' || \(key.owner)))",
                logger: logger
            )
            let busy = try await connection.query(
                """
                SELECT EXISTS(SELECT 1 FROM prebuilds WHERE owner = \(key.owner) AND status = 'building'
                    AND build_started_at > \(unescaped: now) - \(busyFor))
                """,
                logger: logger
            ).collect()
            guard try busy.first?.decode(Bool.self) != true else { return .ownerBusy }
            try await connection.query(
                """
                INSERT INTO prebuilds (owner, tag, base_runtime, setup_script, status, created_at, build_started_at)
                VALUES (\(key.owner), \(key.tag), \(baseRuntime), \(setupScript), 'building', \(unescaped: now), \(unescaped: now))
                ON CONFLICT (owner, tag) DO UPDATE SET base_runtime = excluded.base_runtime,
                    setup_script = excluded.setup_script, status = 'building', build_started_at = excluded.build_started_at
                """,
                logger: logger
            )
            return .started
        }
    }

    /// Takes the right to build the image for `seconds` unless another live builder holds it;
    /// an image with no record can always be built.
    public func acquirePrebuildLock(_ key: PrebuildKey, holder: String, seconds: Double) async throws -> Bool {
        let now = PostgresJobStatements.now
        let taken = try await rows(
            """
            UPDATE prebuilds SET build_holder = \(holder), build_lease_until = \(unescaped: now) + \(seconds)
            WHERE owner = \(key.owner) AND tag = \(key.tag)
                AND (build_holder IS NULL OR build_holder = \(holder) OR build_lease_until < \(unescaped: now))
            RETURNING tag
            """,
            "taking a build lock"
        )
        guard taken.isEmpty else { return true }
        return try await prebuild(key) == nil
    }

    public func releasePrebuildLock(_ key: PrebuildKey, holder: String) async throws {
        _ = try await announcing {
            try await rows(
                """
                UPDATE prebuilds SET build_holder = NULL, build_lease_until = NULL
                WHERE owner = \(key.owner) AND tag = \(key.tag) AND build_holder = \(holder)
                """,
                "releasing a build lock"
            )
        }
    }

    public func finishPrebuild(_ key: PrebuildKey, outcome: PrebuildOutcome) async throws {
        let now = PostgresJobStatements.now
        let labels = outcome.labels.map(SQLiteJobStore.labelsJSON)
        // PostgreSQL's text holds no NUL (SQLite's does): a build log may carry one.
        let log = outcome.log.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}")
        _ = try await announcing {
            try await rows(
                """
                UPDATE prebuilds SET status = \(outcome.succeeded ? "ready" : "failed"), build_log = \(log),
                    size_bytes = \(outcome.sizeBytes), layer_size_bytes = \(outcome.layerSizeBytes),
                    built_at = CASE WHEN \(outcome.succeeded) THEN \(unescaped: now) ELSE built_at END,
                    labels = coalesce(\(labels), labels)
                WHERE owner = \(key.owner) AND tag = \(key.tag)
                """,
                "recording a build's outcome"
            )
        }
    }

    public func prebuild(_ key: PrebuildKey) async throws -> Prebuild? {
        try await rows("SELECT * FROM prebuilds WHERE owner = \(key.owner) AND tag = \(key.tag)", "reading an image")
            .first.map(Prebuild.init(postgres:))
    }

    public func prebuilds(owner: String) async throws -> [Prebuild] {
        try await rows(
            "SELECT * FROM prebuilds WHERE owner = \(owner) ORDER BY coalesce(built_at, created_at) DESC, tag COLLATE \"C\"",
            "listing images"
        ).map(Prebuild.init(postgres:))
    }

    public func prebuildCounts() async throws -> [Prebuild.Status: Int] {
        var counts: [Prebuild.Status: Int] = [:]
        for row in try await rows("SELECT status, count(*) FROM prebuilds GROUP BY status", "counting images") {
            let (status, count) = try row.decode((String, Int).self)
            if let status = Prebuild.Status(rawValue: status) { counts[status] = count }
        }
        return counts
    }

    public func touchPrebuild(_ key: PrebuildKey) async throws {
        _ = try await rows(
            "UPDATE prebuilds SET last_used_at = \(unescaped: PostgresJobStatements.now) WHERE owner = \(key.owner) AND tag = \(key.tag)",
            "marking an image used"
        )
    }

    public func deletePrebuilds(_ keys: [PrebuildKey]) async throws -> [PrebuildKey] {
        guard !keys.isEmpty else { return [] }
        let owners = keys.map(\.owner)
        let tags = keys.map(\.tag)
        let removed = try await announcing {
            try await rows(
                """
                DELETE FROM prebuilds USING unnest(\(owners)::text[], \(tags)::text[]) AS doomed(owner, tag)
                WHERE prebuilds.owner = doomed.owner AND prebuilds.tag = doomed.tag
                RETURNING prebuilds.owner, prebuilds.tag
                """,
                "forgetting images",
                retrying: false  // the second run would delete nothing and say so
            )
        }
        let deleted = Set(try removed.map { row in try row.decode((String, String).self) }.map { PrebuildKey(owner: $0.0, tag: $0.1) })
        return keys.filter { deleted.contains($0) }
    }

    public func stalePrebuilds(olderThanDays days: Double, owner: String?) async throws -> [PrebuildKey] {
        try await rows(
            """
            SELECT owner, tag FROM prebuilds WHERE status != 'building'
                AND greatest(coalesce(built_at, created_at), coalesce(last_used_at, 0)) <= \(unescaped: PostgresJobStatements.now) - \(days * 86400)
                AND (\(owner)::text IS NULL OR owner = \(owner))
            ORDER BY owner COLLATE "C", tag COLLATE "C"
            """,
            "listing stale images"
        ).map { row in
            let (owner, tag) = try row.decode((String, String).self)
            return PrebuildKey(owner: owner, tag: tag)
        }
    }
}
