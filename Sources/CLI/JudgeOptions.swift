import ArgumentParser
import CodeRunnerClient

/// `run`'s judge-mode options: `--tests <file>` and the settings of the comparison.
struct JudgeOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Judge the program against the test cases in this JSON file (format above).",
            valueName: "file"
        )
    )
    var tests: String?

    @Option(help: ArgumentHelp("How outputs are compared: exact, trim (default), tokens or float.", valueName: "mode"))
    var compare: String?

    @Option(
        name: .customLong("float-tolerance"),
        help: ArgumentHelp("The absolute or relative tolerance of --compare float (default 1e-6).", valueName: "x")
    )
    var floatTolerance: Double?

    @Flag(name: .customLong("stop-on-first-failure"), help: "Skip the cases after the first one that is not accepted.")
    var stopOnFirstFailure = false

    static let modeNames = OutputComparison.allCases.map(\.rawValue).joined(separator: ", ")

    /// Whether the run is judged (`--tests` was given).
    var isEnabled: Bool { tests != nil }

    func validate() throws {
        if tests == nil {
            for (given, option) in [
                (compare != nil, "--compare"), (floatTolerance != nil, "--float-tolerance"),
                (stopOnFirstFailure, "--stop-on-first-failure"),
            ] where given {
                throw ValidationError("\(option) needs --tests.")
            }
        }
        if let compare, OutputComparison(rawValue: compare) == nil {
            throw ValidationError("--compare must be one of: \(Self.modeNames).")
        }
        if let floatTolerance, !floatTolerance.isFinite || floatTolerance < 0 {
            throw ValidationError("--float-tolerance must be a finite number of at least 0.")
        }
    }

    /// Reads the cases file and puts the cases and settings on `request`; the options win over
    /// the file's settings. Does nothing without `--tests`.
    func apply(to request: inout RunRequest) throws {
        guard let tests else { return }
        let file = try TestCasesFile.load(path: tests)
        let mode = compare.flatMap(OutputComparison.init(rawValue:)) ?? file.compare
        if floatTolerance != nil, mode != .float {
            throw ValidationError("--float-tolerance applies only with --compare float.")
        }
        request.tests = file.cases
        request.compare = mode
        request.floatTolerance = mode == .float ? floatTolerance ?? file.floatTolerance : nil
        request.stopOnFirstFailure = stopOnFirstFailure ? true : file.stopOnFirstFailure
    }
}
