import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import Worker

/// `code-runner-bench latency`: every figure of `make bench`, measured side by side in one run on
/// the same image and sandbox flags (python hello world):
/// - latency: the raw Engine API lifecycle from Swift (create → attach → start → wait → remove,
///   `NetworkDisabled`, the cold floor), `docker run --rm` and the seed's engine calls
///   (`ReferenceLifecycles`), `POST /run` with the pool off and on, and (with `--postgres-url`)
///   with the pool on and the queue on PostgreSQL (and, with `--postgres-async-url`, on a database
///   with `synchronous_commit=off`) — rounds interleaved so that machine noise hits all alike;
/// - throughput: runs per second at 1, 4 and 16 concurrent clients, pool off and on, next to 8
///   concurrent raw lifecycles (the machine's container-churn ceiling) and 16 concurrent seed
///   lifecycles (the seed has no concurrency limit);
/// The queue's own figures come from `queue-probe` and `queue-hops`, run by `scripts/bench.sh`
/// once the services are stopped.
struct LatencyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latency",
        abstract: "Latency and throughput of POST /run against the raw container lifecycle."
    )

    @Option(help: "Base URL of a service with the warm pool on.")
    var url = "http://127.0.0.1:8000"

    @Option(help: "Base URL of a service with the warm pool off (POOL_SIZE=0); omit to skip.")
    var coldURL: String?

    @Option(
        help:
            "Base URL of a service as --url's but with POOL_PRESTART=off (the old warm path, no pre-started interpreters); omit to skip."
    )
    var prestartOffURL: String?

    @Option(
        help: "Base URL of a service set up as --url's but with its queue on PostgreSQL (DATABASE_URL); omit to skip."
    )
    var postgresURL: String?

    @Option(
        help:
            "Base URL of one more, as --postgres-url's but on a database with synchronous_commit=off (a diagnostic: SQLite's synchronous=NORMAL does not sync each commit either); omit to skip."
    )
    var postgresAsyncURL: String?

    @Option(
        help:
            "Base URL of the original quartermaster-code-runner 0.9.1 (scripts/original-service.sh start), measured beside ours; omit to skip."
    )
    var originalURL: String?

    @Option(help: "API key for the services, if they need one.")
    var apiKey: String?

    @Option(help: "Measured latency rounds (after 3 warm-up rounds).")
    var runs = 30

    @Option(help: "Requests per throughput measurement (at least 4 per client).")
    var throughputRequests = 96

    @Option(help: "Interleaved rounds of throughput measurements; the median is reported.")
    var throughputRounds = 5

    @Option(help: "Docker socket.")
    var dockerSocket = "/var/run/docker.sock"

    @Option(help: "Write the figures as JSON to this file.")
    var json: String?

    static let code = "print(sum(range(1, 101)))"

    func run() async throws {
        let engine = BenchLifecycles(socketPath: dockerSocket)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        var report = BenchReport()

        // Each round measures every path once, starting one further along the list each time: a
        // path never always follows the pooled run, whose pool refill then occupies the engine.
        var paths: [(name: String, measure: () async throws -> Double)] = [
            ("raw_lifecycle", { try await rawLifecycle(engine) }),
            ("post_run_pool_on", { try await postRun(http, base: url) }),
            ("docker_run_cli", { try await ReferenceLifecycles.dockerRun(code: Self.code) }),
            ("seed_engine_calls", { try await ReferenceLifecycles.seed(engine, code: Self.code) }),
        ]
        if let coldURL { paths.append(("post_run_pool_off", { try await postRun(http, base: coldURL) })) }
        if let prestartOffURL {
            paths.append(("post_run_pool_on_prestart_off", { try await postRun(http, base: prestartOffURL) }))
        }
        if let originalURL { paths.append(("original_post_run", { try await postRun(http, base: originalURL) })) }
        if let postgresURL { paths.append(("post_run_pool_on_postgres", { try await postRun(http, base: postgresURL) })) }
        if let postgresAsyncURL {
            paths.append(("post_run_pool_on_postgres_async_commit", { try await postRun(http, base: postgresAsyncURL) }))
        }
        for round in 0..<(runs + 3) {
            for offset in paths.indices {
                let path = paths[(round + offset) % paths.count]
                let milliseconds = try await path.measure()
                if round >= 3 { report.latency[path.name, default: []].append(milliseconds) }
            }
        }

        // Throughput: every measurement `throughputRounds` times, the rounds interleaved, the
        // median reported — the machine's speed drifts over minutes, ratios must not.
        var loads: [(name: String, clients: Int, run: @Sendable () async throws -> Double)] = [
            ("raw_lifecycle_x8", 8, { try await rawLifecycle(engine) }),
            ("seed_engine_calls_c16", 16, { try await ReferenceLifecycles.seed(engine, code: Self.code) }),
        ]
        if let originalURL { loads.append(("original_c16", 16, { try await postRun(http, base: originalURL) })) }
        for clients in [1, 4, 16] {
            loads.append(("pool_on_c\(clients)", clients, { try await postRun(http, base: url) }))
            if let coldURL { loads.append(("pool_off_c\(clients)", clients, { try await postRun(http, base: coldURL) })) }
            if let prestartOffURL, clients == 16 {
                loads.append(("pool_on_prestart_off_c16", clients, { try await postRun(http, base: prestartOffURL) }))
            }
        }
        var rates: [String: [Double]] = [:]
        for _ in 0..<throughputRounds {
            for load in loads { rates[load.name, default: []].append(try await throughput(concurrency: load.clients, load.run)) }
        }
        report.throughput = rates.mapValues { BenchReport.percentile($0, 0.5) }
        report.throughputRounds = rates
        try await http.shutdown()
        await engine.shutdown()
        print(report.table())
        if let json { try BenchReport.writeJSON(report, to: json) }
    }

    /// The raw lifecycle (`BenchLifecycles.raw`), in milliseconds.
    private func rawLifecycle(_ engine: BenchLifecycles) async throws -> Double {
        let (elapsed, output) = try await engine.raw(pythonCode: Self.code)
        guard output == "5050\n" else { throw BenchFailure("raw lifecycle printed \(output.debugDescription)") }
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

    /// Runs per second with `concurrency` clients doing `throughputRequests` runs in all, in the
    /// steady state: timed from the `concurrency`-th completion to the `concurrency`-th from last,
    /// so that neither the start (a full pool, an idle engine) nor the drain (fewer runs in
    /// flight than clients) counts.
    private func throughput(concurrency: Int, _ operation: @escaping @Sendable () async throws -> Double) async throws -> Double {
        let perClient = max(4, throughputRequests / concurrency)
        let completions = try await withThrowingTaskGroup(of: [ContinuousClock.Instant].self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var finished: [ContinuousClock.Instant] = []
                    for _ in 0..<perClient {
                        _ = try await operation()
                        finished.append(.now)
                    }
                    return finished
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }.sorted()
        let first = completions[concurrency]
        let last = completions[completions.count - 1 - concurrency]
        return Double(completions.count - 1 - 2 * concurrency) / ((last - first).milliseconds / 1000)
    }
}

extension Duration {
    /// The duration in milliseconds.
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
