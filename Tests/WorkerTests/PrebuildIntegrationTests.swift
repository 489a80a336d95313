import Foundation
import Logging
import Queue
import Testing

@testable import Worker

/// Prebuilt images against the real engine: build, run, rebuild while in use, rebuild of a
/// missing image from its spec, failing scripts, and the confinement of the build (issue 22).
@Suite(.serialized, .needsDocker)
struct PrebuildIntegrationTests {
    static let docker = SandboxIntegrationTests.sharedDocker
    static let owner = "key:prebuild-tests"
    /// Small limits, so that going over them is quick.
    static let limits = BuildSandboxSpec.Limits(memoryBytes: 256 << 20, nanoCPUs: 1_000_000_000, pidsLimit: 64, maxLayerBytes: 64 << 20)
    let logger = Logger(label: "prebuild-tests")
    var builder: PrebuildBuilder {
        PrebuildBuilder(
            docker: Self.docker,
            network: UnpolicedNetwork(engine: Self.docker),
            deploymentID: "tests",
            caBundlePath: nil,
            limits: Self.limits,
            logger: logger
        )
    }

    func spec(_ tag: String, _ script: String, timeout: Int = 120) -> PrebuildPayload {
        PrebuildPayload(
            action: .build,
            key: PrebuildKey(owner: Self.owner, tag: tag),
            baseRuntime: "python",
            setupScript: script,
            timeoutSeconds: timeout
        )
    }

    func image(_ tag: String) -> String { PrebuildKey(owner: Self.owner, tag: tag).engineReference }

    func run(_ code: String, image: String, prebuild: PrebuildPayload? = nil, timeout: Int = 20) async throws -> RunResult {
        var payload = RunPayload.testRun(code, image: image, timeout: timeout)
        payload.prebuild = prebuild
        let remover = ContainerRemover(docker: Self.docker, logger: logger)
        let runner = SandboxRunner.forTests(Self.docker, remover: remover, logger: logger, builder: builder)
        let result = try await runner.run(
            payload,
            as: RunIdentity(jobID: UUID().uuidString.lowercased(), workerID: "prebuild-tests", deploymentID: "tests")
        )
        await remover.drain()
        return result
    }

    static func newTag(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

    @Test("build, run, rebuild while a job runs on the old image, remove")
    func lifecycle() async throws {
        let tag = Self.newTag("test")
        let first = await builder.build(spec(tag, "echo building one\necho one > /opt/marker"))
        #expect(first.succeeded, "\(first.log)")
        #expect(first.sizeBytes > 0)
        #expect(first.log.contains("building one"))
        // the labels GET /prebuilds shows: the runtime's and ours, not the deployment's internal id
        #expect(first.labels?["qm.main_file"] == "main.py" && first.labels?["code-runner.prebuilt"] == tag)
        #expect(first.labels?[SandboxSpec.deploymentLabel] == nil)
        #expect(try await run("print(open('/opt/marker').read().strip())", image: image(tag)).stdout == "one\n")

        // A long run on the first image while the tag is rebuilt: it keeps its image.
        async let long = run("import time\ntime.sleep(3)\nprint(open('/opt/marker').read().strip())", image: image(tag))
        let second = await builder.build(spec(tag, "echo two > /opt/marker"))
        #expect(second.succeeded)
        #expect(try await long.stdout == "one\n")
        #expect(try await run("print(open('/opt/marker').read().strip())", image: image(tag)).stdout == "two\n")

        // The committed image is the runtime's again: user 1000, its entrypoint, its labels.
        let inspected = try #require(try await Self.docker.inspectImage(image(tag)))
        #expect(inspected.config?.user == "1000:1000")
        #expect(inspected.config?.entrypoint == ["/usr/local/bin/code-runner-entrypoint"])
        #expect(inspected.config?.labels?["qm.main_file"] == "main.py")
        #expect(inspected.config?.labels?["code-runner.prebuilt"] == tag)

        #expect(await builder.remove(PrebuildKey(owner: Self.owner, tag: tag)))
        #expect(try await Self.docker.imageSize(image(tag)) == nil)
    }

    @Test("the same tag of two owners is two images")
    func ownersGetTheirOwnImage() async throws {
        let tag = Self.newTag("test-owners")
        let theirs = PrebuildPayload(
            action: .build,
            key: PrebuildKey(owner: "", tag: tag),
            baseRuntime: "python",
            setupScript: "echo theirs > /opt/marker",
            timeoutSeconds: 120
        )
        #expect(await builder.build(spec(tag, "echo mine > /opt/marker")).succeeded)
        #expect(await builder.build(theirs).succeeded)
        #expect(try await run("print(open('/opt/marker').read().strip())", image: image(tag)).stdout == "mine\n")
        #expect(try await run("print(open('/opt/marker').read().strip())", image: "prebuilt-\(tag)").stdout == "theirs\n")
        #expect(await builder.remove(PrebuildKey(owner: Self.owner, tag: tag)))
        #expect(await builder.remove(theirs.key))
    }

    @Test("a build runs as root in /app with only the package manager's capabilities, its limits, on the sandbox bridge")
    func confinement() async throws {
        let tag = Self.newTag("test-confined")
        let script = """
            grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status
            echo "uid=$(id -u) cwd=$(pwd)"
            echo "pids=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"
            echo "memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
            python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)' 2>/dev/null && echo raw=allowed || echo raw=refused
            awk '$2 == "00000000" { print "gateway=" $3 }' /proc/net/route
            echo data > /app/data.txt
            """
        let outcome = await builder.build(spec(tag, script))
        #expect(outcome.succeeded, "\(outcome.log)")
        let log = outcome.log
        // CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID: bits 0, 1, 3, 4, 5, 6, 7.
        #expect(log.contains("CapEff:\t00000000000000fb"), "\(log)")
        #expect(log.contains("CapBnd:\t00000000000000fb"))
        #expect(log.contains("NoNewPrivs:\t1"))
        #expect(log.contains("uid=0 cwd=/app"))
        #expect(log.contains("pids=64"))
        #expect(log.contains("memory=\(256 << 20)"))
        #expect(log.contains("raw=refused"))
        let gateway = try Self.bridgeGateway(SandboxSpec.networkName(deploymentID: "tests"))
        #expect(log.contains("gateway=\(gateway)"), "the build is not on the deployment's sandbox bridge: \(log)")
        // What the script leaves in /app is there for runs (as uid 1000).
        #expect(try await run("print(open('/app/data.txt').read().strip())", image: image(tag)).stdout == "data\n")
        // Nothing of the build's own inputs reaches the image.
        #expect(try await run("import os; print(os.path.exists('/tmp/.code-runner-build'))", image: image(tag), timeout: 10).stdout == "False\n")
        #expect(await builder.remove(PrebuildKey(owner: Self.owner, tag: tag)))
    }

    @Test("more memory than the build's limit is OOM-killed and fails the build")
    func memoryLimit() async throws {
        let tag = Self.newTag("test-oom")
        let outcome = await builder.build(spec(tag, "python3 -c 'b = bytearray(600 * 1024 * 1024); print(len(b))'"))
        #expect(!outcome.succeeded)
        #expect(outcome.log.contains("PREBUILD_MEMORY_MB"), "\(outcome.log)")
        #expect(try await Self.docker.imageSize(image(tag)) == nil)
    }

    @Test("a layer past the cap fails the build (while it runs, and at its end) and leaves no image")
    func layerLimit() async throws {
        let atEnd = Self.newTag("test-disk")
        let quick = await builder.build(spec(atEnd, "head -c 100000000 /dev/zero > /opt/big"))
        #expect(!quick.succeeded)
        #expect(quick.log.contains("PREBUILD_MAX_LAYER_MB"), "\(quick.log)")
        #expect(try await Self.docker.imageSize(image(atEnd)) == nil)
        // A script that keeps writing is stopped at the next look, long before its timeout.
        let whileRunning = Self.newTag("test-disk-running")
        let started = ContinuousClock.now
        let slow = await builder.build(spec(whileRunning, "head -c 100000000 /dev/zero > /opt/big; sleep 60", timeout: 90))
        #expect(!slow.succeeded)
        #expect(slow.log.contains("PREBUILD_MAX_LAYER_MB"), "\(slow.log)")
        #expect(ContinuousClock.now - started < .seconds(40))
    }

    @Test("a build past its timeout is stopped")
    func timeout() async throws {
        let outcome = await builder.build(spec(Self.newTag("test-timeout"), "echo started; sleep 30", timeout: 2))
        #expect(!outcome.succeeded)
        #expect(outcome.log.contains("started"))
        #expect(outcome.log.contains("build timed out after 2 s"))
    }

    @Test("a failing script fails the build with its log and leaves no image")
    func failingScript() async throws {
        let tag = Self.newTag("test-fail")
        let outcome = await builder.build(spec(tag, "echo about to fail\nexit 3"))
        #expect(!outcome.succeeded)
        #expect(outcome.log.contains("about to fail"))
        #expect(outcome.log.contains("The setup script exited with status 3"))
        #expect(try await Self.docker.imageSize(image(tag)) == nil)
    }

    @Test("a worker whose engine lacks a prebuilt image rebuilds it from the stored spec before the run")
    func rebuildMissingImage() async throws {
        let tag = Self.newTag("test-missing")
        let result = try await run(
            "print(open('/opt/marker').read().strip())",
            image: image(tag),
            prebuild: spec(tag, "echo rebuilt > /opt/marker"),
            timeout: 30
        )
        #expect(result.stdout == "rebuilt\n")
        #expect(await builder.remove(PrebuildKey(owner: Self.owner, tag: tag)))

        do {
            _ = try await run("print(1)", image: image("\(tag)-x"), prebuild: spec("\(tag)-x", "exit 7"))
            Issue.record("ran although the rebuild failed")
        } catch let failure as ExecutionFailure {
            #expect(failure.failure.statusCode == 503)
            #expect(failure.failure.detail.hasPrefix("Prebuilt image 'prebuilt-\(tag)-x' could not be rebuilt: "))
        }
    }

    /// The gateway of a Docker network as /proc/net/route prints it (little-endian hex).
    static func bridgeGateway(_ network: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["docker", "network", "inspect", network, "--format", "{{(index .IPAM.Config 0).Gateway}}"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let dotted = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let octets = dotted.split(separator: ".").compactMap { UInt8($0) }
        guard octets.count == 4 else { throw CocoaError(.fileReadCorruptFile) }
        return octets.reversed().map { String(format: "%02X", $0) }.joined()
    }
}
