/// One case of a judge-mode run (an entry of the request's `tests`): the program runs once per
/// case with the case's standard input, and its standard output is compared with
/// `expectedOutput` under the request's ``RunRequest/compare``.
///
/// Every field may be left `nil`; the service then uses its default.
public struct TestCase: Sendable, Equatable, Codable {
    /// Shown in the results (up to 200 characters); `nil`: the case's 1-based position
    /// (`"1"`, `"2"`, …).
    public var name: String?
    /// The case's standard input; `nil`: none (`""`).
    public var stdin: String?
    /// What the program should print. `nil`: the case is accepted when the program exits 0
    /// within its limits, whatever it prints.
    public var expectedOutput: String?
    /// Seconds this case may run (fractional, e.g. `0.5`): more than 0 and at most the request's
    /// ``RunRequest/timeout``; `nil`: the request's timeout.
    public var timeout: Double?

    /// A case that feeds `stdin` to the program and expects `expectedOutput` back.
    public init(name: String? = nil, stdin: String? = nil, expectedOutput: String? = nil, timeout: Double? = nil) {
        self.name = name
        self.stdin = stdin
        self.expectedOutput = expectedOutput
        self.timeout = timeout
    }

    enum CodingKeys: String, CodingKey {
        case name, stdin, timeout
        case expectedOutput = "expected_output"
    }
}
