/// The outcome of one judge-mode case (an entry of the result's `tests`, in case order).
///
/// A case that did not run (``Verdict/skipped``) or could not run (``Verdict/compileError``)
/// has no exit code or time.
public struct TestCaseResult: Sendable, Equatable, Codable {
    /// The case's name: the request's, else its 1-based position (`"1"`, `"2"`, …).
    public var name: String
    public var verdict: Verdict
    /// The program's exit status; `nil` when it did not run or did not exit on its own.
    public var exitCode: Int?
    /// The case's standard output, shortened for the answer (see ``stdoutTruncated``).
    public var stdout: String
    /// The case's standard error, shortened for the answer (see ``stderrTruncated``).
    public var stderr: String
    /// Whether ``stdout`` was shortened. The verdict was still judged on the longer output
    /// (up to the service's output cap, beyond which the case is
    /// ``Verdict/outputLimitExceeded``).
    public var stdoutTruncated: Bool
    /// Whether ``stderr`` was shortened.
    public var stderrTruncated: Bool
    /// Wall-clock seconds the case ran; `nil` when unknown or not run.
    public var time: Double?
    /// CPU seconds (user and system) the case used; `nil` when unknown or not run.
    public var cpuTime: Double?
    /// The case's peak resident memory in bytes; `nil` when unknown or not run.
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

    enum CodingKeys: String, CodingKey {
        case name, verdict, stdout, stderr, time
        case exitCode = "exit_code"
        case stdoutTruncated = "stdout_truncated"
        case stderrTruncated = "stderr_truncated"
        case cpuTime = "cpu_time"
        case memoryBytes = "memory_bytes"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        verdict = try container.decode(Verdict.self, forKey: .verdict)
        exitCode = try container.decodeIfPresent(Int.self, forKey: .exitCode)
        stdout = try container.decodeIfPresent(String.self, forKey: .stdout) ?? ""
        stderr = try container.decodeIfPresent(String.self, forKey: .stderr) ?? ""
        stdoutTruncated = try container.decodeIfPresent(Bool.self, forKey: .stdoutTruncated) ?? false
        stderrTruncated = try container.decodeIfPresent(Bool.self, forKey: .stderrTruncated) ?? false
        time = try container.decodeIfPresent(Double.self, forKey: .time)
        cpuTime = try container.decodeIfPresent(Double.self, forKey: .cpuTime)
        memoryBytes = try container.decodeIfPresent(Int64.self, forKey: .memoryBytes)
    }

    /// Every key, `null` for what is unknown, as the service writes it.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(verdict, forKey: .verdict)
        try container.encode(exitCode, forKey: .exitCode)
        try container.encode(stdout, forKey: .stdout)
        try container.encode(stderr, forKey: .stderr)
        try container.encode(stdoutTruncated, forKey: .stdoutTruncated)
        try container.encode(stderrTruncated, forKey: .stderrTruncated)
        try container.encode(time, forKey: .time)
        try container.encode(cpuTime, forKey: .cpuTime)
        try container.encode(memoryBytes, forKey: .memoryBytes)
    }
}
