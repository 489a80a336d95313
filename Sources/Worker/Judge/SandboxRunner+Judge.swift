import Foundation
import Queue

extension SandboxRunner {
    /// How long after the run's `timeout` the worker kills a judge run's container itself: the
    /// supervisor enforces the timeout (it stops the build or the running case and reports it),
    /// this is only for a supervisor that cannot.
    static let judgeDeadlineGrace: Duration = .seconds(2)

    /// A judge-mode run (protocol CR2): the build once, then every case in the same container.
    /// The answer's usual fields describe the build; `judge` holds the cases' verdicts.
    ///
    /// When the stream ends without the supervisor's `done` (the program killed its supervisor,
    /// the container ran out of memory, the worker's own deadline fired), the cases reported so
    /// far keep their verdicts, the one that was running is `time_limit_exceeded`,
    /// `memory_limit_exceeded` or `runtime_error` (with a note on its stderr), the rest are
    /// `skipped` — unless the container did not end by itself (`faultOutsideTheProgram`):
    /// then the run is retried, as an ordinary one would be.
    func executeJudge(
        _ payload: RunPayload,
        judge: JudgePayload,
        in containerID: String,
        engineSocket: EngineSocketIdentity?,
        warm: WarmContainer?
    ) async throws -> RunResult {
        let input = JudgeInput.make(payload: payload, judge: judge, nonce: RunInput.makeNonce())
        let output = JudgeOutputCollector(judge: judge, outputCap: payload.maxOutputBytes, nonce: input.nonce)
        let timing = try await stream(
            input,
            into: containerID,
            warm: warm,
            deadline: .seconds(payload.timeoutSeconds) + Self.judgeDeadlineGrace,
            accept: output.accept
        )
        let outcome = output.finish()
        let tally = outcome.tally
        if outcome.strayBytes > 0 || outcome.problem != nil {
            logger.info(
                "judge run: bytes outside the supervisor's records were skipped",
                metadata: ["stray_bytes": "\(outcome.strayBytes)", "problem": "\(outcome.problem ?? "none")"]
            )
        }
        var notes = ""
        var interruption: (verdict: Verdict, note: String)?
        var oomKilled = tally.build?.flags.contains(.outOfMemory) ?? false
        var containerStatus: Int?
        if tally.stoppedEarly {
            kill(containerID, because: "stop_on_first_failure: the rest of the cases are skipped")
        } else if !tally.finished {
            _ = try await docker.waitContainer(containerID, timeout: .seconds(60))
            let state = try await docker.inspectContainer(containerID).state
            containerStatus = state.exitCode
            if !timing.timedOut, !state.oomKilled, !output.flooded {
                try requireEndedByItself(state, timing: timing, engineSocket: engineSocket, what: "judge run without done")
            }
            if timing.timedOut {
                interruption = (.timeLimitExceeded, "\n[code-runner] the run's timeout ended this case\n")
            } else if state.oomKilled {
                oomKilled = tally.build == nil
                interruption = (.memoryLimitExceeded, "\n[code-runner] the container ran out of memory\n")
            } else if output.flooded {
                notes += "\n[code-runner] the program wrote more than 8 times MAX_OUTPUT_BYTES and was stopped\n"
            } else {
                let note = Self.supervisorLostNote(exitStatus: state.exitCode)
                interruption = (.runtimeError, note)
                if tally.build == nil { notes += note }
            }
        }
        let report = tally.report(interruption: interruption)
        let stdoutText = outcome.stdout.text(endingWith: "")
        let stderrText = outcome.stderr.text(endingWith: notes)
        let buildTimedOut = tally.build?.flags.contains(.deadline) ?? (timing.timedOut && tally.build == nil)
        let exitCode: Int = buildTimedOut ? -1 : tally.build?.status ?? containerStatus ?? -1
        return RunResult(
            stdout: stdoutText.text,
            stderr: stderrText.text,
            exitCode: exitCode,
            executionTime: JudgeTally.seconds(tally.build?.wallMicroseconds ?? 0),
            metadata: nil,
            timedOut: tally.deadlineReached || timing.timedOut,
            oomKilled: oomKilled,
            stdoutTruncated: stdoutText.truncated,
            stderrTruncated: stderrText.truncated,
            judge: report
        )
    }
}
