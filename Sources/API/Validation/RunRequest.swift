import Foundation
import Queue

/// A `CodeExecutionRequest` after field validation (step 3 of the seed's order), before the
/// request-level checks (empty code, size, file names, image existence).
struct RunRequest: Sendable {
    struct PrebuildSpec: Sendable, Equatable, Codable {
        var baseImage: String
        var setupScript: String
    }

    var code: String
    var image: ImageReference
    var files: [WorkFile]
    var entrypoint: String?
    var stdin: String
    var timeout: Int?
    var memoryBytes: Int64?
    var cpuShares: Int?
    var diskBytes: Int64?
    var cpus: Double?
    var allowNetwork: Bool
    /// `allowed_hosts`: the canonical spelling of each entry (`HostPattern.description`),
    /// duplicates removed, in request order; nil when the request gave none (or `null`).
    ///
    /// | request | answer |
    /// |---|---|
    /// | absent or `null` | no allowlist (`allow_network` alone decides) |
    /// | 1 to `maxAllowedHosts` entries, each `HostPattern.parse`d | stored canonical; the run is networked (`apply(to:)`), so the egress 503 applies |
    /// | not an array | `list_type` at the field |
    /// | `[]` | 422 at the field: name at least one host |
    /// | more than `maxAllowedHosts` | 422 at the field |
    /// | an entry that is no string | `string_type` at `["body", "allowed_hosts", index]` |
    /// | an entry `HostPattern.parse` refuses | 422 at its index, the parser's reason |
    /// | a range the operator's egress policy refuses entirely (`EgressCeiling`) | 422 at its index, naming the range that refuses it; partly refused ranges pass |
    /// | with `allow_network` given as false | 422 at the field: the list gives network access |
    var allowedHosts: [String]?
    var environment: [EnvironmentVariable]
    var prebuildSpec: PrebuildSpec?
    /// Judge mode's fields (`tests` and its options); nil for an ordinary run.
    var judge: JudgeRequest?
    /// `callback_url`: its shape checked here; its host's addresses are checked by the route
    /// (`CallbackCheck`), which needs the resolver.
    var callbackURL: String?
    /// `output_files`: glob patterns of work-directory files to return (`OutputFilesRequest`).
    ///
    /// | request | answer |
    /// |---|---|
    /// | absent or `null` | the runtime's automatic patterns only (Python: saved figures) |
    /// | `[]` | nothing, not even the automatic ones |
    /// | 1 to `maxOutputFilePatterns` patterns | those and the automatic ones; the answer has `files` |
    /// | not an array / an entry that is no string | `list_type` / `string_type` at the field / index |
    /// | more than `maxOutputFilePatterns` | 422 at the field |
    /// | a pattern `outputPatternProblem` refuses (empty, absolute, `..`, over 255 bytes, ...) | 422 at its index |
    /// | with `tests` (judge mode) | 422 at the field |
    var outputFiles: [String]?
    /// `priority`: 0...`FairShare.maxPriority`, orders the key's own jobs (the key's ceiling is
    /// checked by `KeyLimitCheck`); nil: the key's priority.
    var priority: Int?
    /// The fields as given, for the per-key checks' answers (`KeyLimitCheck`).
    var given: [String: JSONValue] = [:]

    /// Names a run may not set. The ones that matter here are the image entrypoint's: the
    /// supervisor and `setup-run.sh` read `RT_DEFAULT_CMD` (the runtime's command) and
    /// `RT_SEED_DIRS` (caches copied into `/tmp`) from the environment the user's variables are
    /// merged into (`runtimes/common/supervise.c`, `runtimes/common/setup-run.sh`), so the whole
    /// `RT_` prefix is kept for the entrypoint. The original service's three names carry no
    /// meaning here; they stay refused because its clients and the HTTP contract's acceptance
    /// suite expect that 422 (`Tests/APITests/APIRouteTests.swift` checks both kinds).
    /// `CODE_RUNNER_PRESTART_FD` is the pre-started interpreters' start hook's switch
    /// (`runtimes/PROTOCOL.md`): set by a run, every interpreter it starts would wait on it.
    static func isReservedEnvironmentName(_ name: String) -> Bool {
        name.hasPrefix(entrypointEnvironmentPrefix) || seedReservedEnvironmentNames.contains(name)
            || name == prestartHookEnvironmentName
    }

    /// The variable that switches the runtimes' start hooks on (`runtimes/common/prestart.c`).
    static let prestartHookEnvironmentName = "CODE_RUNNER_PRESTART_FD"

    /// The prefix of the variables the image's entrypoint reads (`RT_DEFAULT_CMD`, `RT_SEED_DIRS`).
    static let entrypointEnvironmentPrefix = "RT_"
    static let seedReservedEnvironmentNames: Set<String> = ["ENCODED_CODE", "ENCODED_FILES", "CUSTOM_ENTRYPOINT"]
    static let maxFiles = 1000
    /// Variables one run may set. Names and values also count toward the 1 MiB payload limit.
    static let maxEnvironmentVariables = 256
    /// The kernel's limit on one `NAME=value` string given to `exec` (`MAX_ARG_STRLEN`, 32
    /// pages, its closing NUL included): a longer one makes the container fail to start.
    static let maxEnvironmentEntryBytes = 131_072
    /// Entries one run's `allowed_hosts` may hold.
    static let maxAllowedHosts = 64
    /// Patterns one run's `output_files` may hold.
    static let maxOutputFilePatterns = 32

    /// Validates every field of `body` (a parsed JSON value); all problems are reported at once.
    static func validate(_ body: JSONValue, settings: ServiceSettings) -> Result<RunRequest, APIError> {
        guard case .object(let fields) = body else {
            return .failure(
                .validation([
                    ValidationIssue(
                        type: "model_attributes_type",
                        loc: ["body"],
                        msg: "Input should be a valid dictionary or object to extract fields from",
                        input: body
                    )
                ])
            )
        }
        var issues: [ValidationIssue] = []
        func field(_ name: String) -> LaxValue? {
            guard let value = fields[name], value != .null else { return nil }
            return LaxValue(value: value, loc: ["body", .key(name)])
        }
        func take<T>(_ result: Result<T, ValidationIssue>?) -> T? {
            switch result {
            case .success(let value): return value
            case .failure(let issue):
                issues.append(issue)
                return nil
            case nil: return nil
            }
        }

        var code = ""
        if let value = fields["code"] {
            code = take(LaxValue(value: value, loc: ["body", "code"]).string()) ?? ""
        } else {
            issues.append(ValidationIssue(type: "missing", loc: ["body", "code"], msg: "Field required", input: body))
        }

        var image = ImageReference.runtime(RuntimeCatalog.defaultRuntime)
        if let lax = field("image"), let name = take(lax.string()) {
            if let resolved = ImageReference.parse(name, runtimes: RuntimeCatalog.runtimeNames) {
                image = resolved
            } else {
                issues.append(
                    lax.valueError(
                        "Image '\(name)' is neither a runtime (\(RuntimeCatalog.runtimeNames.joined(separator: ", "))) nor a prebuilt tag matching [a-z0-9][a-z0-9._-]{0,127}."
                    )
                )
            }
        }

        var files: [WorkFile] = []
        if let lax = field("files"), let members = take(lax.object()) {
            if members.count > maxFiles {
                issues.append(lax.valueError("At most \(maxFiles) files are allowed."))
            }
            for name in members.keys.sorted() {
                let member = LaxValue(value: members[name] ?? .null, loc: ["body", "files", .key(name)])
                if let content = take(member.string()) { files.append(WorkFile(name: name, content: content)) }
            }
        }

        let entrypoint = field("entrypoint").flatMap { take($0.string()) }
        let stdin = field("stdin").flatMap { take($0.string()) } ?? ""
        // An empty `stdin` (as clients that always send the field do) is no stdin: judge mode
        // refuses only one that would be lost.
        var judgeFields = fields
        if stdin.isEmpty { judgeFields["stdin"] = nil }

        var timeout: Int?
        if let lax = field("timeout"), let value = take(lax.integer()) {
            if let issue = LaxValue.bounded(value, 1, settings.maxTimeout, at: lax, asJSON: { .integer(Int64($0)) }) {
                issues.append(issue)
            } else {
                timeout = value
            }
        }

        let memoryBytes = field("mem_limit").flatMap { lax in
            take(lax.string()).flatMap { size(of: $0, at: lax, min: 6 * ByteSize.mebibyte, maxMB: settings.maxMemoryMB, issues: &issues) }
        }
        let diskBytes = field("disk_limit").flatMap { lax in
            take(lax.string()).flatMap { size(of: $0, at: lax, min: ByteSize.mebibyte, maxMB: settings.maxDiskMB, issues: &issues) }
        }

        var cpuShares: Int?
        if let lax = field("cpu_shares"), let value = take(lax.integer()) {
            if let issue = LaxValue.bounded(value, 2, 262_144, at: lax, asJSON: { .integer(Int64($0)) }) {
                issues.append(issue)
            } else {
                cpuShares = value
            }
        }

        var cpus: Double?
        if let lax = field("cpus"), let value = take(lax.number()) {
            if let issue = LaxValue.bounded(value, 0.01, settings.maxCPUCores, at: lax, asJSON: { .number($0) }) {
                issues.append(issue)
            } else {
                cpus = value
            }
        }

        let givenAllowNetwork = field("allow_network").flatMap { take($0.boolean()) }
        let allowNetwork = givenAllowNetwork ?? false

        // `allowed_hosts`: 1 to `maxAllowedHosts` `HostPattern` entries; the run then has the
        // network, but reaches only these hosts (through the deployment's allowlist proxy), so
        // an explicit `allow_network: false` contradicts it. A range the operator's egress
        // policy refuses entirely (`EgressCeiling`) could never be reached: refused too.
        var allowedHosts: [String]?
        if let lax = field("allowed_hosts"), let items = take(lax.array()) {
            if items.isEmpty {
                issues.append(lax.valueError("allowed_hosts must name at least one host; leave it out for no allowlist"))
            } else if items.count > maxAllowedHosts {
                issues.append(lax.valueError("allowed_hosts may name at most \(maxAllowedHosts) entries, got \(items.count)"))
            } else {
                if givenAllowNetwork == false {
                    issues.append(
                        lax.valueError(
                            "allowed_hosts gives the run network access to those hosts; it cannot be combined with allow_network: false"
                        )
                    )
                }
                allowedHosts = hostEntries(items, settings: settings, issues: &issues)
            }
        }

        var environment: [EnvironmentVariable] = []
        if let lax = field("environment"), let members = take(lax.object()) {
            var problem: String?
            if members.count > maxEnvironmentVariables {
                problem = "At most \(maxEnvironmentVariables) environment variables may be set, got \(members.count)."
            }
            for name in members.keys.sorted() {
                let member = LaxValue(value: members[name] ?? .null, loc: ["body", "environment", .key(name)])
                guard let value = take(member.string()) else { continue }
                if problem == nil {
                    if isReservedEnvironmentName(name) {
                        problem = "Environment variable '\(name)' is reserved and cannot be set."
                    } else if !isValidEnvironmentName(name) {
                        problem = "Environment variable name '\(name)' is invalid: use letters, digits and underscores, not starting with a digit."
                    } else if value.contains("\u{0}") {
                        problem = "Environment variable '\(name)' contains a NUL character."
                    } else if name.utf8.count + value.utf8.count + 2 > maxEnvironmentEntryBytes {
                        problem =
                            "Environment variable '\(name)' is too long: NAME=value may have at most \(maxEnvironmentEntryBytes - 1) bytes, the kernel's limit for one entry."
                    }
                }
                environment.append(EnvironmentVariable(name: name, value: value))
            }
            if let problem { issues.append(lax.valueError(problem)) }
        }

        var prebuildSpec: PrebuildSpec?
        if let lax = field("prebuild_spec"), let members = take(lax.object()) {
            var parts: [String: String] = [:]
            for name in ["base_image", "setup_script"] {
                let loc: [LocationPart] = ["body", "prebuild_spec", .key(name)]
                if let value = members[name] {
                    if let text = take(LaxValue(value: value, loc: loc).string()) {
                        if text.contains("\u{0}") {
                            // as in POST /prebuild: no script holds one, and PostgreSQL's text cannot store it
                            issues.append(LaxValue(value: value, loc: loc).valueError("Prebuild spec '\(name)' contains a NUL character."))
                        } else {
                            parts[name] = text
                        }
                    }
                } else {
                    issues.append(ValidationIssue(type: "missing", loc: loc, msg: "Field required", input: lax.value))
                }
            }
            if let base = parts["base_image"], let script = parts["setup_script"] {
                prebuildSpec = PrebuildSpec(baseImage: base, setupScript: script)
            }
        }

        let judge = JudgeRequest.validate(judgeFields, runTimeout: timeout ?? settings.defaultTimeout, issues: &issues)

        var callbackURL: String?
        if let lax = field("callback_url"), let url = take(lax.string()) {
            if settings.webhookSecret == nil {
                issues.append(lax.valueError("webhooks are off on this deployment (its operator has not set WEBHOOK_SECRET)"))
            } else if let refusal = CallbackAddressPolicy(allowed: settings.webhookAllowCIDRs).shapeRefusal(of: url) {
                issues.append(lax.valueError(refusal))
            } else {
                callbackURL = url
            }
        }

        var outputFiles: [String]?
        if let lax = field("output_files"), let items = take(lax.array()) {
            if items.count > maxOutputFilePatterns {
                issues.append(lax.valueError("output_files may hold at most \(maxOutputFilePatterns) patterns, got \(items.count)"))
            } else if judge != nil {
                issues.append(lax.valueError("output_files cannot be combined with tests: a judge run returns its cases, not files"))
            } else {
                var patterns: [String] = []
                for (index, item) in items.enumerated() {
                    let member = LaxValue(value: item, loc: ["body", "output_files", .index(index)])
                    guard let pattern = take(member.string()) else { continue }
                    if let problem = outputPatternProblem(pattern) {
                        issues.append(member.valueError(problem))
                    } else if !patterns.contains(pattern) {
                        patterns.append(pattern)
                    }
                }
                outputFiles = patterns
            }
        }

        var priority: Int?
        if let lax = field("priority"), let value = take(lax.integer()) {
            if let issue = LaxValue.bounded(value, 0, FairShare.maxPriority, at: lax, asJSON: { .integer(Int64($0)) }) {
                issues.append(issue)
            } else {
                priority = value
            }
        }

        guard issues.isEmpty else { return .failure(.validation(issues)) }
        return .success(
            RunRequest(
                code: code,
                image: image,
                files: files,
                entrypoint: entrypoint,
                stdin: stdin,
                timeout: timeout,
                memoryBytes: memoryBytes,
                cpuShares: cpuShares,
                diskBytes: diskBytes,
                cpus: cpus,
                allowNetwork: allowNetwork,
                allowedHosts: allowedHosts,
                environment: environment,
                prebuildSpec: prebuildSpec,
                judge: judge,
                callbackURL: callbackURL,
                outputFiles: outputFiles,
                priority: priority,
                given: fields
            )
        )
    }

    /// Why `pattern` cannot be an `output_files` entry, or nil: relative to the work
    /// directory, 1 to 255 bytes, `/`-separated non-empty components, none `.` or `..`, no
    /// backslash (no escapes: a literal `*` cannot be asked for), newline or NUL.
    static func outputPatternProblem(_ pattern: String) -> String? {
        if pattern.isEmpty { return "an output_files pattern cannot be empty" }
        if pattern.utf8.count > 255 { return "an output_files pattern may have at most 255 bytes" }
        if pattern.hasPrefix("/") { return "output_files patterns are relative to the work directory; '\(pattern)' is absolute" }
        if pattern.contains("\\") || pattern.contains("\n") || pattern.contains("\r") || pattern.contains("\u{0}") {
            return "output_files patterns cannot hold a backslash, a line break or a NUL character"
        }
        let components = pattern.split(separator: "/", omittingEmptySubsequences: false)
        if components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
            return "'\(pattern)' must name paths inside the work directory: no empty, '.' or '..' component"
        }
        return nil
    }

    /// `[A-Za-z_][A-Za-z0-9_]*`.
    static func isValidEnvironmentName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first else { return false }
        func isLetter(_ byte: UInt8) -> Bool { (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte) || byte == UInt8(ascii: "_") }
        return isLetter(first) && bytes.allSatisfy { isLetter($0) || (0x30...0x39).contains($0) }
    }

    /// The canonical entries of a non-empty `allowed_hosts` list, first occurrences only; nil
    /// (with an issue at the entry's index for each bad one) when any entry is refused.
    private static func hostEntries(_ items: [JSONValue], settings: ServiceSettings, issues: inout [ValidationIssue]) -> [String]? {
        var entries: [String] = []
        var seen: Set<String> = []
        var valid = true
        for (index, item) in items.enumerated() {
            let member = LaxValue(value: item, loc: ["body", "allowed_hosts", .index(index)])
            let text: String
            switch member.string() {
            case .success(let string): text = string
            case .failure(let issue):
                issues.append(issue)
                valid = false
                continue
            }
            switch HostPattern.parse(text) {
            case .failure(let failure):
                issues.append(member.valueError(failure.description))
                valid = false
            case .success(let pattern):
                if case .network(let network) = pattern, let refusal = EgressCeiling.refuses(network, settings: settings) {
                    issues.append(member.valueError(refusal))
                    valid = false
                } else if seen.insert(pattern.description).inserted {
                    entries.append(pattern.description)
                }
            }
        }
        return valid ? entries : nil
    }

    private static func size(of text: String, at lax: LaxValue, min: Int64, maxMB: Int, issues: inout [ValidationIssue]) -> Int64? {
        guard let bytes = ByteSize.parse(text) else {
            issues.append(lax.valueError("'\(text)' is not a size: use a number with an optional unit b, k, m or g (e.g. 256m)."))
            return nil
        }
        let max = Int64(maxMB) * ByteSize.mebibyte
        guard bytes >= min, bytes <= max else {
            issues.append(lax.valueError("Size must be between \(min / 1024)k and \(maxMB)m."))
            return nil
        }
        return bytes
    }

    /// Lays the request's fields over a run of defaults (`RunPayload.defaults`): what the
    /// request gave replaces the default, what it left out stays.
    ///
    /// - Parameter runtime: the run's runtime (a prebuilt image's base), whose judge-mode build
    ///   and run commands a run with `tests` takes — unless it gives its own `entrypoint`, which
    ///   each case then runs, with no build step.
    /// - Parameter caps: the deployment's output-file caps (patterns empty), for a runtime
    ///   without automatic patterns.
    func apply(to payload: inout RunPayload, runtime: RuntimeCatalog.Entry, caps: OutputFilesRequest? = nil) {
        payload.code = code
        payload.image = image.publicName
        payload.files = files
        payload.entrypoint = entrypoint
        payload.stdin = stdin
        // An allowlist governs the run's network alone (`RunPayload.allowedHosts`: a worker that
        // predates it then runs the job offline, never open).
        payload.allowNetwork = allowNetwork && allowedHosts == nil
        payload.allowedHosts = allowedHosts
        payload.environment = environment
        if let timeout { payload.timeoutSeconds = timeout }
        if let memoryBytes { payload.memoryBytes = memoryBytes }
        if let cpuShares { payload.cpuShares = cpuShares }
        if let cpus { payload.nanoCPUs = RunPayload.nanoCPUs(cores: cpus) }
        if let diskBytes { payload.diskBytes = diskBytes }
        if let outputFiles, var request = payload.outputFiles ?? caps {
            // the request's patterns, then the runtime's automatic ones; `[]` turns both off
            request.patterns = outputFiles.isEmpty ? [] : outputFiles + request.patterns.filter { !outputFiles.contains($0) }
            request.reportsEmpty = true
            payload.outputFiles = request.nonEmpty
        }
        if let judge {
            payload.outputFiles = nil
            let custom = entrypoint.flatMap { $0.isEmpty ? nil : $0 }
            payload.judge = judge.payload(
                runTimeout: payload.timeoutSeconds,
                buildCommand: custom == nil ? runtime.judgeBuildCommand : nil,
                runCommand: custom ?? runtime.judgeRunCommand
            )
        }
    }

    /// UTF-8 bytes that count toward the 1 MiB limit: code, file contents, stdin, the
    /// environment's names and values (which the seed left out: a 6.7 MiB body of environment
    /// values was accepted and stored), and judge mode's cases.
    var payloadSize: Int {
        code.utf8.count + files.reduce(0) { $0 + $1.content.utf8.count } + stdin.utf8.count
            + environment.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count } + (judge?.size ?? 0)
    }

    /// Whether a file name is acceptable: relative paths of non-empty components, no `..`
    /// component, no backslash or NUL, at most 255 bytes (`a..b.py` is fine).
    static func isValidFileName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 255, !name.hasPrefix("/"),
            !name.contains("\\"), !name.contains("\u{0}")
        else { return false }
        let components = name.split(separator: "/", omittingEmptySubsequences: false)
        return components.allSatisfy { !$0.isEmpty && $0 != ".." && $0 != "." }
    }
}
