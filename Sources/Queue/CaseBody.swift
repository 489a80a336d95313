/// One judge-mode case as a response shows it (`tests[i]`): every key present, `null` for what
/// is unknown or did not happen.
struct CaseBody: Encodable, Sendable {
    var result: CaseResult

    init(_ result: CaseResult) { self.result = result }

    enum CodingKeys: String, CodingKey {
        case name, verdict
        case exitCode = "exit_code"
        case stdout, stderr
        case stdoutTruncated = "stdout_truncated"
        case stderrTruncated = "stderr_truncated"
        case time
        case cpuTime = "cpu_time"
        case memoryBytes = "memory_bytes"
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(result.name, forKey: .name)
        try container.encode(result.verdict, forKey: .verdict)
        try container.encode(result.exitCode, forKey: .exitCode)
        try container.encode(result.stdout, forKey: .stdout)
        try container.encode(result.stderr, forKey: .stderr)
        try container.encode(result.stdoutTruncated, forKey: .stdoutTruncated)
        try container.encode(result.stderrTruncated, forKey: .stderrTruncated)
        try container.encode(result.time, forKey: .time)
        try container.encode(result.cpuTime, forKey: .cpuTime)
        try container.encode(result.memoryBytes, forKey: .memoryBytes)
    }
}
