/// Judge mode: one program run against many test cases in one container, built once
/// (`tests` in a run request). The API stores a `JudgePayload` on the run; the worker runs the
/// cases through the supervisor's protocol version CR2 (`runtimes/PROTOCOL.md`) and answers with
/// a `JudgeReport` beside the compile step's usual fields.
public struct JudgePayload: Codable, Sendable, Equatable {
    /// The cases, in request order (1 to `maxCases`).
    public var cases: [JudgeCase]
    public var comparison: OutputComparison
    /// After the first case that is not accepted, the rest are `skipped`.
    public var stopOnFirstFailure: Bool
    /// Run once with `sh -c` in the work directory before the cases (the compile step); nil:
    /// none (interpreted runtimes without a check, or a request with its own `entrypoint`).
    public var buildCommand: String?
    /// What each case runs with `sh -c`; nil: the image's `RT_DEFAULT_CMD`.
    public var runCommand: String?

    /// The most cases one request may hold.
    public static let maxCases = 1000

    public init(
        cases: [JudgeCase],
        comparison: OutputComparison = .trim,
        stopOnFirstFailure: Bool = false,
        buildCommand: String? = nil,
        runCommand: String? = nil
    ) {
        self.cases = cases
        self.comparison = comparison
        self.stopOnFirstFailure = stopOnFirstFailure
        self.buildCommand = buildCommand
        self.runCommand = runCommand
    }
}

/// One test case.
public struct JudgeCase: Codable, Sendable, Equatable {
    /// The request's name, or the case's 1-based position.
    public var name: String
    public var stdin: String
    /// Compared with the case's stdout; nil: accepted when it exits 0 within its limits.
    public var expectedOutput: String?
    /// The case's own limit (the whole run stays bounded by the run's timeout).
    public var timeoutMilliseconds: Int

    public init(name: String, stdin: String = "", expectedOutput: String? = nil, timeoutMilliseconds: Int) {
        self.name = name
        self.stdin = stdin
        self.expectedOutput = expectedOutput
        self.timeoutMilliseconds = timeoutMilliseconds
    }
}

/// How a case's stdout is compared with its `expected_output` (the request's `compare`).
public enum OutputComparison: Codable, Sendable, Equatable {
    /// Byte for byte.
    case exact
    /// Trailing whitespace of each line (`\r` included) and trailing blank lines ignored.
    case trim
    /// The whitespace-separated tokens are equal.
    case tokens
    /// Tokens; two that both read as numbers are equal within `tolerance`, absolute or relative
    /// to the expected value.
    case float(tolerance: Double)

    /// The request's spelling.
    public var name: String {
        switch self {
        case .exact: "exact"
        case .trim: "trim"
        case .tokens: "tokens"
        case .float: "float"
        }
    }

    /// `float_tolerance` when the request gives none.
    public static let defaultTolerance = 1e-6
}

/// A case's outcome, in the request's spelling.
public enum Verdict: String, Codable, Sendable, Equatable, CaseIterable {
    case accepted
    case wrongAnswer = "wrong_answer"
    case runtimeError = "runtime_error"
    case timeLimitExceeded = "time_limit_exceeded"
    case memoryLimitExceeded = "memory_limit_exceeded"
    case outputLimitExceeded = "output_limit_exceeded"
    /// The build failed: no case ran.
    case compileError = "compile_error"
    /// Not run: after a failure with `stop_on_first_failure`, or after the run's deadline.
    case skipped
}

/// What judge mode adds to a run's result.
public struct JudgeReport: Codable, Sendable, Equatable {
    /// The first case's verdict that is not `accepted`, in case order, or `accepted`.
    public var verdict: Verdict
    public var passed: Int
    public var total: Int
    public var cases: [CaseResult]

    public init(cases: [CaseResult]) {
        self.cases = cases
        verdict = cases.first { $0.verdict != .accepted }?.verdict ?? .accepted
        passed = cases.count { $0.verdict == .accepted }
        total = cases.count
    }
}

/// One case's outcome as the response shows it.
public struct CaseResult: Codable, Sendable, Equatable {
    public var name: String
    public var verdict: Verdict
    /// Nil when the case did not run.
    public var exitCode: Int?
    public var stdout: String
    public var stderr: String
    public var stdoutTruncated: Bool
    public var stderrTruncated: Bool
    /// Wall seconds; nil when the case did not run.
    public var time: Double?
    /// User plus system CPU seconds, when the kernel told them.
    public var cpuTime: Double?
    /// Peak resident set size, when the kernel told it.
    public var memoryBytes: Int64?

    public init(
        name: String,
        verdict: Verdict,
        exitCode: Int? = nil,
        stdout: String = "",
        stderr: String = "",
        stdoutTruncated: Bool = false,
        stderrTruncated: Bool = false,
        time: Double? = nil,
        cpuTime: Double? = nil,
        memoryBytes: Int64? = nil
    ) {
        self.name = name
        self.verdict = verdict
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
        self.stdoutTruncated = stdoutTruncated
        self.stderrTruncated = stderrTruncated
        self.time = time
        self.cpuTime = cpuTime
        self.memoryBytes = memoryBytes
    }

    /// A case that did not run.
    public static func notRun(_ name: String, _ verdict: Verdict) -> CaseResult {
        CaseResult(name: name, verdict: verdict)
    }
}
