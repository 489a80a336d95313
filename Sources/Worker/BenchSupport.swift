import Foundation
import NIOCore
import Queue

/// The engine-side container lifecycles `code-runner-bench latency` compares `POST /run` with.
/// They live in the worker library because they use its Docker client and sandbox spec; nothing
/// in the worker calls them. Each returns the wall time of the whole lifecycle and what the
/// program printed, for the caller to check.
public final class BenchLifecycles: Sendable {
    private let docker: DockerClient

    /// A client of the engine on the unix socket `socketPath`; call `shutdown()` when done.
    public init(socketPath: String) {
        docker = DockerClient(socketPath: socketPath)
    }

    /// Releases the engine client's connections.
    public func shutdown() async {
        await docker.shutdown()
    }

    /// The raw Engine API lifecycle from Swift, the cold floor of a run: create (the sandbox's
    /// container for `code-runner-python`, `NetworkDisabled`, entrypoint `python3 -c code`) →
    /// attach → start → read to EOF → wait → remove, timed as one.
    public func raw(pythonCode code: String) async throws -> (elapsed: Duration, output: String) {
        var config = SandboxSpec.container(
            for: RunPayload(
                code: "",
                image: ImageReference.runtimeImage("python"),
                mainFile: "main.py",
                timeoutSeconds: 30,
                memoryBytes: 256 << 20,
                cpuShares: 512,
                nanoCPUs: 1_000_000_000,
                diskBytes: 512 << 20,
                pidsLimit: 256,
                maxOutputBytes: 1 << 20,
                maxMetadataBytes: 1 << 20
            ),
            jobID: "bench",
            workerID: "bench",
            deploymentID: "bench",
            runtime: nil
        )
        config.entrypoint = ["python3", "-c", code]
        let docker = docker
        let started = ContinuousClock.now
        let id = try await docker.createContainer(config)
        var output = ""
        try await DockerAttachConnection(socketPath: docker.socketPath).run(
            containerID: id,
            input: ByteBuffer(),
            afterUpgrade: { try await docker.startContainer(id) },
            inputDelivered: {},
            onFrame: { _, payload in
                output += String(buffer: payload)
                return true
            }
        )
        _ = try await docker.waitContainer(id)
        try await docker.removeContainer(id)
        return (ContinuousClock.now - started, output)
    }

    /// The engine calls the seed (quartermaster-code-runner) makes for one `POST /run`
    /// (version 0.9.1), reproduced from Swift: create a metadata volume → create the container
    /// (json-file log, read-only root, two tmpfs, the volume, `NetworkDisabled`) → start → wait →
    /// read stdout and stderr from the log → fetch the metadata file through the archive API →
    /// remove the container → remove the volume. The output is the container's log.
    ///
    /// The seed itself cannot run here (no registry to pull its stack from), so this stands in
    /// for it. It is an upper bound of the seed's speed: it leaves out FastAPI, docker-py and the
    /// seed entrypoint's `chown` + `su` (it runs `python3` straight away, as root).
    public func seed(pythonCode code: String) async throws -> (elapsed: Duration, output: String) {
        let started = ContinuousClock.now
        let volume = "quartermaster_metadata_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        try await docker.createVolume(named: volume)
        let id = try await docker.createContainer(SeedContainerConfig(code: code, volume: volume))
        try await docker.startContainer(id)
        _ = try await docker.waitContainer(id)
        let log = try await docker.logs(id)
        _ = try await docker.archive(id, path: "/metadata/.quartermaster_metadata.json")
        try await docker.removeContainer(id)
        try await docker.removeVolume(named: volume)
        return (ContinuousClock.now - started, String(buffer: log))
    }
}

/// The seed's container create body (as quartermaster-code-runner 0.9.1 sends it), with the program passed as the seed does:
/// base64 in `ENCODED_CODE`.
private struct SeedContainerConfig: Encodable, Sendable {
    struct Mount: Encodable, Sendable {
        var `Type` = "volume"
        var Source: String
        var Target = "/metadata"
    }

    struct Host: Encodable, Sendable {
        var Memory: Int64 = 256 << 20
        var CpuShares = 512
        var ReadonlyRootfs = true
        var Tmpfs = ["/tmp": "size=512m,exec", "/workspace": "size=512m,exec"]
        var Mounts: [Mount]
    }

    var Image = "code-runner-python"
    var Entrypoint = ["/bin/sh", "-c", #"echo "$ENCODED_CODE" | base64 -d > /tmp/main.py && exec python3 /tmp/main.py"#]
    var User = "0"
    var WorkingDir = "/tmp"
    var Env: [String]
    var NetworkDisabled = true
    var HostConfig: Host

    init(code: String, volume: String) {
        Env = ["HOME=/tmp", "ENCODED_CODE=" + Data(code.utf8).base64EncodedString()]
        HostConfig = Host(Mounts: [Mount(Source: volume)])
    }
}
