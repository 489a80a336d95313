/// What to run: the body of `POST /run` and `POST /jobs` (`CodeExecutionRequest`).
///
/// `code` is written to the runtime's main file (`main.py`, `main.js`, `main.ts`, `main.go`,
/// `main.rs`); `files` are written next to it. Every limit left `nil` takes the service's default.
///
/// With `tests` the run is in judge mode: the program is built (or syntax-checked) once and then
/// run once per case, and the result carries a verdict per case
/// (see ``ExecutionResult/verdict``). `stdin` cannot be combined with `tests` (each case has its
/// own), and `compare`, `floatTolerance` and `stopOnFirstFailure` need `tests`.
public struct RunRequest: Sendable, Equatable, Codable {
    /// The main file's source (may be empty when `entrypoint` is given).
    public var code: String
    /// A runtime name (`python`, …) or a prebuilt image tag (`prebuilt-mytag`).
    public var image: String
    /// More files, by relative path.
    public var files: [String: String]?
    /// A shell command that replaces the runtime's default entrypoint.
    public var entrypoint: String?
    /// Fed to the program's standard input (not with `tests`).
    public var stdin: String?
    /// Seconds the program may run (1…`MAX_TIMEOUT`); in judge mode, the whole run (build and
    /// every case) and the default and upper bound of each case's own timeout.
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
    /// Judge mode's cases (1 to 1000), run in order; `nil` for an ordinary run.
    public var tests: [TestCase]?
    /// How each case's output is compared with its expected output (`nil`: ``OutputComparison/trim``).
    public var compare: OutputComparison?
    /// The tolerance of ``OutputComparison/float`` (finite, at least 0; `nil`: 1e-6). Only with
    /// `compare: .float`.
    public var floatTolerance: Double?
    /// Whether the cases after the first one that is not accepted are skipped (`nil`: false).
    public var stopOnFirstFailure: Bool?
    /// A webhook: an `http` or `https` URL the service POSTs the job's JSON to once it has
    /// finished (completed, failed or cancelled), signed with the deployment's `WEBHOOK_SECRET`
    /// (see the `callback_url` field of the service's OpenAPI document); ``Job/callback`` shows
    /// how the delivery stands. The service refuses it (an invalid request) when webhooks are off
    /// or the URL's host resolves to a loopback, private or otherwise refused address.
    public var callbackURL: String?
    /// Glob patterns (relative to the work directory; `**` for any depth) of files to get back
    /// after the run, in ``ExecutionResult/files``; at most 32. `nil`: only the runtime's
    /// automatic ones (Python's matplotlib figures); `[]`: none at all.
    public var outputFiles: [String]?
    /// Orders the API key's own jobs, 0...10, higher first (`nil`: the key's priority, its
    /// ceiling). It never lets a key pass other keys' share of the workers: keys with queued
    /// work are served round-robin, weighted by their priority in the service's `API_KEYS_FILE`.
    public var priority: Int?

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
        environment: [String: String]? = nil,
        tests: [TestCase]? = nil,
        compare: OutputComparison? = nil,
        floatTolerance: Double? = nil,
        stopOnFirstFailure: Bool? = nil,
        callbackURL: String? = nil,
        outputFiles: [String]? = nil,
        priority: Int? = nil
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
        self.tests = tests
        self.compare = compare
        self.floatTolerance = floatTolerance
        self.stopOnFirstFailure = stopOnFirstFailure
        self.callbackURL = callbackURL
        self.outputFiles = outputFiles
        self.priority = priority
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
        case code, image, files, entrypoint, stdin, timeout, cpus, environment, tests, compare, priority
        case memoryLimit = "mem_limit"
        case cpuShares = "cpu_shares"
        case diskLimit = "disk_limit"
        case allowNetwork = "allow_network"
        case allowedHosts = "allowed_hosts"
        case prebuildSpec = "prebuild_spec"
        case floatTolerance = "float_tolerance"
        case stopOnFirstFailure = "stop_on_first_failure"
        case callbackURL = "callback_url"
        case outputFiles = "output_files"
    }
}
