import CodeRunnerClient
import Foundation
import Testing

/// Judge mode's request and result fields on the wire (no service needed): their snake_case
/// names, left out when nil, verdicts the library does not know kept as they are, and results
/// of ordinary runs unchanged.
struct JudgeModelTests {
    func encoded(_ value: some Encodable) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any])
    }

    func decoded<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(json.utf8))
    }

    @Test("tests, compare, float_tolerance and stop_on_first_failure under their wire names")
    func requestFields() throws {
        let request = RunRequest(
            runtime: .go,
            code: "package main",
            timeout: 5,
            tests: [
                TestCase(name: "small", stdin: "1 2\n", expectedOutput: "3\n", timeout: 0.5),
                TestCase(stdin: "2 2\n"),
            ],
            compare: .float,
            floatTolerance: 0.001,
            stopOnFirstFailure: true
        )
        let body = try encoded(request)
        #expect(body["compare"] as? String == "float")
        #expect(body["float_tolerance"] as? Double == 0.001)
        #expect(body["stop_on_first_failure"] as? Bool == true)
        #expect(body["timeout"] as? Int == 5)
        #expect(body["stdin"] == nil)
        for camelCase in ["floatTolerance", "stopOnFirstFailure", "expectedOutput"] { #expect(body[camelCase] == nil) }
        let cases = try #require(body["tests"] as? [[String: Any]])
        #expect(cases.count == 2)
        #expect(Set(cases[0].keys) == ["name", "stdin", "expected_output", "timeout"])
        #expect(cases[0]["name"] as? String == "small")
        #expect(cases[0]["stdin"] as? String == "1 2\n")
        #expect(cases[0]["expected_output"] as? String == "3\n")
        #expect(cases[0]["timeout"] as? Double == 0.5)
        #expect(Set(cases[1].keys) == ["stdin"])
    }

    @Test("an ordinary request sends none of judge mode's keys")
    func ordinaryRequest() throws {
        let body = try encoded(RunRequest(code: "print(1)", stdin: "x"))
        for key in ["tests", "compare", "float_tolerance", "stop_on_first_failure"] { #expect(body[key] == nil) }
        #expect(body["stdin"] as? String == "x")
    }

    @Test("every comparison mode by its contract name; a request decodes back")
    func comparisonNames() throws {
        #expect(OutputComparison.allCases.map(\.rawValue) == ["exact", "trim", "tokens", "float"])
        let request = try decoded(
            RunRequest.self,
            #"{"code": "x", "image": "python", "tests": [{"expected_output": "y"}, {}], "compare": "tokens", "stop_on_first_failure": false}"#
        )
        #expect(request.tests == [TestCase(expectedOutput: "y"), TestCase()])
        #expect(request.compare == .tokens)
        #expect(request.stopOnFirstFailure == false)
        #expect(request.floatTolerance == nil)
        #expect(try decoded(RunRequest.self, try String(decoding: JSONEncoder().encode(request), as: UTF8.self)) == request)
    }

    static let judged = #"""
        {"job_id": "j-1", "stdout": "", "stderr": "", "exit_code": 0, "execution_time": 0.8, "metadata": null,
         "timed_out": false, "oom_killed": false, "stdout_truncated": false, "stderr_truncated": false,
         "verdict": "wrong_answer", "passed": 1, "total": 3, "tests": [
           {"name": "small", "verdict": "accepted", "exit_code": 0, "stdout": "3\n", "stderr": "",
            "stdout_truncated": false, "stderr_truncated": true, "time": 0.0123, "cpu_time": 0.01, "memory_bytes": 9437184},
           {"name": "2", "verdict": "wrong_answer", "exit_code": 0, "stdout": "5\n", "stderr": "",
            "stdout_truncated": false, "stderr_truncated": false, "time": 0.011, "cpu_time": null, "memory_bytes": null},
           {"name": "3", "verdict": "skipped", "exit_code": null, "stdout": "", "stderr": "",
            "stdout_truncated": false, "stderr_truncated": false, "time": null, "cpu_time": null, "memory_bytes": null}]}
        """#

    @Test("a judged result: verdict, counts and each case, nulls as nil")
    func judgedResult() throws {
        let result = try decoded(ExecutionResult.self, Self.judged)
        #expect(result.verdict == .wrongAnswer)
        #expect(result.passed == 1)
        #expect(result.total == 3)
        #expect(!result.allAccepted)
        let cases = try #require(result.tests)
        #expect(
            cases[0]
                == TestCaseResult(
                    name: "small",
                    verdict: .accepted,
                    exitCode: 0,
                    stdout: "3\n",
                    stderrTruncated: true,
                    time: 0.0123,
                    cpuTime: 0.01,
                    memoryBytes: 9_437_184
                )
        )
        #expect(cases[1].verdict == .wrongAnswer && cases[1].cpuTime == nil && cases[1].memoryBytes == nil)
        #expect(cases[2] == TestCaseResult(name: "3", verdict: .skipped))
        #expect(cases.map(\.verdict.isAccepted) == [true, false, false])
    }

    @Test("a judged result encodes back to the same keys and values, nulls included")
    func judgedRoundTrip() throws {
        let result = try decoded(ExecutionResult.self, Self.judged)
        let data = try JSONEncoder().encode(result)
        #expect(try JSONDecoder().decode(ExecutionResult.self, from: data) == result)
        let body = try encoded(result)
        #expect(body["verdict"] as? String == "wrong_answer")
        #expect(body["passed"] as? Int == 1 && body["total"] as? Int == 3)
        let skipped = try #require((body["tests"] as? [[String: Any]])?.last)
        #expect(
            Set(skipped.keys) == [
                "name", "verdict", "exit_code", "stdout", "stderr", "stdout_truncated", "stderr_truncated", "time", "cpu_time",
                "memory_bytes",
            ]
        )
        #expect(skipped["exit_code"] is NSNull && skipped["time"] is NSNull && skipped["memory_bytes"] is NSNull)
    }

    @Test("a verdict this library does not know is kept as its string")
    func unknownVerdict() throws {
        let result = try decoded(
            ExecutionResult.self,
            #"""
            {"stdout": "", "stderr": "", "exit_code": 0, "verdict": "presentation_error", "passed": 0, "total": 1,
             "tests": [{"name": "1", "verdict": "idleness_limit_exceeded"}]}
            """#
        )
        #expect(result.verdict == Verdict(rawValue: "presentation_error"))
        #expect(result.verdict.map { Verdict.known.contains($0) } == false)
        #expect(result.tests?.first?.verdict == "idleness_limit_exceeded")
        #expect(result.tests?.first?.stdout == "")
        #expect(result.tests?.first?.exitCode == nil)
        #expect(!result.allAccepted)
        #expect(try encoded(result)["verdict"] as? String == "presentation_error")
    }

    @Test("every verdict of the contract has its constant")
    func knownVerdicts() {
        #expect(
            Verdict.known.map(\.rawValue) == [
                "accepted", "wrong_answer", "runtime_error", "time_limit_exceeded", "memory_limit_exceeded", "output_limit_exceeded",
                "compile_error", "skipped",
            ]
        )
        #expect(Verdict.known.filter(\.isAccepted) == [.accepted])
    }

    @Test("allAccepted only for a judged run whose every case was accepted")
    func allAccepted() throws {
        let accepted = try decoded(
            ExecutionResult.self,
            #"""
            {"stdout": "", "stderr": "", "exit_code": 0, "verdict": "accepted", "passed": 2, "total": 2,
             "tests": [{"name": "1", "verdict": "accepted"}, {"name": "2", "verdict": "accepted"}]}
            """#
        )
        #expect(accepted.allAccepted)
        let compileError = try decoded(
            ExecutionResult.self,
            #"""
            {"stdout": "", "stderr": "main.go:1: syntax error", "exit_code": 1, "verdict": "compile_error", "passed": 0, "total": 1,
             "tests": [{"name": "1", "verdict": "compile_error", "exit_code": null, "time": null}]}
            """#
        )
        #expect(!compileError.allAccepted)
        #expect(compileError.tests?.first?.verdict == .compileError)
    }

    @Test("an ordinary result has no judge fields and encodes exactly as before")
    func ordinaryResult() throws {
        let json = #"""
            {"job_id": "j-2", "stdout": "hi\n", "stderr": "", "exit_code": 0, "execution_time": 0.02, "metadata": null,
             "timed_out": false, "oom_killed": false, "stdout_truncated": false, "stderr_truncated": false}
            """#
        let result = try decoded(ExecutionResult.self, json)
        #expect(result.verdict == nil && result.passed == nil && result.total == nil && result.tests == nil)
        #expect(!result.allAccepted)
        #expect(result.stdout == "hi\n" && result.jobID == "j-2")
        let body = try encoded(result)
        #expect(
            Set(body.keys) == [
                "job_id", "stdout", "stderr", "exit_code", "execution_time", "metadata", "timed_out", "oom_killed", "stdout_truncated",
                "stderr_truncated",
            ]
        )
    }

    @Test("a job's judged result decodes through GET /jobs/{id}'s shape")
    func judgedJob() throws {
        let job = try decoded(
            Job.self,
            #"{"job_id": "j-1", "status": "completed", "created_at": "2026-11-26T23:31:32Z", "result": \#(Self.judged), "error": null}"#
        )
        let result = try job.outcome()
        #expect(result.verdict == .wrongAnswer)
        #expect(result.tests?.count == 3)
    }
}
