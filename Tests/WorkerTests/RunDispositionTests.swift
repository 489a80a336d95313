import Queue
import Testing

@testable import Worker

/// The decision after a run (`RunDisposition`), every row of its table, without I/O.
struct RunDispositionTests {
    let result = RunResult(
        stdout: "1\n",
        stderr: "",
        exitCode: 0,
        executionTime: 0.01,
        metadata: nil,
        timedOut: false,
        oomKilled: false,
        stdoutTruncated: false,
        stderrTruncated: false
    )
    let engineDown = ExecutionFailure(engineError: .unreachable("connection refused"), image: "code-runner-python")
    let refused = ExecutionFailure(engineError: .status(code: 400, message: "invalid memory"), image: "code-runner-python")
    let broken = ExecutionFailure(engineError: .streamBroken("reset"), image: "code-runner-python")

    @Test("a run that ran to its end: its result is stored")
    func completes() {
        #expect(RunDisposition.decide(.success(result), stopped: nil) == .complete(result))
        var timedOut = result
        timedOut.timedOut = true
        timedOut.exitCode = -1
        #expect(RunDisposition.decide(.success(timedOut), stopped: nil) == .complete(timedOut))
    }

    @Test("a lost lease writes nothing, whatever the run did")
    func leaseLost() {
        for outcome: Result<RunResult, ExecutionFailure> in [.success(result), .failure(engineDown), .failure(refused)] {
            #expect(RunDisposition.decide(outcome, stopped: .leaseLost) == .abandon)
        }
    }

    @Test("a drain gives the job back, whatever the run did")
    func draining() {
        for outcome: Result<RunResult, ExecutionFailure> in [.success(result), .failure(engineDown), .failure(refused)] {
            #expect(RunDisposition.decide(outcome, stopped: .draining) == .release(.shutdown))
        }
    }

    @Test("an unreachable engine gives the job back without using an attempt")
    func engineUnreachable() {
        #expect(RunDisposition.decide(.failure(engineDown), stopped: nil) == .release(.engineUnreachable(engineDown.failure.detail)))
    }

    @Test("other failures are stored; retried only when retryable")
    func failures() {
        #expect(RunDisposition.decide(.failure(refused), stopped: nil) == .fail(refused.failure, retry: false))
        #expect(RunDisposition.decide(.failure(broken), stopped: nil) == .fail(broken.failure, retry: true))
    }
}
