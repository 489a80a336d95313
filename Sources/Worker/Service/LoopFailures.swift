import Logging
import Queue
import Synchronization

/// When a failing background loop is worth a log line: the first failure at once, then at most
/// one line per `interval` (telling how many failures went unlogged), and one line when the
/// loop works again. A plain value, so that the rule is unit-tested without clocks or I/O.
struct FailureLogRate: Sendable, Equatable {
    /// What to do about one failure.
    enum Decision: Equatable {
        /// Log it, with how many failures since the last line were not logged.
        case log(unlogged: Int)
        /// Count it only.
        case suppress
    }

    let interval: Duration
    private(set) var lastLogged: ContinuousClock.Instant?
    private(set) var unlogged = 0
    /// Failures in a row, since the last success.
    private(set) var consecutive = 0

    init(interval: Duration = .seconds(60)) {
        self.interval = interval
    }

    mutating func failure(at now: ContinuousClock.Instant) -> Decision {
        consecutive += 1
        if let lastLogged, now - lastLogged < interval {
            unlogged += 1
            return .suppress
        }
        defer { unlogged = 0 }
        lastLogged = now
        return .log(unlogged: unlogged)
    }

    /// A round that worked; returns how many failures in a row it ends (0: none to report).
    mutating func success() -> Int {
        defer {
            consecutive = 0
            unlogged = 0
            lastLogged = nil
        }
        return consecutive
    }
}

/// The failures of one worker's background loops (heartbeat, engine check, schedules, metrics
/// flush, orphan sweep, claim): each is counted in `code_runner_worker_errors_total{loop}` and
/// logged as a warning with the loop's name, rate-limited by `FailureLogRate`.
final class LoopFailures: Sendable {
    private let logger: Logger
    private let metrics: RunMetrics
    private let rates: Mutex<[String: FailureLogRate]> = Mutex([:])

    init(logger: Logger, metrics: RunMetrics) {
        self.logger = logger
        self.metrics = metrics
    }

    func failed(_ loop: String, _ error: any Error) {
        metrics.recordLoopFailure(loop: loop)
        let decision = rates.withLock { $0[loop, default: FailureLogRate()].failure(at: .now) }
        guard case .log(let unlogged) = decision else { return }
        var metadata: Logger.Metadata = ["loop": "\(loop)", "error": "\(error)"]
        if unlogged > 0 { metadata["failures_not_logged"] = "\(unlogged)" }
        logger.warning("background loop failed", metadata: metadata)
    }

    func succeeded(_ loop: String) {
        let ended = rates.withLock { rates -> Int in
            guard rates[loop] != nil else { return 0 }
            return rates[loop, default: FailureLogRate()].success()
        }
        if ended > 0 { logger.info("background loop works again", metadata: ["loop": "\(loop)", "failures": "\(ended)"]) }
    }
}

/// Calls `action` every `interval` until cancelled. A failing round is not fatal: it is counted
/// and logged under the loop's `name` (`LoopFailures`), and the next round runs as planned.
func every(
    _ interval: Duration,
    _ name: String,
    failures: LoopFailures,
    _ action: @Sendable () async throws -> Void
) async throws {
    while true {
        try await Task.sleep(for: interval)
        do {
            try await action()
            failures.succeeded(name)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            failures.failed(name, error)
        }
    }
}

/// Runs a write of a job's outcome again while the database is unavailable (`StorageFailure`:
/// a PostgreSQL server restarting or away), for up to `limit` (the lease: after it the job is
/// another attempt's), pausing 200 ms, 400 ms, … 2 s in between. An outage shorter than a lease
/// then costs the job a delay, not a rerun.
func retryingWhileUnavailable<T: Sendable>(for limit: Duration, _ write: () async throws -> T) async throws -> T {
    let deadline = ContinuousClock.now + limit
    var pause = Duration.milliseconds(200)
    while true {
        do {
            return try await write()
        } catch  where StorageFailure.reason(for: error) != nil && ContinuousClock.now + pause < deadline {
            try await Task.sleep(for: pause)  // back-off between attempts, bounded by the lease
            pause = min(pause * 2, .seconds(2))
        }
    }
}

/// Runs a store write whose loss matters (`fail`, `complete`, `release`, `removeWorker`, …): a
/// failure is logged as an error naming `what`, never dropped. Returns the write's answer, or
/// nil when it failed.
@discardableResult
func loggedWrite<T: Sendable>(_ what: String, logger: Logger, _ write: () async throws -> T) async -> T? {
    do {
        return try await write()
    } catch {
        logger.error("store write failed", metadata: ["write": "\(what)", "error": "\(error)"])
        return nil
    }
}
