import Foundation
import Logging
import Queue
import Testing

@testable import Worker

/// Runs against the real Docker engine and the `code-runner-python` image (`make images`).
@Suite(.serialized, .needsDocker)
struct SandboxIntegrationTests {
    /// One client for the whole test run (AsyncHTTPClient insists on an explicit shutdown).
    static let sharedDocker = DockerClient(socketPath: ProcessInfo.processInfo.environment["DOCKER_SOCKET"] ?? "/var/run/docker.sock")
    var docker: DockerClient { Self.sharedDocker }
    let logger = Logger(label: "sandbox-tests")

    func payload(_ code: String, timeout: Int = 20, memory: Int64 = 256 << 20, outputCap: Int = 1 << 20) -> RunPayload {
        var payload = RunPayload.testRun(code, timeout: timeout)
        payload.memoryBytes = memory
        payload.maxOutputBytes = outputCap
        return payload
    }

    func run(_ payload: RunPayload, job: String = UUID().uuidString.lowercased()) async throws -> RunResult {
        try await docker.runOnce(payload, worker: "sandbox-tests", job: job, logger: logger)
    }

    @Test("files, stdin and metadata in, output and metadata out; the container is removed")
    func fullRoundTrip() async throws {
        var request = payload(
            "import sys\nfrom helper import twice\nfrom sdk import set_metadata\n"
                + "data = sys.stdin.read()\nprint(twice(data))\nprint('warn', file=sys.stderr)\n"
                + "set_metadata({'length': len(data), 'list': [1, 2]})\n"
        )
        request.files = [WorkFile(name: "helper.py", content: "def twice(s):\n    return s * 2\n")]
        request.stdin = "ab"
        let job = UUID().uuidString.lowercased()
        let result = try await run(request, job: job)
        #expect(result.stdout == "abab\n")
        #expect(result.stderr == "warn\n")
        #expect(result.exitCode == 0)
        #expect(result.metadata == .object(["length": .integer(2), "list": .array([.integer(1), .integer(2)])]))
        #expect(!result.timedOut && !result.oomKilled)
        #expect(try await docker.containers(withLabel: "code-runner.job=\(job)").isEmpty)
    }

    @Test("the sandbox: uid 1000, no capabilities, no new privileges, seccomp, read-only root, only lo")
    func sandboxFacts() async throws {
        let result = try await run(
            payload(
                """
                import os
                status = dict(line.split(':\\t', 1) for line in open('/proc/self/status').read().splitlines() if ':\\t' in line)
                print(os.getuid(), status['CapEff'].strip(), status['NoNewPrivs'].strip(), status['Seccomp'].strip())
                print(sorted(os.listdir('/sys/class/net')))
                try:
                    open('/etc/evil', 'w')
                except OSError as error:
                    print('root read-only:', error.errno == 30)
                print(open('/sys/fs/cgroup/memory/memory.limit_in_bytes').read().strip(), open('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes').read().strip())
                print(open('/sys/fs/cgroup/pids/pids.max').read().strip())
                """
            )
        )
        #expect(result.exitCode == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "1000 0000000000000000 1 2")
        #expect(lines.dropFirst().first == "['lo']")
        #expect(lines.contains("root read-only: True"))
        #expect(lines.contains("\(256 << 20) \(256 << 20)"))
        #expect(lines.last == "128")
    }

    @Test("a non-zero exit is a result with the program's stderr")
    func nonZeroExit() async throws {
        let result = try await run(payload("import sys\nsys.stderr.write('bad')\nsys.exit(3)"))
        #expect(result.exitCode == 3)
        #expect(result.stderr == "bad")
    }

    @Test("the deadline kills the run: exit -1, timed_out, output so far kept")
    func timeout() async throws {
        let started = ContinuousClock.now
        let result = try await run(payload("import time\nprint('before', flush=True)\ntime.sleep(30)", timeout: 2))
        #expect(result.timedOut)
        #expect(result.exitCode == -1)
        #expect(result.stdout == "before\n")
        #expect(ContinuousClock.now - started < .seconds(6))
    }

    @Test("the full 1 MiB of code runs")
    func oneMebibyteOfCode() async throws {
        let filler = String(repeating: "a", count: 1_048_576 - 40)
        let code = "x = '\(filler)'\nprint(len(x))\n"
        let result = try await run(payload(code))
        #expect(result.exitCode == 0, "\(result.stderr.prefix(500))")
        #expect(result.stdout == "\(filler.count)\n")
    }

    @Test("output past the cap is dropped and flagged; the trailer still arrives")
    func outputCap() async throws {
        var request = payload("from sdk import set_metadata\nprint('x' * 5000)\nset_metadata(7)", outputCap: 1000)
        request.maxOutputBytes = 1000
        let result = try await run(request)
        #expect(result.stdout.utf8.count == 1000)
        #expect(result.stdoutTruncated)
        #expect(!result.stderrTruncated)
        #expect(result.metadata == .integer(7))
    }

    @Test("a memory bomb is OOM-killed: exit 137, oom_killed")
    func outOfMemory() async throws {
        let result = try await run(payload("x = bytearray(512 * 1024 * 1024)\nprint('survived')", memory: 64 << 20))
        #expect(result.oomKilled)
        #expect(result.exitCode == 137)
        #expect(!result.stdout.contains("survived"))
    }

    @Test("an image that does not exist is a 404, never a pull")
    func missingImage() async throws {
        var request = payload("print(1)")
        request.image = "code-runner-does-not-exist"
        do {
            _ = try await run(request)
            Issue.record("ran without an image")
        } catch let failure as ExecutionFailure {
            #expect(failure.failure.statusCode == 404)
            #expect(failure.failure.detail.hasPrefix("Image 'code-runner-does-not-exist' not found."))
            #expect(!failure.retryable)
        }
    }
}
