import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import Queue

/// `code-runner-worker bench`: every figure of `make bench`, measured side by side in one run on
/// the same image and sandbox flags (python hello world):
/// - latency: the raw Engine API lifecycle from Swift (create → attach → start → wait → remove,
///   `NetworkDisabled`, the cold floor), `docker run --rm` and the seed's engine calls
///   (`ReferenceLifecycles`), `POST /run` with the pool off and on — rounds interleaved so that
///   machine noise hits all alike;
/// - throughput: runs per second at 1, 4 and 16 concurrent clients, pool off and on, next to 8
///   concurrent raw lifecycles (the machine's container-churn ceiling) and 16 concurrent seed
///   lifecycles (the seed has no concurrency limit);
/// - the queue alone: its two wake-ups, enqueue → claim and complete → waiting API
///   (`QueueHopBench`).
struct LatencyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Latency and throughput of POST /run against the raw container lifecycle.",
        shouldDisplay: false)

    @Option(help: "Base URL of a service with the warm pool on.")
    var url = "http://127.0.0.1:8000"

    @Option(help: "Base URL of a service with the warm pool off (POOL_SIZE=0); omit to skip.")
    var coldURL: String?

    @Option(help: "API key for the services, if they need one.")
    var apiKey: String?

    @Option(help: "Measured latency rounds (after 3 warm-up rounds).")
    var runs = 30

    @Option(help: "Requests per throughput measurement.")
    var throughputRequests = 48

    @Option(help: "Docker socket.")
    var dockerSocket = "/var/run/docker.sock"

    @Option(help: "A scratch SQLite file for the queue-hop measurement; omit to skip.")
    var queueDatabase: String?

    @Option(help: "Write the figures as JSON to this file.")
    var json: String?

    static let code = "print(sum(range(1, 101)))"

    func run() async throws {
        let docker = DockerClient(socketPath: dockerSocket)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        var report = BenchReport()

        var raw: [Double] = []
        var warm: [Double] = []
        var cold: [Double] = []
        var cli: [Double] = []
        var seed: [Double] = []
        for round in 0..<(runs + 3) {
            let lifecycle = try await rawLifecycle(docker)
            let pooled = try await postRun(http, base: url)
            let unpooled = try await coldURL.asyncMap { try await postRun(http, base: $0) }
            let dockerRun = try await ReferenceLifecycles.dockerRun(code: Self.code)
            let seedLifecycle = try await ReferenceLifecycles.seed(docker, code: Self.code)
            if round >= 3 {
                raw.append(lifecycle)
                warm.append(pooled)
                if let unpooled { cold.append(unpooled) }
                cli.append(dockerRun)
                seed.append(seedLifecycle)
            }
        }
        report.latency["raw_lifecycle"] = raw
        report.latency["docker_run_cli"] = cli
        report.latency["seed_engine_calls"] = seed
        report.latency["post_run_pool_on"] = warm
        if coldURL != nil { report.latency["post_run_pool_off"] = cold }

        report.throughput["raw_lifecycle_x8"] = try await throughput(concurrency: 8) { try await rawLifecycle(docker) }
        report.throughput["seed_engine_calls_c16"] = try await throughput(concurrency: 16) {
            try await ReferenceLifecycles.seed(docker, code: Self.code)
        }
        for clients in [1, 4, 16] {
            report.throughput["pool_on_c\(clients)"] = try await throughput(concurrency: clients) { try await postRun(http, base: url) }
            if let coldURL {
                report.throughput["pool_off_c\(clients)"] = try await throughput(concurrency: clients) { try await postRun(http, base: coldURL) }
            }
        }
        if let queueDatabase { report.queueHops = try await QueueHopBench.measure(path: queueDatabase, rounds: 500) }
        try await http.shutdown()
        await docker.shutdown()
        print(report.table())
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: json))
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
        let output = OutputBox()
        try await DockerAttachConnection(socketPath: docker.socketPath).run(
            containerID: id, input: ByteBuffer(), afterUpgrade: { try await docker.startContainer(id) },
            inputDelivered: {}, onFrame: { _, payload in
                output.append(String(buffer: payload))
                return true
            })
        _ = try await docker.waitContainer(id)
        try await docker.removeContainer(id)
        let elapsed = ContinuousClock.now - started
        guard output.text == "5050\n" else { throw BenchFailure("raw lifecycle printed \(output.text.debugDescription)") }
        return elapsed.milliseconds
    }

    private func postRun(_ http: HTTPClient, base: String) async throws -> Double {
        var request = HTTPClientRequest(url: base + "/run")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let apiKey { request.headers.add(name: "X-API-Key", value: apiKey) }
        request.body = .bytes(ByteBuffer(string: #"{"code": "\#(Self.code)", "image": "python"}"#))
        let started = ContinuousClock.now
        let response = try await http.execute(request, timeout: .seconds(120))
        let body = try await response.body.collect(upTo: 1 << 20)
        let elapsed = ContinuousClock.now - started
        guard response.status == .ok, String(buffer: body).contains(#""stdout":"5050\n""#) else {
            throw BenchFailure("POST /run answered \(response.status): \(String(buffer: body))")
        }
        return elapsed.milliseconds
    }

    /// Runs per second with `concurrency` clients doing `throughputRequests` runs in all.
    private func throughput(concurrency: Int, _ operation: @escaping @Sendable () async throws -> Double) async throws -> Double {
        let started = ContinuousClock.now
        let perClient = max(1, throughputRequests / concurrency)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask { for _ in 0..<perClient { _ = try await operation() } }
            }
            try await group.waitForAll()
        }
        return Double(perClient * concurrency) / ((ContinuousClock.now - started).milliseconds / 1000)
    }
}

/// Output collected by a frame callback.
private final class OutputBox: @unchecked Sendable {
    private let lock = NSLock()
    private var storage = ""
    func append(_ text: String) { lock.withLock { storage += text } }
    var text: String { lock.withLock { storage } }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}

extension Duration {
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
