import Foundation
import Logging
import Queue
import Testing

@testable import Worker

/// Prebuilt images against the real engine: build, run, rebuild while in use, rebuild of a
/// missing image from its spec, failing scripts.
@Suite(.serialized)
struct PrebuildIntegrationTests {
    static let docker = SandboxIntegrationTests.sharedDocker
    let logger = Logger(label: "prebuild-tests")
    var builder: PrebuildBuilder { PrebuildBuilder(docker: Self.docker, deploymentID: "tests", caBundlePath: nil, logger: logger) }

    func spec(_ tag: String, _ script: String) -> PrebuildPayload {
        PrebuildPayload(action: .build, tag: tag, baseRuntime: "python", setupScript: script, timeoutSeconds: 120)
    }

    func run(_ code: String, image: String, prebuild: PrebuildPayload? = nil, timeout: Int = 20) async throws -> RunResult {
        var payload = RunPayload(
            code: code, image: image, mainFile: "main.py", timeoutSeconds: timeout, memoryBytes: 256 << 20, cpuShares: 512,
            nanoCPUs: 1_000_000_000, diskBytes: 64 << 20, pidsLimit: 128, maxOutputBytes: 1 << 20, maxMetadataBytes: 1 << 20)
        payload.prebuild = prebuild
        let remover = ContainerRemover(docker: Self.docker, logger: logger)
        let runner = SandboxRunner(docker: Self.docker, remover: remover, ociRuntime: nil, logger: logger, builder: builder)
        let result = try await runner.run(payload, as: RunIdentity(jobID: UUID().uuidString.lowercased(), workerID: "prebuild-tests", deploymentID: "tests"))
        await remover.drain()
        return result
    }

    @Test("build, run, rebuild while a job runs on the old image, remove")
    func lifecycle() async throws {
        let tag = "test-\(UUID().uuidString.prefix(8).lowercased())"
        let first = await builder.build(spec(tag, "echo one > /opt/marker"))
        #expect(first.succeeded, "\(first.log)")
        #expect(first.sizeBytes > 0)
        #expect(first.log.contains("Step 1/"))
        #expect(try await run("print(open('/opt/marker').read().strip())", image: "prebuilt-\(tag)").stdout == "one\n")

        // A long run on the first image while the tag is rebuilt: it keeps its image.
        async let long = run("import time\ntime.sleep(3)\nprint(open('/opt/marker').read().strip())", image: "prebuilt-\(tag)")
        let second = await builder.build(spec(tag, "echo two > /opt/marker"))
        #expect(second.succeeded)
        #expect(try await long.stdout == "one\n")
        #expect(try await run("print(open('/opt/marker').read().strip())", image: "prebuilt-\(tag)").stdout == "two\n")

        #expect(await builder.remove(tag: tag))
        #expect(try await Self.docker.imageSize("prebuilt-\(tag)") == nil)
    }

    @Test("a failing script fails the build with its log and leaves no image")
    func failingScript() async throws {
        let tag = "test-fail-\(UUID().uuidString.prefix(8).lowercased())"
        let outcome = await builder.build(spec(tag, "echo about to fail\nexit 3"))
        #expect(!outcome.succeeded)
        #expect(outcome.log.contains("about to fail"))
        #expect(outcome.log.contains("returned a non-zero code: 3"))
        #expect(try await Self.docker.imageSize("prebuilt-\(tag)") == nil)
    }

    @Test("a worker whose engine lacks a prebuilt image rebuilds it from the stored spec before the run")
    func rebuildMissingImage() async throws {
        let tag = "test-missing-\(UUID().uuidString.prefix(8).lowercased())"
        let result = try await run(
            "print(open('/opt/marker').read().strip())", image: "prebuilt-\(tag)",
            prebuild: spec(tag, "echo rebuilt > /opt/marker"), timeout: 30)
        #expect(result.stdout == "rebuilt\n")
        #expect(await builder.remove(tag: tag))

        do {
            _ = try await run("print(1)", image: "prebuilt-\(tag)-x", prebuild: spec("\(tag)-x", "exit 7"))
            Issue.record("ran although the rebuild failed")
        } catch let failure as ExecutionFailure {
            #expect(failure.failure.statusCode == 503)
            #expect(failure.failure.detail.hasPrefix("Prebuilt image 'prebuilt-\(tag)-x' could not be rebuilt: "))
        }
    }
}
