/// How a judge-mode run compares each case's standard output with its expected output (the
/// request's `compare`; the service's default is ``trim``).
public enum OutputComparison: String, Sendable, Codable, CaseIterable {
    /// Byte for byte.
    case exact
    /// Ignoring trailing whitespace (including `\r`) on each line and trailing blank lines.
    case trim
    /// The same whitespace-separated tokens.
    case tokens
    /// Tokens, where two tokens that both parse as numbers are equal when they differ by at most
    /// ``RunRequest/floatTolerance``, absolutely or relative to the expected value (default 1e-6).
    case float
}
