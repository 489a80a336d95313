import Foundation
import Logging
import Queue
import Testing

@testable import Worker

/// The warm pool against the real engine.
@Suite(.serialized, .needsDocker)
struct WarmPoolTests {
    static let docker = SandboxIntegrationTests.sharedDocker
    let logger = Logger(label: "pool-tests")
    let deployment = "pool-tests-\(UUID().uuidString.prefix(6).lowercased())"

    func template() -> RunPayload {
        RunPayload.testRun("")
    }

    func makeRunner() -> (SandboxRunner, WarmPool, ContainerRemover) {
        let identity = RunIdentity(jobID: "", workerID: "pool-tests", deploymentID: deployment)
        let pool = WarmPool(
            docker: Self.docker,
            size: 1,
            template: template(),
            identity: identity,
            ociRuntime: nil,
            logger: logger,
            mayRefill: { true }
        )
        let remover = ContainerRemover(docker: Self.docker, logger: logger)
        let runner = SandboxRunner.forTests(Self.docker, remover: remover, logger: logger, pool: pool)
        return (runner, pool, remover)
    }

    /// Waits (bounded) until the pool holds a warm container; returns the warm containers' ids.
    func warmIDs(_ pool: WarmPool) async throws -> Set<String> {
        let deadline = ContinuousClock.now + .seconds(20)
        while await pool.idleCount < 1 && ContinuousClock.now < deadline { await Task.yield() }
        let containers = try await Self.docker.containers(withLabel: "code-runner.deployment=\(deployment)")
        return Set(containers.filter { $0.labels?["code-runner.job"] == WarmPool.jobLabel }.map(\.id))
    }

    func run(_ runner: SandboxRunner, _ payload: RunPayload) async throws -> RunResult {
        try await runner.run(payload, as: RunIdentity(jobID: UUID().uuidString.lowercased(), workerID: "pool-tests", deploymentID: deployment))
    }

    @Test("a warm container runs exactly one job, is removed after it, and the pool refills")
    func oneJobPerContainer() async throws {
        let (runner, pool, remover) = makeRunner()
        await pool.warmUp("code-runner-python")
        let before = try await warmIDs(pool)
        #expect(before.count == 1)
        var payload = template()
        payload.code = "print('warm')"
        #expect(try await run(runner, payload).stdout == "warm\n")
        await remover.drain()
        let after = try await warmIDs(pool)
        #expect(after.count == 1)
        #expect(after.isDisjoint(with: before))
        #expect(try await run(runner, payload).stdout == "warm\n")
        await remover.drain()
        await pool.drain()
        #expect(try await Self.docker.containers(withLabel: "code-runner.deployment=\(deployment)").isEmpty)
    }

    @Test("a pooled run gets the same isolation, adjusted limits, and its timeout counts from delivery")
    func isolationLimitsAndTimeout() async throws {
        let (runner, pool, remover) = makeRunner()
        await pool.warmUp("code-runner-python")
        _ = try await warmIDs(pool)
        var payload = template()
        payload.memoryBytes = 100 << 20
        payload.code = """
            import os
            status = dict(line.split(':\\t', 1) for line in open('/proc/self/status').read().splitlines() if ':\\t' in line)
            print(os.getuid(), status['CapEff'].strip(), status['NoNewPrivs'].strip(), status['Seccomp'].strip())
            print(sorted(os.listdir('/sys/class/net')))
            print(open('/sys/fs/cgroup/memory/memory.limit_in_bytes').read().strip(), open('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes').read().strip())
            """
        let facts = try await run(runner, payload)
        #expect(facts.stdout == "1000 0000000000000000 1 2\n['lo']\n\(100 << 20) \(100 << 20)\n", "\(facts.stderr)")

        // The warm container has been waiting; the 2 s budget still starts at delivery.
        _ = try await warmIDs(pool)
        let idleSince = ContinuousClock.now
        while ContinuousClock.now - idleSince < .seconds(2) { await Task.yield() }
        var slow = template()
        slow.timeoutSeconds = 2
        slow.code = "import time\ntime.sleep(1.5)\nprint('in time')"
        let result = try await run(runner, slow)
        #expect(!result.timedOut)
        #expect(result.stdout == "in time\n")
        await remover.drain()
        await pool.drain()
    }

    @Test("runs that do not fit the pool take the cold path")
    func eligibility() {
        let (_, pool, _) = makeRunner()
        var payload = template()
        #expect(pool.accepts(payload))
        payload.allowNetwork = true
        #expect(!pool.accepts(payload))
        // an environment travels in the header (RunInput), but a judge run's header has no room
        payload = template()
        payload.environment = [EnvironmentVariable(name: "A", value: "b")]
        #expect(pool.accepts(payload))
        payload.judge = JudgePayload(cases: [JudgeCase(name: "one", stdin: "1\n", timeoutMilliseconds: 1000)])
        #expect(!pool.accepts(payload))
        payload.environment = []
        #expect(pool.accepts(payload))
        payload = template()
        payload.diskBytes = 1 << 20
        #expect(!pool.accepts(payload))
    }
}
