/// The answer to `GET /health`.
public struct Health: Sendable, Equatable, Codable {
    /// `ok` when a live worker reaches Docker, else `degraded`.
    public var status: String
    public var dockerConnected: Bool
    public var authEnabled: Bool
    /// Live workers.
    public var workers: Int
    public var queue: QueueCounts

    /// Jobs waiting and running.
    public struct QueueCounts: Sendable, Equatable, Codable {
        public var queued: Int
        public var running: Int
    }

    /// Whether the service can run code right now.
    public var isOK: Bool { status == "ok" }

    enum CodingKeys: String, CodingKey {
        case status, workers, queue
        case dockerConnected = "docker_connected"
        case authEnabled = "auth_enabled"
    }
}
