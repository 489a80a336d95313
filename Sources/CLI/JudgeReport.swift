import CodeRunnerClient
import Foundation

/// The text form of a judge-mode result: one row per case, then `passed/total` and the verdict.
///
/// ```
/// #  NAME   VERDICT       TIME     MEMORY
/// 1  small  accepted      0.012 s  9.4 MB
/// 2  2      wrong_answer  0.011 s  9.4 MB
/// 1/2 passed, verdict: wrong_answer
/// ```
enum JudgeReport {
    /// Names longer than this are cut in the table (the service allows 200 characters).
    static let maxNameWidth = 40

    /// The table and the summary line.
    static func lines(for result: ExecutionResult) -> [String] {
        let cases = result.tests ?? []
        let names = cases.map { displayName($0.name) }
        let verdicts = cases.map(\.verdict.rawValue)
        let times = cases.map { $0.time.map { String(format: "%.3f s", $0) } ?? "-" }
        let memories = cases.map { $0.memoryBytes == nil ? "-" : PrebuildBuildCommand.size($0.memoryBytes) }
        let indexWidth = max(1, String(cases.count).count)
        let nameWidth = names.reduce(4) { max($0, $1.count) }
        let verdictWidth = verdicts.reduce(7) { max($0, $1.count) }
        let timeWidth = times.reduce(4) { max($0, $1.count) }
        func row(_ index: String, _ name: String, _ verdict: String, _ time: String, _ memory: String) -> String {
            Terminal.pad(index, indexWidth) + "  " + Terminal.pad(name, nameWidth) + "  " + Terminal.pad(verdict, verdictWidth)
                + "  " + Terminal.pad(time, timeWidth) + "  " + memory
        }
        var lines = [row("#", "NAME", "VERDICT", "TIME", "MEMORY")]
        for index in cases.indices {
            lines.append(row(String(index + 1), names[index], verdicts[index], times[index], memories[index]))
        }
        lines.append(summary(for: result))
        return lines
    }

    /// `2/3 passed, verdict: wrong_answer`.
    static func summary(for result: ExecutionResult) -> String {
        let total = result.total ?? result.tests?.count ?? 0
        let passed = result.passed ?? result.tests?.filter(\.verdict.isAccepted).count ?? 0
        return "\(passed)/\(total) passed, verdict: \(result.verdict?.rawValue ?? "-")"
    }

    /// A case's name on one line and at most ``maxNameWidth`` characters.
    static func displayName(_ name: String) -> String {
        let flat = String(name.map { $0.isNewline || $0 == "\t" ? " " : $0 })
        return flat.count <= maxNameWidth ? flat : String(flat.prefix(maxNameWidth - 1)) + "…"
    }
}
