import Queue

/// The parts of the Engine API's JSON that the worker reads or writes (API version 1.41), with
/// Swift names; each type's `CodingKeys` spell the engine's (`Id`, `HostConfig`, …).

/// `POST /containers/create` body.
struct ContainerConfig: Encodable, Sendable {
    var image: String
    /// Overrides the image's entrypoint (benchmarks and builds; runs use the image's own).
    var entrypoint: [String]?
    /// Overrides the image's command (nil: the image's own).
    var command: [String]? = nil
    /// Overrides the image's working directory (created by the engine when missing).
    var workingDirectory: String? = nil
    var user: String
    var environment: [String]
    var labels: [String: String]
    var attachStdin = true
    var attachStdout = true
    var attachStderr = true
    var openStdin = true
    var stdinOnce = true
    var tty = false
    var networkDisabled: Bool
    var hostConfig: HostConfig

    enum CodingKeys: String, CodingKey {
        case image = "Image"
        case entrypoint = "Entrypoint"
        case command = "Cmd"
        case workingDirectory = "WorkingDir"
        case user = "User"
        case environment = "Env"
        case labels = "Labels"
        case attachStdin = "AttachStdin"
        case attachStdout = "AttachStdout"
        case attachStderr = "AttachStderr"
        case openStdin = "OpenStdin"
        case stdinOnce = "StdinOnce"
        case tty = "Tty"
        case networkDisabled = "NetworkDisabled"
        case hostConfig = "HostConfig"
    }
}

/// `HostConfig` of a container create. A wire type only: it has no security defaults of its
/// own; every value comes from the spec that builds it (`SandboxSpec` for runs,
/// `BuildSandboxSpec` for prebuilds), where the table of what a container gets is written.
struct HostConfig: Encodable, Sendable {
    var memory: Int64
    var memorySwap: Int64
    var nanoCPUs: Int64
    var cpuShares: Int
    var pidsLimit: Int
    var readonlyRootfs: Bool
    var tmpfs: [String: String]
    var capDrop: [String]
    /// Capabilities given back after dropping all (builds only; runs get none).
    var capAdd: [String]? = nil
    var securityOptions: [String]
    var networkMode: String?
    var logConfig: LogConfiguration
    var initProcess: Bool
    /// The OCI runtime (`runsc`); nil for the engine's default.
    var runtime: String? = nil
    var autoRemove = false
    var shmSize: Int64
    /// Kernel settings of the container's own namespaces (IPv6 off on a networked sandbox).
    var sysctls: [String: String]? = nil
    /// `host-path:container-path:options` bind mounts (an allowlisted run's `resolv.conf`).
    var binds: [String]? = nil

    enum CodingKeys: String, CodingKey {
        case memory = "Memory"
        case memorySwap = "MemorySwap"
        case nanoCPUs = "NanoCpus"
        case cpuShares = "CpuShares"
        case pidsLimit = "PidsLimit"
        case readonlyRootfs = "ReadonlyRootfs"
        case tmpfs = "Tmpfs"
        case capDrop = "CapDrop"
        case capAdd = "CapAdd"
        case securityOptions = "SecurityOpt"
        case networkMode = "NetworkMode"
        case logConfig = "LogConfig"
        case initProcess = "Init"
        case runtime = "Runtime"
        case autoRemove = "AutoRemove"
        case shmSize = "ShmSize"
        case sysctls = "Sysctls"
        case binds = "Binds"
    }
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
    var id: String

    enum CodingKeys: String, CodingKey { case id = "Id" }
}

struct ContainerWaitResponse: Decodable, Sendable {
    var statusCode: Int

    enum CodingKeys: String, CodingKey { case statusCode = "StatusCode" }
}

struct ContainerInspect: Decodable, Sendable {
    struct State: Decodable, Sendable {
        var status: String
        var running: Bool
        var oomKilled: Bool
        var exitCode: Int

        enum CodingKeys: String, CodingKey {
            case status = "Status"
            case running = "Running"
            case oomKilled = "OOMKilled"
            case exitCode = "ExitCode"
        }
    }
    var id: String
    var state: State
    /// Bytes of the container's own writable layer; only with `?size=1`.
    var writableLayerBytes: Int64?

    enum CodingKeys: String, CodingKey {
        case id = "Id"
        case state = "State"
        case writableLayerBytes = "SizeRw"
    }
}

struct ContainerSummary: Decodable, Sendable {
    var id: String
    var labels: [String: String]?
    var state: String?

    enum CodingKeys: String, CodingKey {
        case id = "Id"
        case labels = "Labels"
        case state = "State"
    }
}

struct ImageSummary: Decodable, Sendable {
    var id: String
    var repoTags: [String]?
    var labels: [String: String]?

    enum CodingKeys: String, CodingKey {
        case id = "Id"
        case repoTags = "RepoTags"
        case labels = "Labels"
    }
}

/// `GET /info`, the fields the worker reads.
struct EngineInfo: Decodable, Sendable {
    var serverVersion: String
    /// Images in the engine's store, dangling ones included.
    var imageCount: Int
    /// The OCI runtimes registered with the engine, by name.
    var runtimes: [String: RegisteredRuntime]? = nil

    /// One entry of `daemon.json`'s `runtimes`.
    struct RegisteredRuntime: Decodable, Sendable {
        var path: String?
        var runtimeArgs: [String]?
    }

    enum CodingKeys: String, CodingKey {
        case serverVersion = "ServerVersion"
        case imageCount = "Images"
        case runtimes = "Runtimes"
    }
}

struct EngineErrorBody: Decodable {
    var message: String
}

/// `POST /networks/create` body.
/// A bridge network as the host sees it (`DockerClient.bridgeNetwork`).
struct BridgeNetwork: Sendable, Equatable {
    /// The host interface (`cr-<deployment>`).
    var interface: String
    /// The host's address on the bridge (a `/32`); nil if the engine reported none in IPv4.
    var gateway: IPv4Network?
}

struct NetworkCreate: Encodable, Sendable, Equatable {
    var name: String
    var driver: String
    var checkDuplicate: Bool
    var options: [String: String]
    var labels: [String: String]

    enum CodingKeys: String, CodingKey {
        case name = "Name"
        case driver = "Driver"
        case checkDuplicate = "CheckDuplicate"
        case options = "Options"
        case labels = "Labels"
    }
}

struct ImageInspect: Decodable, Sendable {
    /// The parts of an image's configuration a commit must restore.
    struct Configuration: Codable, Sendable {
        var user: String?
        var entrypoint: [String]?
        var command: [String]?
        var workingDirectory: String?
        var labels: [String: String]?

        enum CodingKeys: String, CodingKey {
            case user = "User"
            case entrypoint = "Entrypoint"
            case command = "Cmd"
            case workingDirectory = "WorkingDir"
            case labels = "Labels"
        }
    }
    var id: String
    var size: Int64
    var config: Configuration?

    enum CodingKeys: String, CodingKey {
        case id = "Id"
        case size = "Size"
        case config = "Config"
    }
}

/// `POST /containers/{id}/update` body (memory and swap always together).
struct ContainerUpdate: Encodable, Sendable {
    var memory: Int64
    var memorySwap: Int64
    var nanoCPUs: Int64
    var cpuShares: Int

    enum CodingKeys: String, CodingKey {
        case memory = "Memory"
        case memorySwap = "MemorySwap"
        case nanoCPUs = "NanoCpus"
        case cpuShares = "CpuShares"
    }
}
