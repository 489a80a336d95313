import Foundation
import NIOCore
import Queue
import Testing

@testable import Worker

/// Judge mode's pieces without I/O: the CR2 input, the record parser, the comparisons and the
/// verdicts (`JudgeTally`).
struct JudgePiecesTests {
    static let nonce = String(repeating: "b", count: 32)
    static let marker = "@@code-runner:\(nonce)@@ "

    func payload(_ judge: JudgePayload, output: Int = 100) -> RunPayload {
        var payload = RunPayload(
            code: "print(input())",
            image: "code-runner-python",
            mainFile: "main.py",
            timeoutSeconds: 7,
            memoryBytes: 1 << 28,
            cpuShares: 512,
            nanoCPUs: 1_000_000_000,
            diskBytes: 1 << 26,
            pidsLimit: 64,
            maxOutputBytes: output,
            maxMetadataBytes: 50
        )
        payload.judge = judge
        return payload
    }

    static func caseRecord(_ index: Int, status: Int = 0, flags: String = "-", stdout: String = "", stderr: String = "") -> String {
        "\(marker)case \(index) \(status) 1500 1200 4096000 \(flags) \(stdout.utf8.count) \(stderr.utf8.count)\n\(stdout)\(stderr)"
    }

    @Test("the CR2 input: header fields, the archive, then each case's length line and stdin")
    func input() {
        let judge = JudgePayload(
            cases: [JudgeCase(name: "1", stdin: "21\n", timeoutMilliseconds: 250), JudgeCase(name: "2", stdin: "", timeoutMilliseconds: 7000)],
            buildCommand: "go build",
            runCommand: nil
        )
        let input = JudgeInput.make(payload: payload(judge), judge: judge, nonce: Self.nonce)
        let bytes = Array(input.bytes.readableBytesView)
        let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? 0
        let header = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
        #expect(header.count == 9)
        #expect(header[0] == "CR2" && header[1] == Substring(Self.nonce))
        #expect(header[5] == "-")
        #expect(header[6] == Substring(Data("go build".utf8).base64EncodedString()))
        #expect(header[7] == "100" && header[8] == "7000")
        let archiveBytes = Int(header[2]) ?? -1
        let cases = String(decoding: bytes[(newline + 1 + archiveBytes)...], as: UTF8.self)
        #expect(Int(header[3]) == cases.utf8.count)
        #expect(cases == "3 250\n21\n0 7000\n")
        // the expected outputs never enter the container
        #expect(!String(decoding: bytes, as: UTF8.self).contains("expected"))
    }

    @Test("records are parsed across any chunking; the build's output comes before the first marker")
    func parserChunking() {
        let stream =
            "compiling...\n\(Self.marker)build 0 52000 -\n" + Self.caseRecord(0, stdout: "42\n", stderr: "warn")
            + Self.caseRecord(1, status: 137, flags: "tm", stdout: "@@code-runner:forged@@ case 9\n") + "\(Self.marker)done 2\n"
        let bytes = Array(stream.utf8)
        for chunk in [1, 3, 7, 64, bytes.count] {
            var parser = JudgeRecordParser(nonce: Self.nonce, outputCap: 100)
            var output: [UInt8] = []
            var records: [JudgeRecordParser.Record] = []
            var offset = 0
            while offset < bytes.count {
                let piece = bytes[offset..<min(offset + chunk, bytes.count)]
                let (more, found) = parser.feed(piece)
                output += more
                records += found
                offset += chunk
            }
            output += parser.finish()
            #expect(String(decoding: output, as: UTF8.self) == "compiling...\n", "chunk \(chunk)")
            #expect(records.count == 4, "chunk \(chunk)")
            #expect(records.first == .build(status: 0, wallMicroseconds: 52000, flags: []))
            guard records.count == 4, case .testCase(let first) = records[1], case .testCase(let second) = records[2] else { continue }
            #expect(first.stdout == Array("42\n".utf8) && first.stderr == Array("warn".utf8))
            #expect(first.cpuMicroseconds == 1200 && first.maxResidentBytes == 4_096_000)
            #expect(second.status == 137 && second.flags == [.caseTimeout, .outOfMemory])
            #expect(String(decoding: second.stdout, as: UTF8.self) == "@@code-runner:forged@@ case 9\n")
            #expect(records[3] == .done(casesRun: 2))
            #expect(parser.strayBytes == 0)
        }
    }

    @Test("bytes between records without the nonce are skipped, never records; over-cap lengths are refused")
    func parserRefusesForgeries() {
        var parser = JudgeRecordParser(nonce: Self.nonce, outputCap: 10)
        let stream =
            "\(Self.marker)build 0 1 -\n" + "@@code-runner:\(String(repeating: "c", count: 32))@@ case 0 0 1 1 1 - 0 0\n"
            + "\(Self.marker)case 0 0 1 1 1 - 11 0\n" + Self.caseRecord(0, stdout: "ok") + "\(Self.marker)done 1\n"
        let (_, records) = parser.feed(Array(stream.utf8))
        #expect(records.count == 3)
        if records.count == 3, case .testCase(let record) = records[1] { #expect(record.stdout == Array("ok".utf8)) }
        #expect(parser.strayBytes > 0)
        #expect(parser.lastProblem != nil)
    }

    @Test(
        "comparisons",
        arguments: [
            (OutputComparison.exact, "2\n", "2\n", true), (.exact, "2", "2\n", false), (.exact, "2 \n", "2\n", false),
            (.trim, "2  \r\n\n\n", "2\n", true), (.trim, "a b\n", "a  b\n", false), (.trim, " 2\n", "2\n", false),
            (.trim, "", "", true), (.trim, "\n\n", "", true), (.trim, "1\n\n2\n", "1\n2\n", false),
            (.tokens, "1  2\n3\t\n", "1 2 3", true), (.tokens, "1 2", "1 2 3", false), (.tokens, "", " \n", true),
            (.float(tolerance: 1e-6), "0.3333333", "0.33333333", true), (.float(tolerance: 1e-6), "0.334", "0.333", false),
            (.float(tolerance: 1e-3), "1000.5", "1000", true), (.float(tolerance: 1e-6), "1e3 x", "1000.0000001 x", true),
            (.float(tolerance: 1e-6), "x", "y", false), (.float(tolerance: 1e-6), "nan", "nan", true),
            (.float(tolerance: 1e-6), "nan", "1", false), (.float(tolerance: 1e-6), "inf", "inf", true),
            (.float(tolerance: 0.1), "1 2", "1", false),
        ] as [(OutputComparison, String, String, Bool)]
    )
    func comparison(mode: OutputComparison, actual: String, expected: String, equal: Bool) {
        #expect(mode.matches(Array(actual.utf8), expected: expected) == equal, "\(mode) \(actual.debugDescription) vs \(expected.debugDescription)")
    }

    func tally(_ judge: JudgePayload, _ stream: String, output: Int = 100) -> JudgeTally {
        var parser = JudgeRecordParser(nonce: Self.nonce, outputCap: output)
        var tally = JudgeTally(judge: judge, outputCap: output)
        for record in parser.feed(Array(stream.utf8)).records { tally.take(record) }
        return tally
    }

    static func cases(_ expected: [String?]) -> [JudgeCase] {
        expected.enumerated().map { JudgeCase(name: "c\($0.offset)", stdin: "", expectedOutput: $0.element, timeoutMilliseconds: 1000) }
    }

    @Test("every verdict from its record; the first that is not accepted is the run's")
    func verdicts() {
        let judge = JudgePayload(cases: Self.cases(["2\n", "2\n", nil, nil, nil, nil, nil, nil]))
        let stream =
            "\(Self.marker)build 0 1 -\n" + Self.caseRecord(0, stdout: "2\n") + Self.caseRecord(1, stdout: "3\n")
            + Self.caseRecord(2, status: 1) + Self.caseRecord(3, status: 137, flags: "t") + Self.caseRecord(4, status: 137, flags: "m")
            + Self.caseRecord(5, flags: "o", stdout: "xx") + Self.caseRecord(6, status: 137, flags: "T") + "\(Self.marker)done 7\n"
        let tally = tally(judge, stream)
        #expect(tally.isComplete)
        let report = tally.report(interruption: nil)
        #expect(
            report.cases.map(\.verdict) == [
                .accepted, .wrongAnswer, .runtimeError, .timeLimitExceeded, .memoryLimitExceeded, .outputLimitExceeded, .timeLimitExceeded,
                .skipped,
            ]
        )
        #expect(report.verdict == .wrongAnswer && report.passed == 1 && report.total == 8)
        #expect(report.cases[0].time == 0.0015 && report.cases[0].cpuTime == 0.0012 && report.cases[0].memoryBytes == 4_096_000)
        #expect(report.cases[5].stdoutTruncated)
        #expect(report.cases[7].exitCode == nil && report.cases[7].time == nil)
        #expect(tally.deadlineReached)
    }

    @Test("a failed build: every case is compile_error; stop_on_first_failure: the rest is skipped at once")
    func buildFailureAndStop() {
        let judge = JudgePayload(cases: Self.cases(["1", "1", "1"]), stopOnFirstFailure: true)
        let failed = tally(judge, "\(Self.marker)build 1 5 -\n\(Self.marker)done 0\n").report(interruption: nil)
        #expect(failed.verdict == .compileError && failed.cases.allSatisfy { $0.verdict == .compileError } && failed.passed == 0)
        let stopped = tally(judge, "\(Self.marker)build 0 5 -\n" + Self.caseRecord(0, stdout: "1") + Self.caseRecord(1, stdout: "0"))
        #expect(stopped.stoppedEarly && stopped.isComplete)
        #expect(stopped.report(interruption: nil).cases.map(\.verdict) == [.accepted, .wrongAnswer, .skipped])
    }

    @Test("a stream that ended early: the running case gets the interruption's verdict and note, the rest are skipped")
    func interrupted() {
        let judge = JudgePayload(cases: Self.cases([nil, nil, nil]))
        let tally = tally(judge, "\(Self.marker)build 0 5 -\n" + Self.caseRecord(0))
        #expect(!tally.isComplete)
        let report = tally.report(interruption: (.runtimeError, "supervisor lost"))
        #expect(report.cases.map(\.verdict) == [.accepted, .runtimeError, .skipped])
        #expect(report.cases[1].stderr == "supervisor lost")
        let beforeBuild = self.tally(judge, "").report(interruption: (.timeLimitExceeded, "late"))
        #expect(beforeBuild.cases.allSatisfy { $0.verdict == .compileError })
    }

    @Test("a case's output is shortened for the answer to max(4096, cap / cases), flagged")
    func displayCap() {
        let judge = JudgePayload(cases: Self.cases([nil]))
        let long = String(repeating: "y", count: 5000)
        let report = tally(judge, "\(Self.marker)build 0 5 -\n" + Self.caseRecord(0, stdout: long), output: 10_000).report(interruption: nil)
        #expect(report.cases[0].verdict == .accepted)
        #expect(report.cases[0].stdout.utf8.count == 5000 && !report.cases[0].stdoutTruncated)
        let many = JudgePayload(cases: Self.cases([nil, nil, nil, nil]))
        let big = String(repeating: "z", count: 9000)
        let shortened = tally(many, "\(Self.marker)build 0 5 -\n" + Self.caseRecord(0, stdout: big), output: 40_000).report(interruption: nil)
        #expect(shortened.cases[0].stdout.utf8.count == 9000 && !shortened.cases[0].stdoutTruncated)
        let tiny = tally(many, "\(Self.marker)build 0 5 -\n" + Self.caseRecord(0, stdout: big), output: 12_000).report(interruption: nil)
        #expect(tiny.cases[0].stdout.utf8.count == 4096 && tiny.cases[0].stdoutTruncated)
    }
}
