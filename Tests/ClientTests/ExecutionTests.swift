import CodeRunnerClient
import Foundation
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

    @Test("output files come back in the result and from client.file; a path without a file is notFound")
    func runWithOutputFiles() async throws {
        let code = """
            import os
            os.makedirs("out", exist_ok=True)
            open("out/data.csv", "w").write("a,b\\n1,2\\n")
            open("out/skip.log", "w").write("no")
            open("blob.bin", "wb").write(bytes(range(256)))
            """
        let result = try await client.run(RunRequest(runtime: .python, code: code, outputFiles: ["out/*.csv", "*.bin"]))
        #expect(result.exitCode == 0, "\(result.stderr)")
        let files = try #require(result.files)
        #expect(files.map(\.path) == ["blob.bin", "out/data.csv"])
        #expect(files.last?.content == Data("a,b\n1,2\n".utf8))
        #expect(files.last?.mediaType.hasPrefix("text/csv") == true)
        #expect(files.first?.content == Data((0...255).map { UInt8($0) }))
        #expect(!result.filesTruncated)

        let fetched = try await client.file(jobID: result.jobID, path: "out/data.csv")
        #expect(fetched == Data("a,b\n1,2\n".utf8))
        let missing = await thrownError { () async throws(CodeRunnerError) in try await client.file(jobID: result.jobID, path: "out/skip.log") }
        guard case .notFound = missing else {
            Issue.record("expected notFound, got \(String(describing: missing))")
            return
        }
    }
}
