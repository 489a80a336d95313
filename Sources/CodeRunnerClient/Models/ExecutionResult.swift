/// The outcome of a run (`CodeExecutionResponse`). A non-zero exit, a timeout or an
/// out-of-memory kill is still a result: the program ran.
///
/// In judge mode (a request with ``RunRequest/tests``) `stdout`, `stderr`, `exitCode`,
/// `executionTime` and `oomKilled` describe the build step that runs once before the cases (a
/// compile or a syntax check, depending on the runtime; without one: empty output, exit 0,
/// time 0), `timedOut` says whether the request's timeout ended the whole run, and `verdict`,
/// `passed`, `total` and `tests` hold the judgement. An ordinary run has none of those four.
public struct ExecutionResult: Sendable, Equatable, Codable {
    /// The job that ran the program.
    public var jobID: String
    public var stdout: String
    public var stderr: String
    /// The program's exit status; `-1` when it timed out.
    public var exitCode: Int
    /// Wall-clock seconds the program ran: from the moment its input was delivered (its start)
    /// to its end (exit, the deadline's kill or an OOM kill), rounded to 4 decimals. Queueing,
    /// container creation and removal are not counted (the original service counted them).
    public var executionTime: Double
    /// The JSON value the program set through its runtime's SDK, if any.
    public var metadata: JSONValue?
    public var timedOut: Bool
    public var oomKilled: Bool
    /// Whether stdout went over the service's output cap and was cut.
    public var stdoutTruncated: Bool
    /// Whether stderr went over the service's output cap and was cut.
    public var stderrTruncated: Bool
    /// Judge mode: the verdict of the first case that was not accepted (in case order), else
    /// ``Verdict/accepted``; ``Verdict/compileError`` when the build failed. `nil` for an
    /// ordinary run.
    public var verdict: Verdict?
    /// Judge mode: how many cases were accepted.
    public var passed: Int?
    /// Judge mode: how many cases the request had.
    public var total: Int?
    /// Judge mode: each case's outcome, in the request's order.
    public var tests: [TestCaseResult]?
    /// The output files that came back (``RunRequest/outputFiles``, or the runtime's automatic
    /// ones such as Python's figures), in path order; `nil` when none were asked for.
    public var files: [OutputFile]?
    /// Whether a matching file was left out: the service caps their count and total size.
    public var filesTruncated: Bool

    /// Whether this is a judge-mode result in which every case was accepted (false for an
    /// ordinary run).
    public var allAccepted: Bool {
        verdict == .accepted && passed == total
    }

    enum CodingKeys: String, CodingKey {
        case stdout, stderr, metadata
        case jobID = "job_id"
        case exitCode = "exit_code"
        case executionTime = "execution_time"
        case timedOut = "timed_out"
        case oomKilled = "oom_killed"
        case stdoutTruncated = "stdout_truncated"
        case stderrTruncated = "stderr_truncated"
        case verdict, passed, total, tests, files
        case filesTruncated = "files_truncated"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        jobID = try container.decodeIfPresent(String.self, forKey: .jobID) ?? ""
        stdout = try container.decode(String.self, forKey: .stdout)
        stderr = try container.decode(String.self, forKey: .stderr)
        exitCode = try container.decode(Int.self, forKey: .exitCode)
        executionTime = try container.decodeIfPresent(Double.self, forKey: .executionTime) ?? 0
        let metadata = try container.decodeIfPresent(JSONValue.self, forKey: .metadata)
        self.metadata = metadata == .null ? nil : metadata
        timedOut = try container.decodeIfPresent(Bool.self, forKey: .timedOut) ?? false
        oomKilled = try container.decodeIfPresent(Bool.self, forKey: .oomKilled) ?? false
        stdoutTruncated = try container.decodeIfPresent(Bool.self, forKey: .stdoutTruncated) ?? false
        stderrTruncated = try container.decodeIfPresent(Bool.self, forKey: .stderrTruncated) ?? false
        verdict = try container.decodeIfPresent(Verdict.self, forKey: .verdict)
        passed = try container.decodeIfPresent(Int.self, forKey: .passed)
        total = try container.decodeIfPresent(Int.self, forKey: .total)
        tests = try container.decodeIfPresent([TestCaseResult].self, forKey: .tests)
        files = try container.decodeIfPresent([OutputFile].self, forKey: .files)
        filesTruncated = try container.decodeIfPresent(Bool.self, forKey: .filesTruncated) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(stdout, forKey: .stdout)
        try container.encode(stderr, forKey: .stderr)
        try container.encode(exitCode, forKey: .exitCode)
        try container.encode(executionTime, forKey: .executionTime)
        try container.encode(metadata ?? .null, forKey: .metadata)
        try container.encode(jobID, forKey: .jobID)
        try container.encode(timedOut, forKey: .timedOut)
        try container.encode(oomKilled, forKey: .oomKilled)
        try container.encode(stdoutTruncated, forKey: .stdoutTruncated)
        try container.encode(stderrTruncated, forKey: .stderrTruncated)
        // Judge mode's keys only in a judge run's result, as the service writes them.
        try container.encodeIfPresent(verdict, forKey: .verdict)
        try container.encodeIfPresent(passed, forKey: .passed)
        try container.encodeIfPresent(total, forKey: .total)
        try container.encodeIfPresent(tests, forKey: .tests)
        if let files {
            try container.encode(files, forKey: .files)
            try container.encode(filesTruncated, forKey: .filesTruncated)
        }
    }
}
