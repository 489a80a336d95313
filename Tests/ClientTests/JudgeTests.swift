import CodeRunnerClient
import Testing

/// Judge mode against the service: one program, many cases, one verdict each.
@Suite("judge mode", .needsService)
struct JudgeTests {
    let client = Service.client

    /// Prints the sum of the two numbers on its input; `crash` fails, `sleep` never ends.
    static let adder = """
        import sys, time
        data = sys.stdin.read()
        if data.startswith("crash"):
            sys.exit("crashed")
        if data.startswith("sleep"):
            time.sleep(60)
        a, b = map(float, data.split())
        print(a + b if a + b != int(a + b) else int(a + b))
        """

    @Test("each case gets its verdict, in order, and the first failure is the run's")
    func verdictsInOrder() async throws {
        let request = RunRequest(
            runtime: .python,
            code: Self.adder,
            timeout: 20,
            tests: [
                TestCase(name: "small", stdin: "1 2\n", expectedOutput: "3\n"),
                TestCase(stdin: "2 2\n", expectedOutput: "5\n"),
                TestCase(stdin: "crash\n", expectedOutput: "0\n"),
                TestCase(stdin: "sleep\n", timeout: 1),
                TestCase(stdin: "4 4\n"),
            ]
        )
        let result = try await client.run(request)
        #expect(result.verdict == .wrongAnswer)
        #expect(result.passed == 2)
        #expect(result.total == 5)
        #expect(!result.allAccepted)
        let cases = try #require(result.tests)
        #expect(cases.map(\.name) == ["small", "2", "3", "4", "5"])
        #expect(cases.map(\.verdict) == [.accepted, .wrongAnswer, .runtimeError, .timeLimitExceeded, .accepted])
        #expect(cases[0].stdout == "3\n" && cases[0].exitCode == 0)
        #expect(cases[1].stdout == "4\n")
        #expect(cases[2].stderr.contains("crashed"))
        #expect(cases[0].time != nil)
    }

    @Test("every case accepted; a Python program's compile step has exit 0")
    func allAccepted() async throws {
        let request = RunRequest(
            runtime: .python,
            code: Self.adder,
            tests: [TestCase(stdin: "1 1", expectedOutput: "2"), TestCase(stdin: "20 22\n", expectedOutput: "42\n\n")]
        )
        let result = try await client.run(request)
        #expect(result.verdict == .accepted)
        #expect(result.allAccepted)
        #expect(result.exitCode == 0)
        #expect(result.tests?.allSatisfy(\.verdict.isAccepted) == true)
    }

    @Test("compare float and tokens; exact is byte for byte")
    func comparisons() async throws {
        let float = RunRequest(
            runtime: .python,
            code: Self.adder,
            tests: [TestCase(stdin: "0.1 0.2", expectedOutput: "0.3000001")],
            compare: .float,
            floatTolerance: 1e-3
        )
        #expect(try await client.run(float).verdict == .accepted)
        let exact = RunRequest(runtime: .python, code: Self.adder, tests: [TestCase(stdin: "1 2", expectedOutput: "3")], compare: .exact)
        #expect(try await client.run(exact).verdict == .wrongAnswer)
        let tokens = RunRequest(
            runtime: .python,
            code: "print('a  b\\n c')",
            tests: [TestCase(expectedOutput: "a b c")],
            compare: .tokens
        )
        #expect(try await client.run(tokens).verdict == .accepted)
    }

    @Test("stopOnFirstFailure skips the cases after the first failure")
    func stopOnFirstFailure() async throws {
        let request = RunRequest(
            runtime: .python,
            code: Self.adder,
            tests: [TestCase(stdin: "1 1", expectedOutput: "3"), TestCase(stdin: "1 1", expectedOutput: "2")],
            stopOnFirstFailure: true
        )
        let result = try await client.run(request)
        #expect(result.tests?.map(\.verdict) == [.wrongAnswer, .skipped])
        #expect(result.tests?.last?.exitCode == nil)
        #expect(result.passed == 0)
    }

    @Test("a Go program that does not build: compile_error for every case, the build's output in stderr")
    func compileError() async throws {
        let request = RunRequest(
            runtime: .go,
            code: "package main\nfunc main() { undefinedThing() }\n",
            tests: [TestCase(expectedOutput: "x"), TestCase()]
        )
        let result = try await client.run(request)
        #expect(result.verdict == .compileError)
        #expect(result.exitCode != 0)
        #expect(result.stderr.contains("undefinedThing"))
        #expect(result.tests?.map(\.verdict) == [.compileError, .compileError])
        #expect(result.tests?.first?.time == nil)
    }

    @Test("a submitted judge job returns the same result through wait")
    func submitted() async throws {
        let submitted = try await client.submit(
            RunRequest(runtime: .python, code: "print(input())", tests: [TestCase(stdin: "hi\n", expectedOutput: "hi")])
        )
        let job = try await client.wait(id: submitted.id, timeout: .seconds(120))
        let result = try job.outcome()
        #expect(result.verdict == .accepted)
        #expect(result.tests?.first?.stdout == "hi\n")
    }

    @Test("judge-mode validation: stdin beside tests, a case timeout over the run's, float_tolerance without float")
    func validation() async {
        let cases: [(RunRequest, [String])] = [
            (RunRequest(code: "print(1)", stdin: "x", tests: [TestCase()]), ["body", "stdin"]),
            (RunRequest(code: "print(1)", timeout: 2, tests: [TestCase(timeout: 3)]), ["body", "tests", "0", "timeout"]),
            (RunRequest(code: "print(1)", tests: [TestCase()], compare: .tokens, floatTolerance: 0.1), ["body", "float_tolerance"]),
            (RunRequest(code: "print(1)", compare: .exact), ["body", "compare"]),
            (RunRequest(code: "print(1)", tests: []), ["body", "tests"]),
        ]
        for (request, location) in cases {
            let error = await thrownError { () async throws(CodeRunnerError) in try await client.submit(request) }
            guard case .invalidRequest(422, _, let issues) = error else {
                Issue.record("expected a 422 at \(location), got \(String(describing: error))")
                continue
            }
            #expect(issues.map(\.location) == [location])
        }
    }
}
