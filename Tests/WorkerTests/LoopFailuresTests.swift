import Logging
import Queue
import Testing

@testable import Worker

/// No silent failure (issue 13): a failing background loop is counted and logged, rate-limited.
struct LoopFailuresTests {
    @Test("the first failure is logged, the next ones within a minute only counted, then one line with their number")
    func rateLimit() {
        var rate = FailureLogRate(interval: .seconds(60))
        let start = ContinuousClock.now
        #expect(rate.failure(at: start) == .log(unlogged: 0))
        #expect(rate.failure(at: start + .seconds(1)) == .suppress)
        #expect(rate.failure(at: start + .seconds(59)) == .suppress)
        #expect(rate.failure(at: start + .seconds(61)) == .log(unlogged: 2))
        #expect(rate.failure(at: start + .seconds(62)) == .suppress)
        #expect(rate.success() == 5)
        // After a success the next failure is news again.
        #expect(rate.failure(at: start + .seconds(63)) == .log(unlogged: 0))
        #expect(rate.success() == 1)
        #expect(rate.success() == 0)
    }

    @Test("every failure is counted in code_runner_worker_errors_total{loop}, logged or not")
    func counted() {
        let metrics = RunMetrics()
        let failures = LoopFailures(logger: Logger(label: "loop-tests"), metrics: metrics)
        struct Broken: Error {}
        for _ in 0..<3 { failures.failed("heartbeat", Broken()) }
        failures.failed("metrics", Broken())
        failures.succeeded("heartbeat")
        let samples = metrics.takePending().filter { $0.family == "code_runner_worker_errors_total" }
        #expect(samples.first { $0.labels == #"loop="heartbeat""# }?.value == 3)
        #expect(samples.first { $0.labels == #"loop="metrics""# }?.value == 1)
    }
}
