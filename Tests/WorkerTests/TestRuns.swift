import Foundation
import Logging
import Queue

@testable import Worker

extension RunPayload {
    /// A run with the limits the engine suites use: 256 MiB without swap, one core, 64 MiB of
    /// `/tmp`, 128 processes, 1 MiB of output per stream and of metadata.
    static func testRun(_ code: String, image: String = "code-runner-python", timeout: Int = 20) -> RunPayload {
        RunPayload(
            code: code,
            image: image,
            mainFile: "main.py",
            timeoutSeconds: timeout,
            memoryBytes: 256 << 20,
            cpuShares: 512,
            nanoCPUs: 1_000_000_000,
            diskBytes: 64 << 20,
            pidsLimit: 128,
            maxOutputBytes: 1 << 20,
            maxMetadataBytes: 1 << 20
        )
    }
}

extension DockerClient {
    /// Runs `payload` once in a fresh sandbox of this engine, as worker `worker` of deployment
    /// `tests`, and returns when the container is removed too.
    func runOnce(
        _ payload: RunPayload,
        worker: String,
        job: String = UUID().uuidString.lowercased(),
        live: (any LiveOutputSink)? = nil,
        logger: Logger
    ) async throws -> RunResult {
        let remover = ContainerRemover(docker: self, logger: logger)
        let runner = SandboxRunner.forTests(self, remover: remover, logger: logger)
        let result = try await runner.run(payload, as: RunIdentity(jobID: job, workerID: worker, deploymentID: "tests"), live: live)
        await remover.drain()
        return result
    }
}

/// The deployment's network without any egress policy: for the engine suites, which test the
/// sandbox, not the firewall (the service always runs with `EgressGuard`; the hostile suite's
/// `test_egress.py` tests the policy itself).
struct UnpolicedNetwork: SandboxNetwork {
    let engine: any ContainerEngine

    func prepare(deploymentID: String, runtime: String?) async throws(ExecutionFailure) {
        do {
            try await engine.ensureNetwork(SandboxSpec.network(deploymentID: deploymentID))
        } catch {
            throw .internalError(error, while: "creating the sandbox network")
        }
    }

    func admit(_ hosts: [String], deploymentID: String, runtime: String?, lifetimeSeconds: Int) async throws(ExecutionFailure) -> ProxyGrant {
        throw ExecutionFailure(
            failure: JobFailure(statusCode: 503, detail: "the engine suites run without the allowlist proxy"),
            retryable: false
        )
    }

    func revoke(_ grant: ProxyGrant) async {}
}

extension SandboxRunner {
    /// A runner as the engine suites use it: the engine's default OCI runtime, the network
    /// without egress policy (`UnpolicedNetwork`).
    static func forTests(
        _ engine: any ContainerEngine,
        remover: ContainerRemover,
        logger: Logger,
        builder: PrebuildBuilder? = nil,
        pool: WarmPool? = nil
    ) -> SandboxRunner {
        SandboxRunner(
            docker: engine,
            remover: remover,
            ociRuntime: nil,
            logger: logger,
            network: UnpolicedNetwork(engine: engine),
            builder: builder,
            pool: pool
        )
    }
}
