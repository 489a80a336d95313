/// What a worker process reports about itself with every heartbeat; the API learns everything
/// about engines and images from these rows and never talks to Docker itself.
public struct WorkerStatus: Sendable, Equatable {
    public var id: String
    public var pid: Int
    public var host: String
    /// Execution slots (`WORKER_CONCURRENCY`) and how many are in use.
    public var slots: Int
    public var busy: Int
    /// True once the worker stopped claiming (SIGTERM).
    public var draining: Bool
    public var dockerConnected: Bool
    public var engineVersion: String?
    /// Why Docker could not be reached, when it could not.
    public var dockerError: String?
    /// Image references present on the worker's engine (runtime and prebuilt images).
    public var images: [String]
    /// Warm containers started and waiting for a job (`POOL_SIZE` per runtime in use).
    public var poolReady: Int
    /// Why this worker cannot start networked runs (its egress policy could not be installed
    /// or checked); nil when it can.
    public var egressProblem: String?

    public init(
        id: String,
        pid: Int,
        host: String,
        slots: Int,
        busy: Int = 0,
        draining: Bool = false,
        dockerConnected: Bool = false,
        engineVersion: String? = nil,
        dockerError: String? = nil,
        images: [String] = [],
        poolReady: Int = 0,
        egressProblem: String? = nil
    ) {
        self.id = id
        self.pid = pid
        self.host = host
        self.slots = slots
        self.busy = busy
        self.draining = draining
        self.dockerConnected = dockerConnected
        self.engineVersion = engineVersion
        self.dockerError = dockerError
        self.images = images
        self.poolReady = poolReady
        self.egressProblem = egressProblem
    }
}
