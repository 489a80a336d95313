import Foundation
import PostgresNIO

// The model types read from PostgreSQL rows (`SELECT *` / `RETURNING *`), as their SQLite
// twins read GRDB rows.

extension Job {
    init(postgres row: PostgresRow) throws {
        let columns = row.makeRandomAccess()
        let kindName = try columns["kind"].decode(String.self)
        let stateName = try columns["state"].decode(String.self)
        let publicID = try columns["public_id"].decode(String.self)
        guard let kind = JobKind(rawValue: kindName), let state = JobState(rawValue: stateName) else {
            throw PostgresUnreadableRow("job \(publicID) has an unknown kind or state")
        }
        let errorStatus = try columns["error_status"].decode(Int?.self)
        let errorDetail = try columns["error_detail"].decode(String?.self)
        self.init(
            id: try columns["id"].decode(Int64.self),
            publicID: publicID,
            kind: kind,
            state: state,
            owner: try columns["owner"].decode(String.self),
            payload: try columns["payload"].decode(Data.self),
            result: try columns["result"].decode(Data?.self),
            failure: state == .failed
                ? JobFailure(statusCode: errorStatus ?? 500, detail: errorDetail ?? "An unexpected error occurred")
                : nil,
            attempts: try columns["attempts"].decode(Int.self),
            maxAttempts: try columns["max_attempts"].decode(Int.self),
            createdAt: try columns["created_at"].decode(Double.self),
            startedAt: try columns["started_at"].decode(Double?.self),
            finishedAt: try columns["finished_at"].decode(Double?.self),
            callback: Callback(
                url: try columns["callback_url"].decode(String?.self),
                status: try columns["callback_status"].decode(String?.self),
                attempts: try columns["callback_attempts"].decode(Int.self),
                lastError: try columns["callback_error"].decode(String?.self)
            ),
            priority: try columns["priority"].decode(Int.self)
        )
    }
}

extension Lease {
    /// The lease of a row with `id` and `lease_token`; throws when the row has no lease.
    init(postgres row: PostgresRow) throws {
        let columns = row.makeRandomAccess()
        let id = try columns["id"].decode(Int64.self)
        guard let token = try columns["lease_token"].decode(String?.self) else {
            throw PostgresUnreadableRow("job \(id) has no lease token")
        }
        self.init(jobID: id, token: token)
    }
}

extension WorkerStatus {
    /// A `workers` row. An `images` column that is not a JSON list of strings reads as no images.
    init(postgres row: PostgresRow) throws {
        let columns = row.makeRandomAccess()
        let imagesJSON = try columns["images"].decode(String.self)
        self.init(
            id: try columns["id"].decode(String.self),
            pid: try columns["pid"].decode(Int.self),
            host: try columns["host"].decode(String.self),
            slots: try columns["slots"].decode(Int.self),
            busy: try columns["busy"].decode(Int.self),
            draining: try columns["draining"].decode(Bool.self),
            dockerConnected: try columns["docker_connected"].decode(Bool.self),
            engineVersion: try columns["engine_version"].decode(String?.self),
            dockerError: try columns["docker_error"].decode(String?.self),
            images: (try? JSONDecoder().decode([String].self, from: Data(imagesJSON.utf8))) ?? [],
            poolReady: try columns["pool_ready"].decode(Int.self),
            egressProblem: try columns["egress_problem"].decode(String?.self)
        )
    }
}

extension Prebuild {
    init(postgres row: PostgresRow) throws {
        let columns = row.makeRandomAccess()
        self.init(
            key: PrebuildKey(owner: try columns["owner"].decode(String.self), tag: try columns["tag"].decode(String.self)),
            baseRuntime: try columns["base_runtime"].decode(String.self),
            setupScript: try columns["setup_script"].decode(String.self),
            status: Status(rawValue: try columns["status"].decode(String.self)) ?? .failed,
            buildLog: try columns["build_log"].decode(String.self),
            sizeBytes: try columns["size_bytes"].decode(Int64.self),
            layerSizeBytes: try columns["layer_size_bytes"].decode(Int64.self),
            createdAt: try columns["created_at"].decode(Double.self),
            builtAt: try columns["built_at"].decode(Double?.self),
            lastUsedAt: try columns["last_used_at"].decode(Double?.self),
            labels: Self.labels(fromJSON: try columns["labels"].decode(String.self))
        )
    }
}

/// A row this build cannot read (an unknown state, a missing lease).
struct PostgresUnreadableRow: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
