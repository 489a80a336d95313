import Foundation
import GRDB

/// A prebuilt image as the service recorded it: `prebuilt-<tag>` = `code-runner-<base>` plus a
/// setup script run as root at build time.
public struct Prebuild: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable, CaseIterable {
        case building, ready, failed
    }

    public var tag: String
    public var baseRuntime: String
    public var setupScript: String
    public var status: Status
    public var buildLog: String
    public var sizeBytes: Int64
    public var layerSizeBytes: Int64
    public var createdAt: Double
    public var builtAt: Double?
    public var lastUsedAt: Double?

    public var imageName: String { "prebuilt-\(tag)" }
}

/// What a `prebuild` job asks a worker to do.
public struct PrebuildPayload: Codable, Sendable, Equatable {
    public enum Action: String, Codable, Sendable {
        /// Build (or rebuild) the image from the spec.
        case build
        /// Remove the image from the worker's engine.
        case remove
    }

    public var action: Action
    public var tag: String
    public var baseRuntime: String
    public var setupScript: String
    public var timeoutSeconds: Int
    /// Cap on the build log kept.
    public var maxLogBytes: Int

    public init(action: Action, tag: String, baseRuntime: String, setupScript: String, timeoutSeconds: Int, maxLogBytes: Int = 1 << 20) {
        self.action = action
        self.tag = tag
        self.baseRuntime = baseRuntime
        self.setupScript = setupScript
        self.timeoutSeconds = timeoutSeconds
        self.maxLogBytes = maxLogBytes
    }
}

/// What a finished build reports (the `prebuild` job's result).
public struct PrebuildOutcome: Codable, Sendable, Equatable {
    public var succeeded: Bool
    public var log: String
    public var sizeBytes: Int64
    public var layerSizeBytes: Int64

    public init(succeeded: Bool, log: String, sizeBytes: Int64, layerSizeBytes: Int64) {
        self.succeeded = succeeded
        self.log = log
        self.sizeBytes = sizeBytes
        self.layerSizeBytes = layerSizeBytes
    }
}

extension SQLiteJobStore {
    /// Records a (re)build request: the spec, status `building`.
    public func beginPrebuild(tag: String, baseRuntime: String, setupScript: String) async throws {
        let now = DatabaseClock.now
        try await databasePool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO prebuilds (tag, base_runtime, setup_script, status, created_at)
                    VALUES (?, ?, ?, 'building', \(now))
                    ON CONFLICT(tag) DO UPDATE SET base_runtime = excluded.base_runtime,
                        setup_script = excluded.setup_script, status = 'building'
                    """, arguments: [tag, baseRuntime, setupScript])
        }
    }

    /// Takes the right to build `tag` for `seconds` (true), unless another live builder holds it.
    /// A tag with no record can always be built.
    public func acquirePrebuildLock(tag: String, owner: String, seconds: Double) async throws -> Bool {
        let now = DatabaseClock.now
        return try await databasePool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM prebuilds WHERE tag = ?)", arguments: [tag]) == true else {
                return true
            }
            try db.execute(
                sql: """
                    UPDATE prebuilds SET build_owner = ?, build_lease_until = \(now) + ?
                    WHERE tag = ? AND (build_owner IS NULL OR build_owner = ? OR build_lease_until < \(now))
                    """, arguments: [owner, seconds, tag, owner])
            return db.changesCount == 1
        }
    }

    public func releasePrebuildLock(tag: String, owner: String) async throws {
        try await databasePool.write { db in
            try db.execute(
                sql: "UPDATE prebuilds SET build_owner = NULL, build_lease_until = NULL WHERE tag = ? AND build_owner = ?",
                arguments: [tag, owner])
        }
    }

    /// Records a build's outcome.
    public func finishPrebuild(tag: String, outcome: PrebuildOutcome) async throws {
        let now = DatabaseClock.now
        try await databasePool.write { db in
            try db.execute(
                sql: """
                    UPDATE prebuilds SET status = ?, build_log = ?, size_bytes = ?, layer_size_bytes = ?,
                        built_at = CASE WHEN ? THEN \(now) ELSE built_at END
                    WHERE tag = ?
                    """,
                arguments: [
                    outcome.succeeded ? "ready" : "failed", outcome.log, outcome.sizeBytes, outcome.layerSizeBytes,
                    outcome.succeeded, tag,
                ])
        }
    }

    public func prebuild(tag: String) async throws -> Prebuild? {
        try await databasePool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM prebuilds WHERE tag = ?", arguments: [tag]).map(Prebuild.init(row:))
        }
    }

    public func prebuilds() async throws -> [Prebuild] {
        try await databasePool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM prebuilds ORDER BY coalesce(built_at, created_at) DESC").map(Prebuild.init(row:))
        }
    }

    /// Marks a prebuilt image as used now (age counts from the last build or use).
    public func touchPrebuild(tag: String) async throws {
        let now = DatabaseClock.now
        try await databasePool.write { db in
            try db.execute(sql: "UPDATE prebuilds SET last_used_at = \(now) WHERE tag = ?", arguments: [tag])
        }
    }

    /// Forgets prebuilt images; returns the tags that were recorded.
    public func deletePrebuilds(tags: [String]) async throws -> [String] {
        guard !tags.isEmpty else { return [] }
        return try await databasePool.write { db in
            var deleted: [String] = []
            for tag in tags {
                try db.execute(sql: "DELETE FROM prebuilds WHERE tag = ?", arguments: [tag])
                if db.changesCount > 0 { deleted.append(tag) }
            }
            return deleted
        }
    }

    /// Tags not built nor used for `days` days (builds still running excluded).
    public func stalePrebuilds(olderThanDays days: Double) async throws -> [String] {
        let now = DatabaseClock.now
        return try await databasePool.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT tag FROM prebuilds WHERE status != 'building'
                    AND max(coalesce(built_at, created_at), coalesce(last_used_at, 0)) <= \(now) - ?
                    """, arguments: [days * 86400])
        }
    }
}

extension Prebuild {
    init(row: Row) {
        self.init(
            tag: row["tag"], baseRuntime: row["base_runtime"], setupScript: row["setup_script"],
            status: Status(rawValue: row["status"]) ?? .failed, buildLog: row["build_log"],
            sizeBytes: row["size_bytes"], layerSizeBytes: row["layer_size_bytes"], createdAt: row["created_at"],
            builtAt: row["built_at"], lastUsedAt: row["last_used_at"])
    }
}
