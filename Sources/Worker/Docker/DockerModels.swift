/// The parts of the Engine API's JSON that the worker reads or writes (API version 1.41).

/// `POST /containers/create` body.
struct ContainerConfig: Encodable, Sendable {
    var Image: String
    /// Overrides the image's entrypoint (benchmarks and builds; runs use the image's own).
    var Entrypoint: [String]?
    /// Overrides the image's command (nil: the image's own).
    var Cmd: [String]? = nil
    /// Overrides the image's working directory (created by the engine when missing).
    var WorkingDir: String? = nil
    var User: String
    var Env: [String]
    var Labels: [String: String]
    var AttachStdin = true
    var AttachStdout = true
    var AttachStderr = true
    var OpenStdin = true
    var StdinOnce = true
    var Tty = false
    var NetworkDisabled: Bool
    var HostConfig: HostConfig
}

/// `HostConfig` of a container create. A wire type only: it has no security defaults of its
/// own; every value comes from the spec that builds it (`SandboxSpec` for runs,
/// `BuildSandboxSpec` for prebuilds), where the table of what a container gets is written.
struct HostConfig: Encodable, Sendable {
    var Memory: Int64
    var MemorySwap: Int64
    var NanoCpus: Int64
    var CpuShares: Int
    var PidsLimit: Int
    var ReadonlyRootfs: Bool
    var Tmpfs: [String: String]
    var CapDrop: [String]
    /// Capabilities given back after dropping all (builds only; runs get none).
    var CapAdd: [String]? = nil
    var SecurityOpt: [String]
    var NetworkMode: String?
    var LogConfig: LogConfiguration
    var Init: Bool
    var Runtime: String? = nil
    var AutoRemove = false
    var ShmSize: Int64
}

struct LogConfiguration: Encodable, Sendable {
    var type: String
    /// Driver options (e.g. json-file's `max-size` and `max-file`).
    var config: [String: String]? = nil
    enum CodingKeys: String, CodingKey {
        case type = "Type"
        case config = "Config"
    }
}

struct ContainerCreated: Decodable, Sendable {
    var Id: String
}

struct ContainerWaitResponse: Decodable, Sendable {
    var StatusCode: Int
}

struct ContainerInspect: Decodable, Sendable {
    struct State: Decodable, Sendable {
        var Status: String
        var Running: Bool
        var OOMKilled: Bool
        var ExitCode: Int
    }
    var Id: String
    var State: State
    /// Bytes of the container's own writable layer; only with `?size=1`.
    var SizeRw: Int64?
}

struct ContainerSummary: Decodable, Sendable {
    var Id: String
    var Labels: [String: String]?
    var State: String?
}

struct ImageSummary: Decodable, Sendable {
    var Id: String
    var RepoTags: [String]?
    var Labels: [String: String]?
}

/// `GET /info`, the two fields the worker reads.
struct EngineInfo: Decodable, Sendable {
    var ServerVersion: String
    /// Images in the engine's store, dangling ones included.
    var Images: Int
}

struct EngineErrorBody: Decodable {
    var message: String
}

/// `POST /networks/create` body.
struct NetworkCreate: Encodable, Sendable {
    var Name: String
    var Driver: String
    var CheckDuplicate: Bool
    var Options: [String: String]
    var Labels: [String: String]
}

struct ImageInspect: Decodable, Sendable {
    /// The parts of an image's configuration a commit must restore.
    struct Configuration: Codable, Sendable {
        var User: String?
        var Entrypoint: [String]?
        var Cmd: [String]?
        var WorkingDir: String?
        var Labels: [String: String]?
    }
    var Id: String
    var Size: Int64
    var Config: Configuration?
}

/// `POST /containers/{id}/update` body (memory and swap always together).
struct ContainerUpdate: Encodable, Sendable {
    var Memory: Int64
    var MemorySwap: Int64
    var NanoCpus: Int64
    var CpuShares: Int
}
