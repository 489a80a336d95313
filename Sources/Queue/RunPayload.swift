/// One file of a run's work directory: a relative path and its UTF-8 content.
public struct WorkFile: Codable, Sendable, Equatable {
    public var name: String
    public var content: String

    public init(name: String, content: String) {
        self.name = name
        self.content = content
    }
}

/// One environment variable of a run, in the order the request gave them.
public struct EnvironmentVariable: Codable, Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A validated execution request with every default resolved: what a worker needs to run it,
/// and nothing it would have to look up again. Stored as the job's payload (JSON).
public struct RunPayload: Codable, Sendable, Equatable {
    /// The program source, written to the runtime's main file when non-empty.
    public var code: String
    /// Full image reference, `code-runner-<runtime>` or `prebuilt-<tag>`.
    public var image: String
    /// The file `code` is written to (the runtime's main file, e.g. `main.py`).
    public var mainFile: String
    /// The user's extra files, in request order.
    public var files: [WorkFile]
    /// A shell command run with `sh -c` instead of the runtime's default command.
    public var entrypoint: String?
    /// The program's standard input.
    public var stdin: String
    public var timeoutSeconds: Int
    public var memoryBytes: Int64
    public var cpuShares: Int
    /// CPU cap in billionths of a core (Docker's `NanoCpus`).
    public var nanoCPUs: Int64
    /// Size of the `/tmp` tmpfs, the only writable space.
    public var diskBytes: Int64
    public var pidsLimit: Int
    public var allowNetwork: Bool
    /// The request's `allowed_hosts` (`HostPattern` entries, in their request spelling): the
    /// run then reaches only these, through the deployment's allowlist proxy. Nil: no allowlist
    /// (no network, or the whole public internet with `allowNetwork`). `allowNetwork` stays
    /// false beside an allowlist, so that a worker from before allowlists, which reads only
    /// `allowNetwork`, runs such a job without network rather than with all of it.
    public var allowedHosts: [String]? = nil

    /// Whether the run has a network at all: the public internet or its allowlist.
    public var isNetworked: Bool { allowNetwork || allowedHosts != nil }
    public var environment: [EnvironmentVariable]
    /// Cap on each of stdout and stderr; the rest is dropped and flagged.
    public var maxOutputBytes: Int
    /// Largest metadata the program may return.
    public var maxMetadataBytes: Int
    /// For a prebuilt image: how to build it again on a worker whose engine lacks it.
    public var prebuild: PrebuildPayload?
    /// Judge mode (`tests` in the request): the cases, how outputs are compared, the build and
    /// run commands. Nil for an ordinary run. A worker from before judge mode ignores it and runs
    /// the program once with empty stdin.
    public var judge: JudgePayload? = nil
    /// What comes back of the work directory after the run (`output_files`, or the runtime's
    /// automatic patterns); nil: nothing. A worker from before output files ignores it.
    public var outputFiles: OutputFilesRequest? = nil

    public init(
        code: String,
        image: String,
        mainFile: String,
        files: [WorkFile] = [],
        entrypoint: String? = nil,
        stdin: String = "",
        timeoutSeconds: Int,
        memoryBytes: Int64,
        cpuShares: Int,
        nanoCPUs: Int64,
        diskBytes: Int64,
        pidsLimit: Int,
        allowNetwork: Bool = false,
        environment: [EnvironmentVariable] = [],
        maxOutputBytes: Int,
        maxMetadataBytes: Int
    ) {
        self.code = code
        self.image = image
        self.mainFile = mainFile
        self.files = files
        self.entrypoint = entrypoint
        self.stdin = stdin
        self.timeoutSeconds = timeoutSeconds
        self.memoryBytes = memoryBytes
        self.cpuShares = cpuShares
        self.nanoCPUs = nanoCPUs
        self.diskBytes = diskBytes
        self.pidsLimit = pidsLimit
        self.allowNetwork = allowNetwork
        self.environment = environment
        self.maxOutputBytes = maxOutputBytes
        self.maxMetadataBytes = maxMetadataBytes
    }
}
