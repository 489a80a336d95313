import Hummingbird
import Queue

/// `GET /`, `GET /health` (open), `GET /images` and its alias `GET /runtimes` (authenticated).
/// Everything about engines and images comes from what workers record; the API never talks
/// to Docker.
struct OperationsRoutes: Sendable {
    let dependencies: AppDependencies

    func register(on router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in JSONResponse.make(body: ["message": "Code Runner is operational."]) }
        router.get("/health") { _, _ in try await health() }
        router.get("/images") { request, _ in try await images(request) }
        router.get("/runtimes") { request, _ in try await images(request) }
        router.get("/openapi.json") { _, _ in OpenAPIDocument.response }
    }

    struct Health: Encodable {
        var status: String
        var docker_connected: Bool
        var auth_enabled: Bool
        var workers: Int
        /// The live workers by host (`WORKER_HOST`).
        var hosts: [HostSummary]
        var queue: QueueCounts
        var last_cleanup: LastCleanup?
        /// `enforced`, `unavailable` (networked runs and prebuilds are refused) or `unknown`.
        var egress: String
        /// Why, when `egress` is `unavailable`.
        var egress_problem: String?
        /// Where the API's keys come from, and the keys file's state (`KeyRegistry.Status`).
        var api_keys: APIKeys

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(status, forKey: .status)
            try container.encode(docker_connected, forKey: .docker_connected)
            try container.encode(auth_enabled, forKey: .auth_enabled)
            try container.encode(workers, forKey: .workers)
            try container.encode(hosts, forKey: .hosts)
            try container.encode(queue, forKey: .queue)
            try container.encode(last_cleanup, forKey: .last_cleanup)  // null until the first run
            try container.encode(egress, forKey: .egress)
            try container.encode(egress_problem, forKey: .egress_problem)
            try container.encode(api_keys, forKey: .api_keys)
        }

        enum CodingKeys: String, CodingKey {
            case status, docker_connected, auth_enabled, workers, hosts, queue, last_cleanup, egress, egress_problem, api_keys
        }
    }

    /// `/health`'s `api_keys`: nulls written out, so clients see every field.
    struct APIKeys: Encodable {
        var status: KeyRegistry.Status

        enum CodingKeys: String, CodingKey { case source, path, keys, loaded_at, error }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(status.source.rawValue, forKey: .source)
            try container.encode(status.path, forKey: .path)
            try container.encode(status.keys, forKey: .keys)
            try container.encode(status.loadedAt?.timeIntervalSince1970.iso8601, forKey: .loaded_at)
            try container.encode(status.error, forKey: .error)
        }
    }

    struct LastCleanup: Encodable {
        var finished_at: String
        var removed_jobs: Int
        var removed_containers: Int
        var removed_images: Int
    }

    func health() async throws -> Response {
        let workers = try await dependencies.liveWorkers()
        let connected = workers.contains { $0.dockerConnected }
        let counts = try await dependencies.store.counts()
        let egress = EgressAvailability(workers: workers)
        var egressProblem: String?
        if case .unavailable(let problem) = egress { egressProblem = problem }
        return JSONResponse.make(
            body: Health(
                status: connected ? "ok" : "degraded",
                docker_connected: connected,
                auth_enabled: dependencies.authenticator.isEnabled,
                workers: workers.count,
                hosts: HostSummary.summaries(of: workers),
                queue: counts,
                last_cleanup: try await dependencies.store.lastCleanup().map {
                    LastCleanup(
                        finished_at: $0.finishedAt.iso8601,
                        removed_jobs: $0.removedJobs,
                        removed_containers: $0.removedContainers,
                        removed_images: $0.removedImages
                    )
                },
                egress: egress.name,
                egress_problem: egressProblem,
                api_keys: APIKeys(status: dependencies.authenticator.registry.status)
            )
        )
    }

    struct ImageEntry: Encodable {
        var id: String
        var name: String
        var description: String
        var default_entrypoint: String
        var file_extension: String
        var main_file: String
        var completions: JSONValue
        /// What the image carries, from `runtime.json` (checked when the image is built).
        var packages: [RuntimeCatalog.Package]
        /// True when a live worker has this runtime's image.
        var available: Bool
    }

    struct Images: Encodable {
        var images: [ImageEntry]
        var `default`: String
    }

    func images(_ request: Request) async throws -> Response {
        _ = try dependencies.authenticator.owner(of: request)
        let present = Set(try await dependencies.liveWorkers().flatMap(\.images))
        let entries = dependencies.catalog.entries.map { entry in
            ImageEntry(
                id: entry.imageName,
                name: entry.name,
                description: entry.description,
                default_entrypoint: entry.defaultEntrypoint,
                file_extension: entry.fileExtension,
                main_file: entry.mainFile,
                completions: entry.completions,
                packages: entry.packages,
                available: present.contains(entry.imageName)
            )
        }
        return JSONResponse.make(body: Images(images: entries, default: dependencies.catalog.defaultEntry.imageName))
    }
}

extension QueueCounts: Encodable {
    enum CodingKeys: String, CodingKey { case queued, running }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(queued, forKey: .queued)
        try container.encode(running, forKey: .running)
    }
}
