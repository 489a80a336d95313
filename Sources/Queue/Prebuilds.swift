import Foundation
import GRDB

/// Who a prebuilt image belongs to and what it is called: the credential's owner fingerprint
/// (`""` when authentication is off) and the user's tag. Every prebuild route and every run by
/// tag looks images up by this pair, so one owner never sees, runs, rebuilds or deletes
/// another's image, and two owners may use the same tag without meeting.
public struct PrebuildKey: Codable, Sendable, Hashable {
    /// The owner fingerprint of the credential that built the image (`Job.owner`'s form).
    public var owner: String
    /// The tag without the `prebuilt-` prefix.
    public var tag: String

    public init(owner: String, tag: String) {
        self.owner = owner
        self.tag = tag
    }

    /// The name users see and send: `prebuilt-<tag>` (the seed's naming).
    public var publicName: String { ImageReference.prebuilt(tag: tag).publicName }

    /// The image reference on a worker's engine. Owners are told apart by the Docker tag, which
    /// a user's tag can never reach: `prebuilt-<tag>` (`:latest`) for the one owner of a service
    /// without authentication, as before images had owners, and `prebuilt-<tag>:o<24 hex>`
    /// (96 bits of the owner's SHA-256) for a credential.
    public var engineReference: String {
        owner.isEmpty ? publicName : "\(publicName):o\(SHA256.hexDigest(Array(owner.utf8)).prefix(24))"
    }
}

/// A prebuilt image as the service recorded it: `code-runner-<base>` plus a setup script run as
/// root at build time, owned by the credential that asked for it.
public struct Prebuild: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable, CaseIterable {
        case building, ready, failed
    }

    public var key: PrebuildKey
    public var baseRuntime: String
    public var setupScript: String
    public var status: Status
    public var buildLog: String
    public var sizeBytes: Int64
    public var layerSizeBytes: Int64
    public var createdAt: Double
    public var builtAt: Double?
    public var lastUsedAt: Double?
    /// The labels of the last successful build (empty before one).
    public var labels: [String: String] = [:]

    public var tag: String { key.tag }
    /// `prebuilt-<tag>`, as users name it.
    public var imageName: String { key.publicName }
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
    /// Whose image, and its tag (the engine reference follows from both).
    public var key: PrebuildKey
    public var baseRuntime: String
    public var setupScript: String
    public var timeoutSeconds: Int
    /// Cap on the build log kept.
    public var maxLogBytes: Int

    public var tag: String { key.tag }

    public init(action: Action, key: PrebuildKey, baseRuntime: String, setupScript: String, timeoutSeconds: Int, maxLogBytes: Int = 1 << 20) {
        self.action = action
        self.key = key
        self.baseRuntime = baseRuntime
        self.setupScript = setupScript
        self.timeoutSeconds = timeoutSeconds
        self.maxLogBytes = maxLogBytes
    }

    enum CodingKeys: String, CodingKey {
        case action, key, tag, baseRuntime, setupScript, timeoutSeconds, maxLogBytes
    }

    /// Jobs stored before images had owners carry only `tag`: they belong to the owner `""`.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        action = try container.decode(Action.self, forKey: .action)
        if let key = try container.decodeIfPresent(PrebuildKey.self, forKey: .key) {
            self.key = key
        } else {
            key = PrebuildKey(owner: "", tag: try container.decode(String.self, forKey: .tag))
        }
        baseRuntime = try container.decode(String.self, forKey: .baseRuntime)
        setupScript = try container.decode(String.self, forKey: .setupScript)
        timeoutSeconds = try container.decode(Int.self, forKey: .timeoutSeconds)
        maxLogBytes = try container.decodeIfPresent(Int.self, forKey: .maxLogBytes) ?? 1 << 20
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(action, forKey: .action)
        try container.encode(key, forKey: .key)
        try container.encode(baseRuntime, forKey: .baseRuntime)
        try container.encode(setupScript, forKey: .setupScript)
        try container.encode(timeoutSeconds, forKey: .timeoutSeconds)
        try container.encode(maxLogBytes, forKey: .maxLogBytes)
    }
}

/// What a finished build reports (the `prebuild` job's result).
public struct PrebuildOutcome: Codable, Sendable, Equatable {
    public var succeeded: Bool
    public var log: String
    public var sizeBytes: Int64
    public var layerSizeBytes: Int64
    /// The labels the built image carries (the runtime's `qm.*` ones and this service's), as
    /// `GET /prebuilds` shows them; nil for a failed build (and in results stored before).
    public var labels: [String: String]?

    public init(succeeded: Bool, log: String, sizeBytes: Int64, layerSizeBytes: Int64, labels: [String: String]? = nil) {
        self.succeeded = succeeded
        self.log = log
        self.sizeBytes = sizeBytes
        self.layerSizeBytes = layerSizeBytes
        self.labels = labels
    }

    /// A build that did not happen or did not succeed, with the reason as its log.
    public static func failure(_ log: String) -> PrebuildOutcome {
        PrebuildOutcome(succeeded: false, log: log, sizeBytes: 0, layerSizeBytes: 0)
    }
}

/// The answer to a build request.
public enum PrebuildStart: Sendable, Equatable {
    /// The spec is recorded and the image is `building`.
    case started
    /// The owner already has a build under way (one at a time per credential).
    case ownerBusy
}

// Every statement of the `prebuilds` table (River's rule: one file of named statements per
// table). Rows are always addressed by (owner, tag).
extension SQLiteJobStore {
    /// Records a (re)build request of the owner's tag, status `building` — unless the owner has
    /// another build under way: one concurrent build per credential. A build counts as under way
    /// for `busyFor` seconds after it began (its timeout and slack), so a build whose worker died
    /// does not block its owner for ever.
    public func beginPrebuild(_ key: PrebuildKey, baseRuntime: String, setupScript: String, busyFor: Double) async throws -> PrebuildStart {
        let now = DatabaseClock.now
        return try await databasePool.write { db in
            let busy =
                try SQLRequest<Bool>(
                    literal: """
                        SELECT EXISTS(SELECT 1 FROM prebuilds WHERE owner = \(key.owner) AND status = 'building'
                            AND build_started_at > \(sql: now) - \(busyFor))
                        """
                ).fetchOne(db) ?? false
            guard !busy else { return .ownerBusy }
            try db.execute(
                literal: """
                    INSERT INTO prebuilds (owner, tag, base_runtime, setup_script, status, created_at, build_started_at)
                    VALUES (\(key.owner), \(key.tag), \(baseRuntime), \(setupScript), 'building', \(sql: now), \(sql: now))
                    ON CONFLICT(owner, tag) DO UPDATE SET base_runtime = excluded.base_runtime,
                        setup_script = excluded.setup_script, status = 'building', build_started_at = excluded.build_started_at
                    """
            )
            return .started
        }
    }

    /// Takes the right to build the image for `seconds` (true), unless another live builder
    /// (`holder`: a worker id) holds it. An image with no record can always be built.
    public func acquirePrebuildLock(_ key: PrebuildKey, holder: String, seconds: Double) async throws -> Bool {
        let now = DatabaseClock.now
        return try await databasePool.write { db in
            guard
                try SQLRequest<Bool>(literal: "SELECT EXISTS(SELECT 1 FROM prebuilds WHERE owner = \(key.owner) AND tag = \(key.tag))").fetchOne(db)
                    == true
            else {
                return true
            }
            try db.execute(
                literal: """
                    UPDATE prebuilds SET build_holder = \(holder), build_lease_until = \(sql: now) + \(seconds)
                    WHERE owner = \(key.owner) AND tag = \(key.tag)
                        AND (build_holder IS NULL OR build_holder = \(holder) OR build_lease_until < \(sql: now))
                    """
            )
            return db.changesCount == 1
        }
    }

    public func releasePrebuildLock(_ key: PrebuildKey, holder: String) async throws {
        try await databasePool.write { db in
            try db.execute(
                literal: """
                    UPDATE prebuilds SET build_holder = NULL, build_lease_until = NULL
                    WHERE owner = \(key.owner) AND tag = \(key.tag) AND build_holder = \(holder)
                    """
            )
        }
    }

    /// Records a build's outcome.
    public func finishPrebuild(_ key: PrebuildKey, outcome: PrebuildOutcome) async throws {
        let now = DatabaseClock.now
        try await databasePool.write { db in
            try db.execute(
                literal: """
                    UPDATE prebuilds SET status = \(outcome.succeeded ? "ready" : "failed"), build_log = \(outcome.log),
                        size_bytes = \(outcome.sizeBytes), layer_size_bytes = \(outcome.layerSizeBytes),
                        built_at = CASE WHEN \(outcome.succeeded) THEN \(sql: now) ELSE built_at END,
                        labels = coalesce(\(outcome.labels.map(Self.labelsJSON)), labels)
                    WHERE owner = \(key.owner) AND tag = \(key.tag)
                    """
            )
        }
    }

    public func prebuild(_ key: PrebuildKey) async throws -> Prebuild? {
        try await databasePool.read { db in
            try SQLRequest<Row>(literal: "SELECT * FROM prebuilds WHERE owner = \(key.owner) AND tag = \(key.tag)").fetchOne(db).map(
                Prebuild.init(row:)
            )
        }
    }

    /// The owner's prebuilt images, newest first.
    public func prebuilds(owner: String) async throws -> [Prebuild] {
        try await databasePool.read { db in
            try SQLRequest<Row>(
                literal: """
                    SELECT * FROM prebuilds WHERE owner = \(owner) ORDER BY coalesce(built_at, created_at) DESC, tag
                    """
            ).fetchAll(db).map(Prebuild.init(row:))
        }
    }

    /// How many images every owner has, by status (for `/metrics`).
    public func prebuildCounts() async throws -> [Prebuild.Status: Int] {
        try await databasePool.read { db in
            var counts: [Prebuild.Status: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, count(*) AS n FROM prebuilds GROUP BY status") {
                if let status = Prebuild.Status(rawValue: row["status"]) { counts[status] = row["n"] }
            }
            return counts
        }
    }

    /// Marks a prebuilt image as used now (age counts from the last build or use).
    public func touchPrebuild(_ key: PrebuildKey) async throws {
        let now = DatabaseClock.now
        try await databasePool.write { db in
            try db.execute(literal: "UPDATE prebuilds SET last_used_at = \(sql: now) WHERE owner = \(key.owner) AND tag = \(key.tag)")
        }
    }

    /// Forgets prebuilt images; returns the ones that were recorded.
    public func deletePrebuilds(_ keys: [PrebuildKey]) async throws -> [PrebuildKey] {
        guard !keys.isEmpty else { return [] }
        return try await databasePool.write { db in
            var deleted: [PrebuildKey] = []
            for key in keys {
                try db.execute(literal: "DELETE FROM prebuilds WHERE owner = \(key.owner) AND tag = \(key.tag)")
                if db.changesCount > 0 { deleted.append(key) }
            }
            return deleted
        }
    }

    /// Images not built nor used for `days` days (builds under way excluded): the owner's, or
    /// every owner's when `owner` is nil (the scheduled clean-up).
    public func stalePrebuilds(olderThanDays days: Double, owner: String?) async throws -> [PrebuildKey] {
        let now = DatabaseClock.now
        let ownerFilter: SQL = owner.map { (owner: String) -> SQL in "AND owner = \(owner)" } ?? ""
        return try await databasePool.read { db in
            try SQLRequest<Row>(
                literal: """
                    SELECT owner, tag FROM prebuilds WHERE status != 'building'
                    AND max(coalesce(built_at, created_at), coalesce(last_used_at, 0)) <= \(sql: now) - \(days * 86400)
                    \(ownerFilter) ORDER BY owner, tag
                    """
            ).fetchAll(db).map { PrebuildKey(owner: $0["owner"], tag: $0["tag"]) }
        }
    }
}

extension Prebuild {
    init(row: Row) {
        self.init(
            key: PrebuildKey(owner: row["owner"], tag: row["tag"]),
            baseRuntime: row["base_runtime"],
            setupScript: row["setup_script"],
            status: Status(rawValue: row["status"]) ?? .failed,
            buildLog: row["build_log"],
            sizeBytes: row["size_bytes"],
            layerSizeBytes: row["layer_size_bytes"],
            createdAt: row["created_at"],
            builtAt: row["built_at"],
            lastUsedAt: row["last_used_at"],
            labels: Self.labels(fromJSON: row["labels"])
        )
    }
}

extension Prebuild {
    /// The `labels` column: a JSON object of strings (`{}` before the first build).
    /// Only `finishPrebuild` writes the column, always an object of strings.
    static func labels(fromJSON text: String?) -> [String: String] {
        guard let text, let data = text.data(using: .utf8) else { return [:] }
        return (try? JSONDecoder().decode([String: String].self, from: data)) ?? [:]
    }
}

extension SQLiteJobStore {
    /// A label set as the `labels` column stores it (sorted keys: the same set, the same text).
    static func labelsJSON(_ labels: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // encoding a dictionary of strings cannot fail
        return (try? encoder.encode(labels)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
