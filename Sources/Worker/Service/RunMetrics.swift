import Queue
import Synchronization

/// How a run ended, as `/metrics` and the job log line count it.
enum RunOutcome: String, Sendable {
    /// Exit status 0.
    case ok
    /// Any other exit status.
    case nonzero
    /// Killed at its time limit.
    case timeout
    /// Killed by the OOM killer.
    case oom
    /// No result: the worker or the engine failed the job.
    case failed

    init(_ result: RunResult) {
        if result.timedOut {
            self = .timeout
        } else if result.oomKilled {
            self = .oom
        } else {
            self = result.exitCode == 0 ? .ok : .nonzero
        }
    }
}

/// This worker's counters and histograms since the last flush, kept in memory and added to the
/// shared totals in the database about once a second (`MetricSample`). A worker killed with
/// -9 loses at most that last second of figures; no job waits for a metrics write.
final class RunMetrics: Sendable {
    /// Upper bounds of the run-duration buckets, in seconds.
    static let durationBounds: [Double] = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
    /// Upper bounds of the queue-wait buckets, in seconds.
    static let waitBounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    private let pending = Mutex<[MetricSample.Key: Double]>([:])

    /// Counts one finished run, with how long it ran and how long it waited in the queue.
    func recordRun(runtime: String, outcome: RunOutcome, seconds: Double, queueWait: Double?) {
        let labels = Self.labels(["outcome": outcome.rawValue, "runtime": runtime])
        pending.withLock { pending in
            pending[Self.key("code_runner_runs_total", labels), default: 0] += 1
            Self.observe(&pending, "code_runner_run_duration_seconds", Self.labels(["runtime": runtime]), seconds, Self.durationBounds)
            if let queueWait {
                Self.observe(&pending, "code_runner_queue_wait_seconds", Self.labels(["runtime": runtime]), max(0, queueWait), Self.waitBounds)
            }
        }
    }

    /// Counts one prebuilt-image build (including rebuilds of a missing image).
    func recordPrebuild(succeeded: Bool) {
        let labels = Self.labels(["outcome": succeeded ? "succeeded" : "failed"])
        pending.withLock { $0[Self.key("code_runner_prebuild_builds_total", labels), default: 0] += 1 }
    }

    /// Counts one failed round of a background loop (`LoopFailures`).
    func recordLoopFailure(loop: String) {
        let labels = Self.labels(["loop": loop])
        pending.withLock { $0[Self.key("code_runner_worker_errors_total", labels), default: 0] += 1 }
    }

    /// Takes the increments gathered since the last call.
    func takePending() -> [MetricSample] {
        let taken = pending.withLock { pending in
            defer { pending = [:] }
            return pending
        }
        return taken.map { MetricSample(family: $0.key.family, labels: $0.key.labels, suffix: $0.key.suffix, bound: $0.key.bound, value: $0.value) }
    }

    /// Puts increments back after a failed flush, so the next one carries them.
    func restore(_ samples: [MetricSample]) {
        pending.withLock { pending in
            for sample in samples { pending[sample.key, default: 0] += sample.value }
        }
    }

    /// Label pairs in exposition form, sorted by name, values escaped.
    static func labels(_ pairs: [String: String]) -> String {
        pairs.sorted { $0.key < $1.key }.map { name, value in
            let escaped = value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n")
            return "\(name)=\"\(escaped)\""
        }.joined(separator: ",")
    }

    private static func key(_ family: String, _ labels: String, suffix: String = "", bound: Double = 0) -> MetricSample.Key {
        MetricSample.Key(family: family, labels: labels, suffix: suffix, bound: bound)
    }

    /// One histogram observation: the buckets at or above it, `+Inf`, the sum and the count.
    private static func observe(
        _ pending: inout [MetricSample.Key: Double],
        _ family: String,
        _ labels: String,
        _ value: Double,
        _ bounds: [Double]
    ) {
        // Every bucket gets a row (adding 0 where the value is above it): a histogram is only
        // readable with all its buckets present.
        for bound in bounds { pending[key(family, labels, suffix: "_bucket", bound: bound), default: 0] += value <= bound ? 1 : 0 }
        pending[key(family, labels, suffix: "_bucket", bound: .infinity), default: 0] += 1
        pending[key(family, labels, suffix: "_sum"), default: 0] += value
        pending[key(family, labels, suffix: "_count"), default: 0] += 1
    }
}
