import Queue

/// Judge mode's request fields (`tests`, `compare`, `float_tolerance`, `stop_on_first_failure`)
/// after validation: the cases of a `JudgePayload`, without the runtime's commands (`apply(to:)`
/// of `RunRequest` adds those).
///
/// | request | answer |
/// |---|---|
/// | `tests` absent or `null` | an ordinary run; then `compare`, `float_tolerance` and `stop_on_first_failure` are 422 at their field |
/// | `tests` not an array, or `[]`, or more than 1000 cases | 422 at `tests` |
/// | a case that is not an object, or has a key other than `name`, `stdin`, `expected_output`, `timeout` | 422 at the case (`["body", "tests", i]`) or the key |
/// | `name` over 200 characters, `timeout` not in (0, the run's timeout] | 422 at the case's key |
/// | `stdin` given beside `tests` | 422 at `stdin`: each case has its own |
/// | `compare` other than exact, trim, tokens, float | 422 at `compare` |
/// | `float_tolerance` negative, or with a `compare` other than float | 422 at `float_tolerance` |
///
/// The cases' stdin and expected outputs count toward the 1 MiB payload limit (`size`).
struct JudgeRequest: Sendable, Equatable {
    /// The cases, each `timeout` still in seconds as given (nil: the run's timeout).
    struct Case: Sendable, Equatable {
        var name: String
        var stdin: String
        var expectedOutput: String?
        var timeoutSeconds: Double?
    }

    var cases: [Case]
    var comparison: OutputComparison
    var stopOnFirstFailure: Bool

    static let maxNameCharacters = 200
    static let caseKeys: Set<String> = ["name", "stdin", "expected_output", "timeout"]
    static let comparisonNames = ["exact", "trim", "tokens", "float"]

    /// Validates the judge fields of a request body, appending every problem to `issues`. Nil
    /// for an ordinary run or when a judge field is invalid.
    ///
    /// - Parameter runTimeout: the run's `timeout` in seconds (the request's, else the default),
    ///   which bounds each case's.
    static func validate(_ fields: [String: JSONValue], runTimeout: Int, issues: inout [ValidationIssue]) -> JudgeRequest? {
        func field(_ name: String) -> LaxValue? {
            guard let value = fields[name], value != .null else { return nil }
            return LaxValue(value: value, loc: ["body", .key(name)])
        }
        guard let tests = field("tests") else {
            for name in ["compare", "float_tolerance", "stop_on_first_failure"] {
                if let lax = field(name) { issues.append(lax.valueError("\(name) applies only to a run with tests")) }
            }
            return nil
        }
        let countBefore = issues.count
        if let stdin = field("stdin") {
            issues.append(stdin.valueError("stdin cannot be combined with tests: give each case its own stdin"))
        }
        var cases: [Case] = []
        switch tests.array() {
        case .failure(let issue): issues.append(issue)
        case .success(let items):
            if items.isEmpty || items.count > JudgePayload.maxCases {
                issues.append(tests.valueError("tests must hold 1 to \(JudgePayload.maxCases) cases, got \(items.count)"))
            } else {
                for (index, item) in items.enumerated() {
                    let lax = LaxValue(value: item, loc: ["body", "tests", .index(index)])
                    if let parsed = testCase(lax, position: index + 1, runTimeout: runTimeout, issues: &issues) { cases.append(parsed) }
                }
            }
        }

        var comparison = OutputComparison.trim
        if let lax = field("compare") {
            switch lax.string() {
            case .failure(let issue): issues.append(issue)
            case .success(let name):
                switch name {
                case "exact": comparison = .exact
                case "trim": comparison = .trim
                case "tokens": comparison = .tokens
                case "float": comparison = .float(tolerance: OutputComparison.defaultTolerance)
                default:
                    issues.append(lax.valueError("compare must be one of \(comparisonNames.joined(separator: ", ")), got '\(name)'"))
                }
            }
        }
        if let lax = field("float_tolerance") {
            switch lax.number() {
            case .failure(let issue): issues.append(issue)
            case .success(let tolerance):
                if case .float = comparison {
                    if tolerance < 0 {
                        issues.append(lax.issue("greater_than_equal", "Input should be greater than or equal to 0", ctx: ["ge": .integer(0)]))
                    } else {
                        comparison = .float(tolerance: tolerance)
                    }
                } else {
                    issues.append(lax.valueError("float_tolerance applies only when compare is 'float'"))
                }
            }
        }
        var stopOnFirstFailure = false
        if let lax = field("stop_on_first_failure") {
            switch lax.boolean() {
            case .failure(let issue): issues.append(issue)
            case .success(let flag): stopOnFirstFailure = flag
            }
        }
        guard issues.count == countBefore else { return nil }
        return JudgeRequest(cases: cases, comparison: comparison, stopOnFirstFailure: stopOnFirstFailure)
    }

    /// One case object; nil (with issues) when it is invalid.
    private static func testCase(_ lax: LaxValue, position: Int, runTimeout: Int, issues: inout [ValidationIssue]) -> Case? {
        let members: [String: JSONValue]
        switch lax.object() {
        case .failure(let issue):
            issues.append(issue)
            return nil
        case .success(let object): members = object
        }
        let countBefore = issues.count
        for key in members.keys.sorted() where !caseKeys.contains(key) {
            let member = LaxValue(value: members[key] ?? .null, loc: lax.loc + [.key(key)])
            issues.append(
                member.issue("extra_forbidden", "Extra inputs are not permitted: a case has only \(caseKeys.sorted().joined(separator: ", "))")
            )
        }
        func member(_ key: String) -> LaxValue? {
            guard let value = members[key], value != .null else { return nil }
            return LaxValue(value: value, loc: lax.loc + [.key(key)])
        }
        func text(_ key: String) -> String? {
            guard let member = member(key) else { return nil }
            switch member.string() {
            case .success(let text): return text
            case .failure(let issue):
                issues.append(issue)
                return nil
            }
        }
        let name = text("name") ?? String(position)
        if name.count > maxNameCharacters, let member = member("name") {
            issues.append(member.valueError("a case's name may have at most \(maxNameCharacters) characters"))
        }
        let stdin = text("stdin") ?? ""
        let expected = text("expected_output")
        var timeout: Double?
        if let member = member("timeout") {
            switch member.number() {
            case .failure(let issue): issues.append(issue)
            case .success(let seconds):
                if seconds <= 0 {
                    issues.append(member.issue("greater_than", "Input should be greater than 0", ctx: ["gt": .integer(0)]))
                } else if seconds > Double(runTimeout) {
                    issues.append(
                        member.issue(
                            "less_than_equal",
                            "Input should be less than or equal to \(runTimeout), the run's timeout",
                            ctx: ["le": .integer(Int64(runTimeout))]
                        )
                    )
                } else {
                    timeout = seconds
                }
            }
        }
        guard issues.count == countBefore else { return nil }
        return Case(name: name, stdin: stdin, expectedOutput: expected, timeoutSeconds: timeout)
    }

    /// UTF-8 bytes that count toward the payload limit: names, stdin and expected outputs.
    var size: Int {
        cases.reduce(0) { $0 + $1.name.utf8.count + $1.stdin.utf8.count + ($1.expectedOutput?.utf8.count ?? 0) }
    }

    /// The stored form, with the runtime's commands.
    func payload(runTimeout: Int, buildCommand: String?, runCommand: String?) -> JudgePayload {
        JudgePayload(
            cases: cases.map { item in
                JudgeCase(
                    name: item.name,
                    stdin: item.stdin,
                    expectedOutput: item.expectedOutput,
                    timeoutMilliseconds: max(1, Int(((item.timeoutSeconds ?? Double(runTimeout)) * 1000).rounded()))
                )
            },
            comparison: comparison,
            stopOnFirstFailure: stopOnFirstFailure,
            buildCommand: buildCommand,
            runCommand: runCommand
        )
    }
}
