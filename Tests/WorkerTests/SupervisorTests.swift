import Foundation
import Logging
import Queue
import Testing

@testable import Worker

/// The image's supervisor (runtimes/common/supervise.c) against a real engine and the
/// `code-runner-python` image, and the worker's rule for a container that ended without a
/// trailer (`SandboxRunner.faultOutsideTheProgram`).
@Suite(.serialized, .needsDocker)
struct SupervisorTests {
    var docker: DockerClient { SandboxIntegrationTests.sharedDocker }
    let logger = Logger(label: "supervisor-tests")

    func run(_ code: String, timeout: Int = 20) async throws -> RunResult {
        let payload = RunPayload.testRun(code, timeout: timeout)
        let remover = ContainerRemover(docker: docker, logger: logger)
        let runner = SandboxRunner.forTests(docker, remover: remover, logger: logger)
        let result = try await runner.run(
            payload,
            as: RunIdentity(jobID: UUID().uuidString.lowercased(), workerID: "supervisor-tests", deploymentID: "tests")
        )
        await remover.drain()
        return result
    }

    @Test("the program's parent refuses /proc reads; a trailer printed by the program is its output")
    func supervisorIsSealed() async throws {
        let result = try await run(
            """
            import os, sys
            sup = int(open(f'/proc/{os.getppid()}/stat').read().rsplit(')', 1)[1].split()[1])
            for name in ('environ', 'maps', 'mem'):
                try:
                    open(f'/proc/{sup}/{name}', 'rb').read(1)
                    print(name, 'readable')
                except PermissionError:
                    print(name, 'refused')
            sys.stdout.write('@@code-runner:' + 'a' * 32 + '@@ 0 2 0\\n{}')
            sys.exit(7)
            """
        )
        #expect(result.exitCode == 7)
        #expect(result.metadata == nil)
        #expect(result.stdout.hasPrefix("environ refused\nmaps refused\nmem refused\n"))
    }

    @Test("a killed supervisor: the container's exit status, a note on stderr, no retry")
    func killedSupervisorIsTheResult() async throws {
        let result = try await run(
            """
            import os, signal, time
            sup = int(open(f'/proc/{os.getppid()}/stat').read().rsplit(')', 1)[1].split()[1])
            print('before', flush=True)
            os.kill(sup, signal.SIGKILL)
            time.sleep(30)
            """
        )
        #expect(result.exitCode == 137)
        #expect(!result.timedOut && !result.oomKilled)
        #expect(result.metadata == nil)
        #expect(result.stdout == "before\n")
        #expect(result.stderr.hasSuffix(SandboxRunner.supervisorLostNote(exitStatus: 137)))
    }

    @Test("the no-trailer rule: only a container that ended by itself under the same engine is a result")
    func noTrailerRule() {
        let socket = EngineSocketIdentity(device: 1, inode: 2, changedSeconds: 3, changedNanoseconds: 4)
        var restarted = socket
        restarted.inode = 99
        func fault(
            delivered: Bool = true,
            cancelled: Bool = false,
            status: String = "exited",
            before: EngineSocketIdentity? = socket,
            after: EngineSocketIdentity? = socket
        ) -> String? {
            SandboxRunner.faultOutsideTheProgram(
                delivered: delivered,
                cancelled: cancelled,
                status: status,
                socketBefore: before,
                socketAfter: after
            )
        }
        #expect(fault() == nil)
        #expect(fault(delivered: false) != nil)
        #expect(fault(cancelled: true) != nil)
        #expect(fault(status: "dead") != nil)
        #expect(fault(after: restarted) != nil)
        #expect(fault(after: nil) != nil)
        #expect(fault(before: nil) != nil)
    }

    @Test("the engine socket's identity is read from the file and changes when it is recreated")
    func socketIdentity() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sock-\(UUID())").path
        #expect(EngineSocketIdentity.current(path: path) == nil)
        FileManager.default.createFile(atPath: path, contents: Data())
        let first = try #require(EngineSocketIdentity.current(path: path))
        #expect(EngineSocketIdentity.current(path: path) == first)
        let other = path + ".new"
        FileManager.default.createFile(atPath: other, contents: Data())
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: other, toPath: path)
        #expect(EngineSocketIdentity.current(path: path) != first)
        try FileManager.default.removeItem(atPath: path)
    }

    @Test("failure details are sentences: no Swift type of an engine error reaches a client")
    func readableDetails() {
        struct Internal: Error { var code = 3 }
        let errors: [DockerEngineError] = [
            .unreachable("HTTPClientError.connectTimeout"),
            .malformedResponse("ContainerInspect: keyNotFound(CodingKeys(stringValue: \"Id\"))"),
            .streamBroken("ChannelError.ioOnClosedChannel"),
        ]
        var details = errors.map { ExecutionFailure(engineError: $0, image: "code-runner-python").failure.detail }
        details.append(ExecutionFailure.internalError(Internal(), while: "running the program").failure.detail)
        for detail in details {
            #expect(detail.hasPrefix("An unexpected error occurred: "))
            for dump in ["HTTPClientError", "CodingKeys", "ChannelError", "Internal(", "Optional("] {
                #expect(!detail.contains(dump), "\(detail)")
            }
        }
        let full = ExecutionFailure.internalError(Internal(), while: "running the program").logDetail
        #expect(full.contains("Internal(code: 3)"))
        #expect(ExecutionFailure(engineError: .streamBroken("x"), image: "i").retryable)
        #expect(!ExecutionFailure(engineError: .streamBroken("x"), image: "i").engineUnreachable)
    }
}
