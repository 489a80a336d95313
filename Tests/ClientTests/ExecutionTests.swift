import CodeRunnerClient
import Testing

@Suite("run", .needsService)
struct ExecutionTests {
    let client = Service.client

    @Test("stdin in, stdout and stderr out, exit code kept")
    func runMirrorsStreamsAndExitCode() async throws {
        let code = """
            import sys
            data = sys.stdin.read()
            print(data.upper(), end="")
            print("to stderr", file=sys.stderr)
            sys.exit(3)
            """
        let result = try await client.run(RunRequest(runtime: .python, code: code, stdin: "hello\n"))
        #expect(result.stdout == "HELLO\n")
        #expect(result.stderr == "to stderr\n")
        #expect(result.exitCode == 3)
        #expect(!result.jobID.isEmpty)
        #expect(!result.timedOut)
    }

    @Test("files are written next to the main file")
    func runWithFiles() async throws {
        let request = RunRequest(
            runtime: .python,
            code: "import helper\nprint(helper.answer())",
            files: ["helper.py": "def answer():\n    return 42\n"]
        )
        let result = try await client.run(request)
        #expect(result.stdout == "42\n")
        #expect(result.exitCode == 0)
    }

    @Test("another runtime: node")
    func runNode() async throws {
        let result = try await client.run(RunRequest(runtime: .node, code: "console.log(typeof process.version)"))
        #expect(result.stdout == "string\n")
    }

    @Test("a program past its timeout is a result with timedOut and exit code -1")
    func runTimesOut() async throws {
        let result = try await client.run(RunRequest(runtime: .python, code: "while True: pass", timeout: 1))
        #expect(result.timedOut)
        #expect(result.exitCode == -1)
    }

    @Test("environment variables reach the program")
    func runWithEnvironment() async throws {
        let request = RunRequest(runtime: .python, code: "import os; print(os.environ['GREETING'])", environment: ["GREETING": "hi"])
        #expect(try await client.run(request).stdout == "hi\n")
    }
}
