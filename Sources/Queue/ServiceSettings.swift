import Configuration
import Foundation
import Logging

/// Every setting of the service, read from the environment and from a `.env` file in the working
/// directory (the environment wins), with the seed's defaults and startup validation.
///
/// The API and the workers read the same settings, so that limits are applied consistently.
public struct ServiceSettings: Sendable {
    public var host = "0.0.0.0"
    public var port = 8000
    public var logLevel = "info"
    /// `LOG_FORMAT`: `text` (swift-log's default lines) or `json` (one object per line).
    public var logFormat = LogFormat.text
    public var defaultTimeout = 30
    public var maxTimeout = 300
    public var defaultMemory = "256m"
    public var maxMemoryMB = 2048
    public var defaultCPUShares = 512
    public var maxCPUCores = 4.0
    public var defaultDisk = "512m"
    public var maxDiskMB = 5000
    public var dockerSocket = "/var/run/docker.sock"
    public var authToken: String?
    public var apiKeys: [String] = []
    /// `API_KEYS_FILE`: named keys with limits (JSON; the API's `APIKeyFile`), reloaded when it
    /// changes; nil: none.
    public var apiKeysFile: String?
    public var cleanupIntervalHours = 24
    public var cleanupMaxAgeDays = 7
    public var runtimeDirectory = "runtimes"
    public var databasePath = "data/code-runner.sqlite"
    /// `DATABASE_URL`: a PostgreSQL server for the job queue (several hosts share it); nil keeps
    /// the SQLite file at `databasePath`.
    public var databaseURL: PostgresLocation?
    /// `DATABASE_POOL_SIZE`: connections each process may open to PostgreSQL (its pool), besides
    /// the one it listens on for wake-ups.
    public var databasePoolSize = 10
    public var defaultCPUs = 1.0
    public var maxOutputBytes = 1_048_576
    public var maxMetadataBytes = 1_048_576
    /// `MAX_OUTPUT_FILES`: the most output files one run returns.
    public var maxOutputFiles = 20
    /// `MAX_OUTPUT_FILE_BYTES`: the most bytes of content a run's output files may have, all
    /// together (they are stored in the job's result, base64 in its JSON).
    public var maxOutputFileBytes = 8_388_608
    /// `LIVE_OUTPUT` (`on`/`off`): whether workers store a run's output while it runs, for
    /// `GET /jobs/{id}/events`. Off, streams show a job's output only once it has finished.
    public var liveOutput = true
    public var defaultPidsLimit = 256
    public var runWaitSlack = 30
    public var jobRetentionHours = 24
    public var workerConcurrency = 2
    /// How long a claimed job stays leased without a heartbeat (heartbeats come every third of it).
    public var leaseSeconds = 10.0
    public var prebuildTimeout = 600
    /// Memory of a build container (no swap); a setup script that needs more is OOM-killed.
    public var prebuildMemoryMB = 2048
    /// CPUs of a build container.
    public var prebuildCPUs = 1.0
    /// Processes a build container may hold at once.
    public var prebuildPidsLimit = 512
    /// Largest layer a setup script may add; checked while the build runs and before commit.
    public var prebuildMaxLayerMB = 2048
    /// When set, only `Authorization: Bearer <METRICS_TOKEN>` may read `/metrics`.
    public var metricsToken: String?
    /// Jobs allowed to wait in the queue; more are refused with 429.
    public var maxQueueDepth = 1000
    /// An OCI runtime registered with the engine (e.g. `runsc`) for every container; nil = engine default.
    public var sandboxRuntime: String?
    /// A PEM bundle the setup scripts of prebuilt images may use (TLS-intercepting proxies).
    public var prebuildCABundle: String?
    /// Warm containers kept per runtime image in use, per worker (0 turns the pool off).
    public var poolSize = 2
    /// `POOL_PRESTART` (`on`/`off`): whether warm containers start their runtime's interpreter
    /// before the run is known (python, node, bun, deno: `runtimes/PROTOCOL.md`, "Pre-started
    /// interpreters"). Off, a warm run starts its interpreter as a cold run does.
    public var poolPrestart = true
    /// `EGRESS_ALLOW_CIDRS`: ranges networked sandboxes may reach although the default egress
    /// policy denies them (an internal package mirror at a private address).
    public var egressAllowCIDRs: [IPv4Network] = []
    /// `EGRESS_DENY_CIDRS`: ranges networked sandboxes never reach, on top of the default
    /// policy; a range in both lists is denied.
    public var egressDenyCIDRs: [IPv4Network] = []
    /// `WEBHOOK_SECRET`: the key of the HMAC that signs every webhook delivery
    /// (`X-Code-Runner-Signature`). Unset, webhooks are off: a `callback_url` is a 422, since an
    /// unsigned callback could be forged by anyone who learns the receiver's address.
    public var webhookSecret: String?
    /// `WEBHOOK_ALLOW_CIDRS`: ranges (IPv4 or IPv6) a `callback_url` may point into although they
    /// are refused by default (loopback, private, link-local …): a receiver on the same machine
    /// (`127.0.0.0/8`) or in the operator's own network.
    public var webhookAllowCIDRs: [IPAddressRange] = []
    /// `WORKER_HOST`: the name a worker's host goes by — in the `code-runner.host` label of its
    /// containers (a worker's orphan sweep never touches another host's), in `/health` and in
    /// `/metrics`. The machine's host name by default; hosts sharing one engine (the multi-host
    /// test on one machine) or one host name set it apart.
    public var workerHost = ServiceSettings.machineHostName

    /// The machine's host name, cut to what a Docker label and a Prometheus label value carry well.
    public static let machineHostName: String = {
        let name = String(ProcessInfo.processInfo.hostName.prefix(63))
        return isValidHostLabel(name) ? name : "localhost"
    }()

    /// 1 to 63 of `[A-Za-z0-9._-]`.
    static func isValidHostLabel(_ name: String) -> Bool { isLabelValue(name, maxLength: 63) }

    /// 1 to `maxLength` of `[A-Za-z0-9._-]`: a word a log line, a Docker label and a Prometheus
    /// label value carry as it is.
    public static func isLabelValue(_ name: String, maxLength: Int) -> Bool {
        (1...maxLength).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte) || byte == 0x2e || byte == 0x2d
                    || byte == 0x5f
            }
    }

    /// Auth is on when an API key, a non-empty `AUTH_TOKEN` or a keys file is configured.
    public var authEnabled: Bool { !apiKeys.isEmpty || authToken != nil || apiKeysFile != nil }

    public var defaultMemoryBytes: Int64 { ByteSize.parse(defaultMemory) ?? 256 * ByteSize.mebibyte }
    public var defaultDiskBytes: Int64 { ByteSize.parse(defaultDisk) ?? 512 * ByteSize.mebibyte }

    public init() {}

    /// Settings from an explicit variable table (tests), validated.
    public init(variables: [String: String]) throws(InvalidConfiguration) {
        try self.init(lookup: { variables[$0] })
    }

    /// Reads the process environment and `./.env`, then validates.
    public static func load(environmentFile: String = ".env") async throws -> ServiceSettings {
        let environment = EnvironmentVariablesProvider()
        let file = try await EnvironmentVariablesProvider(
            environmentFilePath: .init(environmentFile),
            allowMissing: true
        )
        let reader = ConfigReader(providers: [environment, file])
        return try ServiceSettings(lookup: { reader.string(forKey: ConfigKey([$0])) })
    }

    private init(lookup: (String) -> String?) throws(InvalidConfiguration) {
        var problems: [String] = []
        func text(_ name: String) -> String? { lookup(name) }
        func integer(_ name: String, _ target: inout Int) {
            guard let raw = text(name) else { return }
            if let value = Int(raw.trimmingCharacters(in: .whitespaces)) {
                target = value
            } else {
                problems.append("\(name) must be an integer, got '\(raw)'")
            }
        }
        func decimal(_ name: String, _ target: inout Double) {
            guard let raw = text(name) else { return }
            if let value = Double(raw.trimmingCharacters(in: .whitespaces)), value.isFinite {
                target = value
            } else {
                problems.append("\(name) must be a number, got '\(raw)'")
            }
        }
        /// `on`/`off` (also true/false, 1/0, yes/no).
        func onOff(_ name: String, _ target: inout Bool) {
            guard let raw = text(name) else { return }
            switch raw.trimmingCharacters(in: .whitespaces).lowercased() {
            case "on", "true", "1", "yes": target = true
            case "off", "false", "0", "no": target = false
            default: problems.append("\(name) must be on or off, got '\(raw)'")
            }
        }

        if let value = text("HOST") { host = value }
        integer("PORT", &port)
        if let value = text("LOG_LEVEL") {
            logLevel = value.lowercased() == "warn" ? "warning" : value.lowercased()
            if Logger.Level(rawValue: logLevel) == nil {
                problems.append("LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical, got '\(value)'")
            }
        }
        if let value = text("LOG_FORMAT") {
            if let format = LogFormat(rawValue: value.lowercased()) {
                logFormat = format
            } else {
                problems.append("LOG_FORMAT must be text or json, got '\(value)'")
            }
        }
        integer("DEFAULT_TIMEOUT", &defaultTimeout)
        integer("MAX_TIMEOUT", &maxTimeout)
        if let value = text("DEFAULT_MEMORY") { defaultMemory = value.trimmingCharacters(in: .whitespaces) }
        integer("MAX_MEMORY_MB", &maxMemoryMB)
        integer("DEFAULT_CPU_SHARES", &defaultCPUShares)
        decimal("MAX_CPU_CORES", &maxCPUCores)
        if let value = text("DEFAULT_DISK") { defaultDisk = value.trimmingCharacters(in: .whitespaces) }
        integer("MAX_DISK_MB", &maxDiskMB)
        if let value = text("DOCKER_SOCKET"), !value.isEmpty { dockerSocket = value }
        if let value = text("AUTH_TOKEN"), !value.isEmpty { authToken = value }
        if let value = text("CODE_RUNNER_API_KEYS") {
            apiKeys = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let value = text("API_KEYS_FILE"), !value.trimmingCharacters(in: .whitespaces).isEmpty { apiKeysFile = value }
        integer("CLEANUP_INTERVAL_HOURS", &cleanupIntervalHours)
        integer("CLEANUP_MAX_AGE_DAYS", &cleanupMaxAgeDays)
        if let value = text("RUNTIME_DIR"), !value.isEmpty { runtimeDirectory = value }
        if let value = text("DATABASE_PATH"), !value.isEmpty { databasePath = value }
        if let value = text("DATABASE_URL"), !value.trimmingCharacters(in: .whitespaces).isEmpty {
            do throws(InvalidDatabaseURL) {
                databaseURL = try PostgresLocation(url: value)
            } catch {
                problems.append(error.description)
            }
        }
        integer("DATABASE_POOL_SIZE", &databasePoolSize)
        decimal("DEFAULT_CPUS", &defaultCPUs)
        integer("MAX_OUTPUT_BYTES", &maxOutputBytes)
        integer("MAX_METADATA_BYTES", &maxMetadataBytes)
        integer("MAX_OUTPUT_FILES", &maxOutputFiles)
        integer("MAX_OUTPUT_FILE_BYTES", &maxOutputFileBytes)
        onOff("LIVE_OUTPUT", &liveOutput)
        integer("DEFAULT_PIDS_LIMIT", &defaultPidsLimit)
        integer("RUN_WAIT_SLACK", &runWaitSlack)
        integer("JOB_RETENTION_HOURS", &jobRetentionHours)
        integer("WORKER_CONCURRENCY", &workerConcurrency)
        decimal("LEASE_SECONDS", &leaseSeconds)
        integer("PREBUILD_TIMEOUT", &prebuildTimeout)
        integer("PREBUILD_MEMORY_MB", &prebuildMemoryMB)
        decimal("PREBUILD_CPUS", &prebuildCPUs)
        integer("PREBUILD_PIDS_LIMIT", &prebuildPidsLimit)
        integer("PREBUILD_MAX_LAYER_MB", &prebuildMaxLayerMB)
        if let value = text("METRICS_TOKEN"), !value.isEmpty { metricsToken = value }
        integer("MAX_QUEUE_DEPTH", &maxQueueDepth)
        if let value = text("SANDBOX_RUNTIME"), !value.isEmpty { sandboxRuntime = value }
        integer("POOL_SIZE", &poolSize)
        onOff("POOL_PRESTART", &poolPrestart)
        if let value = text("PREBUILD_CA_BUNDLE"), !value.isEmpty { prebuildCABundle = value }
        func ranges(_ name: String, _ target: inout [IPv4Network]) {
            guard let raw = text(name) else { return }
            for entry in raw.split(whereSeparator: { $0 == "," || $0.isWhitespace }) {
                switch IPv4Network.parse(String(entry)) {
                case .success(let network): target.append(network)
                case .failure(let failure): problems.append("\(name): \(failure)")
                }
            }
        }
        ranges("EGRESS_ALLOW_CIDRS", &egressAllowCIDRs)
        if let value = text("WEBHOOK_SECRET"), !value.isEmpty { webhookSecret = value }
        if let value = text("WEBHOOK_ALLOW_CIDRS") {
            do {
                webhookAllowCIDRs = try CallbackAddressPolicy.parseRanges(value)
            } catch {
                problems.append("WEBHOOK_ALLOW_CIDRS: \(error)")
            }
        }
        ranges("EGRESS_DENY_CIDRS", &egressDenyCIDRs)
        if let value = text("WORKER_HOST"), !value.trimmingCharacters(in: .whitespaces).isEmpty {
            let name = value.trimmingCharacters(in: .whitespaces)
            if Self.isValidHostLabel(name) {
                workerHost = name
            } else {
                problems.append("WORKER_HOST must be 1-63 letters, digits, dots, hyphens or underscores, got '\(value)'")
            }
        }

        // The seed's checks and messages, in the seed's order.
        if defaultTimeout <= 0 { problems.append("DEFAULT_TIMEOUT must be positive") }
        if maxTimeout < defaultTimeout { problems.append("MAX_TIMEOUT must be >= DEFAULT_TIMEOUT") }
        if maxMemoryMB <= 0 { problems.append("MAX_MEMORY_MB must be positive") }
        if maxCPUCores <= 0 { problems.append("MAX_CPU_CORES must be positive") }
        if maxDiskMB <= 0 { problems.append("MAX_DISK_MB must be positive") }
        if cleanupIntervalHours <= 0 { problems.append("CLEANUP_INTERVAL_HOURS must be positive") }
        if cleanupMaxAgeDays < 0 { problems.append("CLEANUP_MAX_AGE_DAYS must be non-negative") }
        // Ours: the seed parsed these without applying them; we apply them, so they must make sense.
        if let memory = ByteSize.parse(defaultMemory) {
            if memory < 6 * ByteSize.mebibyte || memory > Int64(maxMemoryMB) * ByteSize.mebibyte {
                problems.append("DEFAULT_MEMORY must be between 6m and MAX_MEMORY_MB")
            }
        } else {
            problems.append("DEFAULT_MEMORY must be a size such as 256m")
        }
        if let disk = ByteSize.parse(defaultDisk) {
            if disk < ByteSize.mebibyte || disk > Int64(maxDiskMB) * ByteSize.mebibyte {
                problems.append("DEFAULT_DISK must be between 1m and MAX_DISK_MB")
            }
        } else {
            problems.append("DEFAULT_DISK must be a size such as 512m")
        }
        if !(2...262_144).contains(defaultCPUShares) { problems.append("DEFAULT_CPU_SHARES must be between 2 and 262144") }
        if defaultCPUs < 0.01 || defaultCPUs > maxCPUCores { problems.append("DEFAULT_CPUS must be between 0.01 and MAX_CPU_CORES") }
        if !(1...65_535).contains(port) { problems.append("PORT must be between 1 and 65535") }
        if maxOutputBytes <= 0 { problems.append("MAX_OUTPUT_BYTES must be positive") }
        if maxMetadataBytes <= 0 { problems.append("MAX_METADATA_BYTES must be positive") }
        if !(1...1000).contains(maxOutputFiles) { problems.append("MAX_OUTPUT_FILES must be between 1 and 1000") }
        if !(1...268_435_456).contains(maxOutputFileBytes) { problems.append("MAX_OUTPUT_FILE_BYTES must be between 1 and 268435456 (256 MiB)") }
        if defaultPidsLimit <= 0 { problems.append("DEFAULT_PIDS_LIMIT must be positive") }
        if runWaitSlack < 0 { problems.append("RUN_WAIT_SLACK must be non-negative") }
        if jobRetentionHours <= 0 { problems.append("JOB_RETENTION_HOURS must be positive") }
        if workerConcurrency <= 0 { problems.append("WORKER_CONCURRENCY must be positive") }
        if leaseSeconds < 1 { problems.append("LEASE_SECONDS must be at least 1") }
        if prebuildTimeout <= 0 { problems.append("PREBUILD_TIMEOUT must be positive") }
        if prebuildMemoryMB < 64 { problems.append("PREBUILD_MEMORY_MB must be at least 64") }
        if prebuildCPUs < 0.1 { problems.append("PREBUILD_CPUS must be at least 0.1") }
        if prebuildPidsLimit < 16 { problems.append("PREBUILD_PIDS_LIMIT must be at least 16") }
        if prebuildMaxLayerMB <= 0 { problems.append("PREBUILD_MAX_LAYER_MB must be positive") }
        if poolSize < 0 || poolSize > 16 { problems.append("POOL_SIZE must be between 0 and 16") }
        if maxQueueDepth <= 0 { problems.append("MAX_QUEUE_DEPTH must be positive") }
        if !(1...100).contains(databasePoolSize) { problems.append("DATABASE_POOL_SIZE must be between 1 and 100") }
        if !problems.isEmpty { throw InvalidConfiguration(problems: problems) }
    }
}

/// Startup refused: the message is the seed's `Invalid configuration:` block.
public struct InvalidConfiguration: Error, CustomStringConvertible {
    public var problems: [String]

    public var description: String {
        (["Invalid configuration:"] + problems.map { "  - \($0)" }).joined(separator: "\n")
    }
}

/// The shape of log lines (`LOG_FORMAT`).
public enum LogFormat: String, Sendable {
    case text
    case json
}

extension ServiceSettings {
    /// `LOG_LEVEL` as swift-log's level (validated when the settings were read).
    public var logLevelValue: Logger.Level { Logger.Level(rawValue: logLevel) ?? .info }
}
