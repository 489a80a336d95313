/// The answer to `GET /health`.
public struct Health: Sendable, Equatable, Codable {
    /// `ok` when a live worker reaches Docker, else `degraded`.
    public var status: String
    public var dockerConnected: Bool
    public var authEnabled: Bool
    /// Live workers.
    public var workers: Int
    /// Live workers by host (`WORKER_HOST`); empty from a service that does not report them.
    public var hosts: [HostWorkers]
    public var queue: QueueCounts

    /// The live workers of one host.
    public struct HostWorkers: Sendable, Equatable, Codable {
        public var host: String
        public var workers: Int
        public var slots: Int
        public var busy: Int
        /// Of these workers, how many reach their Docker engine.
        public var dockerConnected: Int

        enum CodingKeys: String, CodingKey {
            case host, workers, slots, busy
            case dockerConnected = "docker_connected"
        }
    }

    /// Jobs waiting and running.
    public struct QueueCounts: Sendable, Equatable, Codable {
        public var queued: Int
        public var running: Int
    }

    /// Whether the service can run code right now.
    public var isOK: Bool { status == "ok" }

    enum CodingKeys: String, CodingKey {
        case status, workers, hosts, queue
        case dockerConnected = "docker_connected"
        case authEnabled = "auth_enabled"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        status = try container.decode(String.self, forKey: .status)
        dockerConnected = try container.decode(Bool.self, forKey: .dockerConnected)
        authEnabled = try container.decode(Bool.self, forKey: .authEnabled)
        workers = try container.decode(Int.self, forKey: .workers)
        hosts = try container.decodeIfPresent([HostWorkers].self, forKey: .hosts) ?? []
        queue = try container.decode(QueueCounts.self, forKey: .queue)
    }
}
