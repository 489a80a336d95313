import Queue

/// What the worker does with a job once its run is over: the decision after a run as a plain
/// value, taken without I/O (as AsyncHTTPClient keeps its state machines), so every branch is
/// unit-tested (`Tests/WorkerTests/RunDispositionTests.swift`). `WorkerService` carries it out.
///
/// | run stopped because | run's outcome | disposition |
/// |---|---|---|
/// | its lease is gone (cancelled, reaped) | any | `abandon`: write nothing, the job is no longer ours |
/// | the worker drains (SIGTERM past the drain timeout) | any | `release(.shutdown)`: back to the queue, attempt not used |
/// | — | a result (any exit code, timeout, OOM) | `complete` |
/// | — | the engine could not be reached | `release(.engineUnreachable)`: back to the queue, attempt not used; claim nothing until the engine answers |
/// | — | another failure | `fail`, retried while attempts remain when the failure is retryable |
enum RunDisposition: Equatable {
    enum ReleaseReason: Equatable {
        case shutdown
        /// The engine's detail, for the log and the worker's status.
        case engineUnreachable(String)
    }

    case complete(RunResult)
    case fail(JobFailure, retry: Bool)
    case release(ReleaseReason)
    case abandon

    /// The disposition of a run that ended with `outcome`; `stopped` is why the worker stopped
    /// it, nil when it ran to its end.
    static func decide(_ outcome: Result<RunResult, ExecutionFailure>, stopped: RunningJobs.StopReason?) -> RunDisposition {
        switch (stopped, outcome) {
        case (.leaseLost, _): .abandon
        case (.draining, _): .release(.shutdown)
        case (nil, .success(let result)): .complete(result)
        case (nil, .failure(let failure)) where failure.engineUnreachable:
            .release(.engineUnreachable(failure.failure.detail))
        case (nil, .failure(let failure)): .fail(failure.failure, retry: failure.retryable)
        }
    }
}
