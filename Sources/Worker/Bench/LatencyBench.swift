import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import Queue

/// `code-runner-worker bench`: latency of a Python hello world, measured side by side in one run
/// on the same image and sandbox flags:
/// - the raw Engine API lifecycle from Swift (create → attach → start → wait → remove,
///   `NetworkDisabled`), the floor of any cold run;
/// - `POST /run` of a running service.
/// Rounds alternate between the two so that machine noise hits both alike.
struct LatencyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Compare POST /run with the raw container lifecycle.", shouldDisplay: false)

    @Option(help: "Base URL of a running service.")
    var url = "http://127.0.0.1:8000"

    @Option(help: "API key for the service, if it needs one.")
    var apiKey: String?

    @Option(help: "Measured rounds (after 3 warm-up rounds).")
    var runs = 30

    @Option(help: "Docker socket.")
    var dockerSocket = "/var/run/docker.sock"

    @Option(help: "Write the figures as JSON to this file.")
    var json: String?

    static let code = "print(sum(range(1, 101)))"

    func run() async throws {
        let docker = DockerClient(socketPath: dockerSocket)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        var raw: [Double] = []
        var service: [Double] = []
        for round in 0..<(runs + 3) {
            let lifecycle = try await rawLifecycle(docker)
            let request = try await postRun(http)
            if round >= 3 {
                raw.append(lifecycle)
                service.append(request)
            }
        }
        try await http.shutdown()
        await docker.shutdown()
        let rawP50 = Self.percentile(raw, 0.5)
        let serviceP50 = Self.percentile(service, 0.5)
        let rows = [
            ("raw Engine API lifecycle (NetworkDisabled)", raw),
            ("POST /run (cold path)", service),
        ]
        print("| path, python hello world | n | p50 ms | p95 ms | min ms |")
        print("|---|---|---|---|---|")
        for (name, samples) in rows {
            print(String(format: "| %@ | %d | %.1f | %.1f | %.1f |", name, samples.count,
                Self.percentile(samples, 0.5), Self.percentile(samples, 0.95), samples.min() ?? 0))
        }
        print(String(format: "POST /run p50 / raw lifecycle p50 = %.2f", serviceP50 / rawP50))
        if let json {
            let figures: [String: [Double]] = ["raw_lifecycle_ms": raw, "post_run_ms": service]
            try JSONEncoder().encode(figures).write(to: URL(fileURLWithPath: json))
        }
    }

    /// create → attach → start → read to EOF → wait → remove, timed as one.
    private func rawLifecycle(_ docker: DockerClient) async throws -> Double {
        var config = SandboxSpec.container(
            for: RunPayload(
                code: "", image: "code-runner-python", mainFile: "main.py", timeoutSeconds: 30, memoryBytes: 256 << 20,
                cpuShares: 512, nanoCPUs: 1_000_000_000, diskBytes: 512 << 20, pidsLimit: 256,
                maxOutputBytes: 1 << 20, maxMetadataBytes: 1 << 20),
            jobID: "bench", workerID: "bench", deploymentID: "bench", runtime: nil)
        config.Entrypoint = ["python3", "-c", Self.code]
        let started = ContinuousClock.now
        let id = try await docker.createContainer(config)
        var output = ""
        try await DockerAttachConnection(socketPath: docker.socketPath).run(
            containerID: id, input: ByteBuffer(), afterUpgrade: { try await docker.startContainer(id) },
            inputDelivered: {}, onFrame: { _, payload in
                output += String(buffer: payload)
                return true
            })
        _ = try await docker.waitContainer(id)
        try await docker.removeContainer(id)
        let elapsed = ContinuousClock.now - started
        guard output == "5050\n" else { throw ValidationError("raw lifecycle printed \(output.debugDescription)") }
        return elapsed.milliseconds
    }

    private func postRun(_ http: HTTPClient) async throws -> Double {
        var request = HTTPClientRequest(url: url + "/run")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let apiKey { request.headers.add(name: "X-API-Key", value: apiKey) }
        request.body = .bytes(ByteBuffer(string: #"{"code": "\#(Self.code)", "image": "python"}"#))
        let started = ContinuousClock.now
        let response = try await http.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 1 << 20)
        let elapsed = ContinuousClock.now - started
        guard response.status == .ok, String(buffer: body).contains(#""stdout":"5050\n""#) else {
            throw ValidationError("POST /run answered \(response.status): \(String(buffer: body))")
        }
        return elapsed.milliseconds
    }

    static func percentile(_ samples: [Double], _ fraction: Double) -> Double {
        guard !samples.isEmpty else { return 0 }
        let sorted = samples.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]
    }
}

extension Duration {
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
