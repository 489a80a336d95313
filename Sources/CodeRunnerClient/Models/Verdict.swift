/// How a judge-mode run, or one of its cases, ended (`verdict`). Any other string is kept, so
/// that a newer service's verdicts still decode; compare with the constants below.
public struct Verdict: RawRepresentable, Hashable, Sendable, Codable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    /// The program exited 0 within its limits and its output matched the expected output.
    public static let accepted: Verdict = "accepted"
    /// The program exited 0 but its output did not match.
    public static let wrongAnswer: Verdict = "wrong_answer"
    /// The program exited with a non-zero status or was killed by a signal.
    public static let runtimeError: Verdict = "runtime_error"
    /// The case ran past its timeout.
    public static let timeLimitExceeded: Verdict = "time_limit_exceeded"
    /// The program ran out of memory.
    public static let memoryLimitExceeded: Verdict = "memory_limit_exceeded"
    /// The program wrote more than the service's output cap.
    public static let outputLimitExceeded: Verdict = "output_limit_exceeded"
    /// The build step failed, so no case ran.
    public static let compileError: Verdict = "compile_error"
    /// The case did not run: an earlier case failed with `stopOnFirstFailure`, or the whole run's
    /// timeout had ended.
    public static let skipped: Verdict = "skipped"

    /// The verdicts this library knows, in the order above.
    public static let known: [Verdict] = [
        .accepted, .wrongAnswer, .runtimeError, .timeLimitExceeded, .memoryLimitExceeded, .outputLimitExceeded,
        .compileError, .skipped,
    ]

    /// Whether this is ``accepted``.
    public var isAccepted: Bool { self == .accepted }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
