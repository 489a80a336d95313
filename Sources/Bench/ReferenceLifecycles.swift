import Foundation
import Queue
import Worker

/// The reference paths `make bench` compares `POST /run` with, besides the raw lifecycle. The
/// engine calls themselves are `BenchLifecycles`, in the worker library next to its Docker client.
enum ReferenceLifecycles {
    /// The seed's engine calls for one run (`BenchLifecycles.seed`), in milliseconds; `code` must
    /// print 5050.
    static func seed(_ engine: BenchLifecycles, code: String) async throws -> Double {
        let (elapsed, log) = try await engine.seed(pythonCode: code)
        guard log.contains("5050") else { throw BenchFailure("the seed's lifecycle logged \(log.debugDescription)") }
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
            "--entrypoint", "python3", ImageReference.runtimeImage("python"), "-c", code,
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

/// A bench step that produced something other than the expected output.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
