import Foundation
import NIOCore

/// The reference paths `make bench` compares `POST /run` with, besides the raw lifecycle.
enum ReferenceLifecycles {
    /// The engine calls the seed (quartermaster-code-runner) makes for one `POST /run`
    /// (seed-spec 6.4–6.9), issued from Swift: create a metadata volume → create the container
    /// (json-file log, read-only root, two tmpfs, the volume, `NetworkDisabled`) → start → wait →
    /// read stdout and stderr from the log → fetch the metadata file through the archive API →
    /// remove the container → remove the volume.
    ///
    /// The seed itself cannot run here (no registry to pull its stack from), so this stands in
    /// for it. It is an upper bound of the seed's speed: it leaves out FastAPI, docker-py and the
    /// seed entrypoint's `chown` + `su` (it runs `python3` straight away, as root).
    static func seed(_ docker: DockerClient, code: String) async throws -> Double {
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
        let elapsed = ContinuousClock.now - started
        guard String(buffer: log).contains("5050") else { throw BenchFailure("the seed's lifecycle logged \(String(buffer: log).debugDescription)") }
        return elapsed.milliseconds
    }

    /// `docker run --rm` with the sandbox's flags, as an operator would type it. Waits for the CLI
    /// on the calling thread: meant for the sequential latency rounds only.
    static func dockerRun(code: String) async throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "docker", "run", "--rm", "--network", "none", "--read-only", "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges", "--memory", "256m", "--memory-swap", "256m", "--cpus", "1",
            "--pids-limit", "256", "--user", "1000:1000", "--log-driver", "none", "-i",
            "--tmpfs", "/tmp:rw,exec,nosuid,nodev,size=512m,uid=1000,gid=1000",
            "--entrypoint", "python3", "code-runner-python", "-c", code,
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        let started = ContinuousClock.now
        try process.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let elapsed = ContinuousClock.now - started
        guard process.terminationStatus == 0, printed == Data("5050\n".utf8) else {
            throw BenchFailure("docker run exited \(process.terminationStatus) printing \(String(decoding: printed, as: UTF8.self).debugDescription)")
        }
        return elapsed.milliseconds
    }
}

/// The seed's container create body (seed-spec 6.5), with the program passed as the seed does:
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

/// A bench step that produced something other than the expected output.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
