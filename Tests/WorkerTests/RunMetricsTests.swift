import Queue
import Testing

@testable import Worker

struct RunMetricsTests {
    @Test("outcomes: timeout and OOM before the exit status, then ok / nonzero")
    func outcomes() {
        #expect(RunOutcome(RunResult(stdout: "", stderr: "", exitCode: 0, executionTime: 0.1)) == .ok)
        #expect(RunOutcome(RunResult(stdout: "", stderr: "", exitCode: 3, executionTime: 0.1)) == .nonzero)
        #expect(RunOutcome(RunResult(stdout: "", stderr: "", exitCode: 137, executionTime: 5, timedOut: true)) == .timeout)
        #expect(RunOutcome(RunResult(stdout: "", stderr: "", exitCode: 137, executionTime: 0.5, oomKilled: true)) == .oom)
    }

    @Test("a run adds one to its counter and a cumulative observation to both histograms; taking empties")
    func histogramsAreCumulative() {
        let metrics = RunMetrics()
        metrics.recordRun(runtime: "python", outcome: .ok, seconds: 0.2, queueWait: 0.003)
        metrics.recordRun(runtime: "python", outcome: .nonzero, seconds: 7, queueWait: nil)
        let samples = Dictionary(uniqueKeysWithValues: metrics.takePending().map { ($0.key, $0.value) })
        func value(_ family: String, _ labels: String, _ suffix: String = "", _ bound: Double = 0) -> Double? {
            samples[MetricSample.Key(family: family, labels: labels, suffix: suffix, bound: bound)]
        }
        #expect(value("code_runner_runs_total", #"outcome="ok",runtime="python""#) == 1)
        #expect(value("code_runner_runs_total", #"outcome="nonzero",runtime="python""#) == 1)
        let duration = "code_runner_run_duration_seconds"
        let python = #"runtime="python""#
        #expect(value(duration, python, "_bucket", 0.1) == 0)
        #expect(value(duration, python, "_bucket", 0.25) == 1)
        #expect(value(duration, python, "_bucket", 10) == 2)
        #expect(value(duration, python, "_bucket", .infinity) == 2)
        #expect(value(duration, python, "_sum") == 7.2)
        #expect(value(duration, python, "_count") == 2)
        // Every bucket has a row, the queue wait only for the run that had one.
        #expect(samples.keys.filter { $0.family == duration && $0.suffix == "_bucket" }.count == RunMetrics.durationBounds.count + 1)
        #expect(value("code_runner_queue_wait_seconds", python, "_bucket", 0.0025) == 0)
        #expect(value("code_runner_queue_wait_seconds", python, "_bucket", 0.005) == 1)
        #expect(value("code_runner_queue_wait_seconds", python, "_count") == 1)
        #expect(metrics.takePending().isEmpty)
    }

    @Test("a failed flush puts its increments back, added to the new ones")
    func restore() {
        let metrics = RunMetrics()
        metrics.recordPrebuild(succeeded: true)
        let failedFlush = metrics.takePending()
        metrics.recordPrebuild(succeeded: true)
        metrics.restore(failedFlush)
        let samples = metrics.takePending()
        #expect(samples.count == 1)
        #expect(samples.first?.family == "code_runner_prebuild_builds_total")
        #expect(samples.first?.labels == #"outcome="succeeded""#)
        #expect(samples.first?.value == 2)
    }

    @Test("label values are escaped for the exposition format")
    func labelEscaping() {
        #expect(RunMetrics.labels(["runtime": "a\"b\\c\nd", "outcome": "ok"]) == #"outcome="ok",runtime="a\"b\\c\nd""#)
    }
}
