/// What to run: the body of `POST /run` and `POST /jobs` (`CodeExecutionRequest`).
///
/// `code` is written to the runtime's main file (`main.py`, `main.js`, `main.ts`, `main.go`,
/// `main.rs`); `files` are written next to it. Every limit left `nil` takes the service's default.
public struct RunRequest: Sendable, Equatable, Codable {
    /// The main file's source (may be empty when `entrypoint` is given).
    public var code: String
    /// A runtime name (`python`, …) or a prebuilt image tag (`prebuilt-mytag`).
    public var image: String
    /// More files, by relative path.
    public var files: [String: String]?
    /// A shell command that replaces the runtime's default entrypoint.
    public var entrypoint: String?
    /// Fed to the program's standard input.
    public var stdin: String?
    /// Seconds the program may run (1…`MAX_TIMEOUT`).
    public var timeout: Int?
    /// Memory cap as Docker parses it: `256m`, `1g`, `512000k`.
    public var memoryLimit: String?
    /// CPU cap in cores (e.g. `0.5`).
    public var cpus: Double?
    /// Relative CPU weight (2…262144).
    public var cpuShares: Int?
    /// Writable disk space, a size such as `100m`.
    public var diskLimit: String?
    /// Whether the program may reach the network (off by default).
    public var allowNetwork: Bool?
    /// The only hosts the program may reach (1 to 64 entries; `nil` for no allowlist): a name
    /// matched exactly (`pypi.org`), `*.` and a domain for every name below it
    /// (`*.pythonhosted.org`, not the domain itself), or an IPv4 address or range
    /// (`203.0.113.0/24`). It implies network access, so it cannot be combined with
    /// `allowNetwork: false`. The program reaches the hosts only through the proxy named by
    /// `HTTP_PROXY` / `HTTPS_PROXY`; direct connections are refused.
    public var allowedHosts: [String]?
    /// Environment variables for the program.
    public var environment: [String: String]?
    /// How to rebuild a prebuilt image that the service does not have.
    public var prebuildSpec: PrebuildSpec?

    /// A run of `code` with `runtime`.
    public init(
        runtime: Runtime = .python,
        code: String,
        files: [String: String]? = nil,
        stdin: String? = nil,
        entrypoint: String? = nil,
        timeout: Int? = nil,
        memoryLimit: String? = nil,
        cpus: Double? = nil,
        cpuShares: Int? = nil,
        diskLimit: String? = nil,
        allowNetwork: Bool? = nil,
        allowedHosts: [String]? = nil,
        environment: [String: String]? = nil
    ) {
        self.code = code
        self.image = runtime.rawValue
        self.files = files
        self.stdin = stdin
        self.entrypoint = entrypoint
        self.timeout = timeout
        self.memoryLimit = memoryLimit
        self.cpus = cpus
        self.cpuShares = cpuShares
        self.diskLimit = diskLimit
        self.allowNetwork = allowNetwork
        self.allowedHosts = allowedHosts
        self.environment = environment
    }

    /// A run of `code` in the prebuilt image `tag` (with or without its `prebuilt-` prefix).
    public init(prebuilt tag: String, code: String, files: [String: String]? = nil, stdin: String? = nil) {
        self.init(code: code, files: files, stdin: stdin)
        self.image = ImageName.prebuilt(tag)
    }

    /// The base runtime and setup script of a prebuilt image (the seed's `prebuild_spec`).
    public struct PrebuildSpec: Sendable, Equatable, Codable {
        public var baseImage: String
        public var setupScript: String

        public init(baseImage: Runtime, setupScript: String) {
            self.baseImage = baseImage.rawValue
            self.setupScript = setupScript
        }

        enum CodingKeys: String, CodingKey {
            case baseImage = "base_image"
            case setupScript = "setup_script"
        }
    }

    enum CodingKeys: String, CodingKey {
        case code, image, files, entrypoint, stdin, timeout, cpus, environment
        case memoryLimit = "mem_limit"
        case cpuShares = "cpu_shares"
        case diskLimit = "disk_limit"
        case allowNetwork = "allow_network"
        case allowedHosts = "allowed_hosts"
        case prebuildSpec = "prebuild_spec"
    }
}
