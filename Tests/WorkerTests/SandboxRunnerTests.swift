import Logging
import Queue
import Testing

@testable import Worker

/// The run path's decisions against a scripted engine (`ScriptedEngine`): no Docker, so each
/// branch of `SandboxRunner` is checked on every machine (issue 13, item 5).
struct SandboxRunnerTests {
    let logger = Logger(label: "sandbox-runner-tests")

    func payload(timeout: Int = 5, maxOutput: Int = 1 << 20) -> RunPayload {
        var payload = RunPayload.defaults(for: RuntimeCatalog.builtInCatalog.defaultEntry, settings: ServiceSettings())
        payload.code = "print(1)"
        payload.timeoutSeconds = timeout
        payload.maxOutputBytes = maxOutput
        return payload
    }

    /// Runs `payload` in `engine`; the result or the failure, once the container's removal is done.
    func run(_ engine: ScriptedEngine, _ payload: RunPayload? = nil) async -> Result<RunResult, ExecutionFailure> {
        let remover = ContainerRemover(docker: engine, logger: logger)
        let runner = SandboxRunner.forTests(engine, remover: remover, logger: logger)
        let outcome: Result<RunResult, ExecutionFailure>
        do {
            outcome = .success(try await runner.run(payload ?? self.payload(), as: RunIdentity(jobID: "j", workerID: "w", deploymentID: "d")))
        } catch {
            outcome = .failure(error)
        }
        await remover.drain()
        return outcome
    }

    @Test("the trailer answers the run: exit status, metadata, OOM count; the engine is not asked again")
    func trailerAnswers() async throws {
        let engine = ScriptedEngine(
            .init(output: { nonce in
                [(.stdout, "hello\n"), (.stderr, "warn\n"), (.stdout, ScriptedEngine.trailer(nonce: nonce, exit: 3, metadata: #"{"k": 1}"#))]
            })
        )
        let result = try await run(engine).get()
        #expect(result.stdout == "hello\n" && result.stderr == "warn\n")
        #expect(result.exitCode == 3 && !result.timedOut && !result.oomKilled)
        #expect(result.metadata == .object(["k": .integer(1)]))
        #expect(!engine.calls.contains("inspect"))
        #expect(engine.calls.last == "remove")
    }

    @Test("an OOM kill reported by the trailer is the OOM result")
    func oomFromTrailer() async throws {
        let engine = ScriptedEngine(.init(output: { [(.stdout, ScriptedEngine.trailer(nonce: $0, exit: 137, oomKills: 1))] }))
        let result = try await run(engine).get()
        #expect(result.oomKilled && result.exitCode == 137)
    }

    @Test("the deadline kills the container: timed out, exit -1, no metadata")
    func deadline() async throws {
        let engine = ScriptedEngine(.init(output: { _ in [(.stdout, "working\n")] }, end: .runsUntilKilled))
        let result = try await run(engine, payload(timeout: 1)).get()
        #expect(result.timedOut && result.exitCode == -1 && result.metadata == nil)
        #expect(result.stdout == "working\n")
        #expect(engine.calls.contains("kill"))
    }

    @Test("output past 8 × MAX_OUTPUT_BYTES stops the program; the answer says so")
    func flood() async throws {
        let chunk = String(repeating: "x", count: 1000)
        let engine = ScriptedEngine(.init(output: { _ in Array(repeating: (.stdout, chunk), count: 20) }, end: .runsUntilKilled))
        let result = try await run(engine, payload(maxOutput: 1000)).get()
        #expect(result.stdoutTruncated && result.stdout.utf8.count <= 1000)
        #expect(result.stderr.contains("more than 8 times MAX_OUTPUT_BYTES"))
        #expect(result.stderr.utf8.count <= 1000, "the note stays inside MAX_OUTPUT_BYTES")
        #expect(engine.calls.contains("kill"))
    }

    @Test("no trailer, exited by itself, same engine: the program's result with the supervisor note")
    func trailerLessIsTheProgramsResult() async throws {
        let engine = ScriptedEngine(.init(output: { _ in [(.stdout, "partial")] }, exitCode: 9))
        let result = try await run(engine).get()
        #expect(result.exitCode == 9 && result.stdout == "partial")
        #expect(result.stderr.hasSuffix(SandboxRunner.supervisorLostNote(exitStatus: 9)))
    }

    @Test("no trailer and the engine restarted meanwhile: a retryable failure, not a result")
    func engineRestart() async {
        let engine = ScriptedEngine(.init(output: { _ in [] }, exitCode: 137, engineRestarts: true))
        guard case .failure(let failure) = await run(engine) else {
            Issue.record("a restart was taken for the program's result")
            return
        }
        #expect(failure.retryable && failure.failure.statusCode == 500)
        #expect(failure.logDetail.contains("restarted"))
    }

    @Test("a broken stream is the engine's failure: retried")
    func brokenStream() async {
        let engine = ScriptedEngine(.init(output: { _ in [(.stdout, "a")] }, end: .breaks))
        guard case .failure(let failure) = await run(engine) else {
            Issue.record("a broken stream became a result")
            return
        }
        #expect(failure.retryable && !failure.engineUnreachable)
    }

    @Test("an engine that cannot be reached: the job is given back, and no container was left")
    func unreachable() async {
        let engine = ScriptedEngine(.init(output: { _ in [] }, createError: .unreachable("connection refused")))
        guard case .failure(let failure) = await run(engine) else {
            Issue.record("ran without an engine")
            return
        }
        #expect(failure.engineUnreachable)
        #expect(engine.calls == ["create"])
    }

    @Test("an image the engine lacks: 404, not retried")
    func missingImage() async {
        let engine = ScriptedEngine(.init(output: { _ in [] }, createError: .status(code: 404, message: "No such image: code-runner-python:latest")))
        guard case .failure(let failure) = await run(engine) else {
            Issue.record("ran without an image")
            return
        }
        #expect(failure.failure.statusCode == 404 && !failure.retryable)
    }

    @Test("a networked run whose network was removed meanwhile creates it again and runs")
    func networkRemovedMeanwhile() async {
        let engine = ScriptedEngine(
            .init(
                output: { [(.stdout, "hi\n"), (.stdout, ScriptedEngine.trailer(nonce: $0, exit: 0))] },
                firstCreateError: .status(code: 404, message: "network code-runner-d not found")
            )
        )
        var networked = payload()
        networked.allowNetwork = true
        guard case .success(let result) = await run(engine, networked) else {
            Issue.record("the run failed")
            return
        }
        #expect(result.stdout == "hi\n")
        #expect(Array(engine.calls.prefix(4)) == ["network code-runner-d", "create", "network code-runner-d", "create"])
    }

    @Test("a missing network is no reason to retry a run without network")
    func missingNetworkWithoutNetwork() async {
        let engine = ScriptedEngine(
            .init(output: { _ in [] }, firstCreateError: .status(code: 404, message: "network code-runner-d not found"))
        )
        guard case .failure = await run(engine) else {
            Issue.record("ran although create failed")
            return
        }
        #expect(engine.calls == ["create"])
    }
}
