import Foundation

/// The figures of one `make bench` run, printed as Markdown tables and written as JSON.
struct BenchReport: Encodable {
    /// Milliseconds per run, by path (`raw_lifecycle`, `post_run_pool_on`, …).
    var latency: [String: [Double]] = [:]
    /// Runs per second, by path and client count (`pool_on_c16`, …): the median of the rounds.
    var throughput: [String: Double] = [:]
    /// Every round's runs per second.
    var throughputRounds: [String: [Double]] = [:]

    /// Issue 16's target: `POST /run` p50 with the queue on PostgreSQL at most this many times
    /// the SQLite deployment's.
    static let postgresLatencyTarget = 1.15

    /// Nearest-rank percentile; 0 for no samples.
    static func percentile(_ samples: [Double], _ fraction: Double) -> Double {
        guard !samples.isEmpty else { return 0 }
        let sorted = samples.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]
    }

    func table() -> String {
        var lines = ["| latency, python hello world | n | p50 ms | p95 ms | min ms | p50 / raw |", "|---|---|---|---|---|---|"]
        let rawP50 = Self.percentile(latency["raw_lifecycle"] ?? [], 0.5)
        for name in [
            "raw_lifecycle", "docker_run_cli", "seed_engine_calls", "post_run_pool_off", "post_run_pool_on", "post_run_pool_on_postgres",
            "post_run_pool_on_postgres_async_commit",
        ] {
            guard let samples = latency[name] else { continue }
            let p50 = Self.percentile(samples, 0.5)
            lines.append(
                String(
                    format: "| %@ | %d | %.1f | %.1f | %.1f | %.2f |",
                    name,
                    samples.count,
                    p50,
                    Self.percentile(samples, 0.95),
                    samples.min() ?? 0,
                    ratio(p50, rawP50)
                )
            )
        }
        if let sqlite = latency["post_run_pool_on"] {
            var comparisons: [String] = []
            for (name, label) in [
                ("post_run_pool_on_postgres", "PostgreSQL"),
                ("post_run_pool_on_postgres_async_commit", "PostgreSQL, synchronous_commit=off (diagnostic)"),
            ] {
                guard let postgres = latency[name] else { continue }
                let quotient = ratio(Self.percentile(postgres, 0.5), Self.percentile(sqlite, 0.5))
                let verdict = quotient <= Self.postgresLatencyTarget ? "PASS" : "MISS"
                comparisons.append(String(format: "| %@ | %.3f | ≤ %.2f | %@ |", label, quotient, Self.postgresLatencyTarget, verdict))
            }
            if !comparisons.isEmpty {
                lines += ["", "| POST /run p50 / SQLite deployment's (pool on) | ratio | target | PASS/MISS |", "|---|---|---|---|"] + comparisons
            }
        }
        lines += [
            "", "| throughput | runs/s (median) | / raw ceiling (raw_lifecycle_x8) | / seed (seed_engine_calls_c16) | rounds |",
            "|---|---|---|---|---|",
        ]
        let ceiling = throughput["raw_lifecycle_x8"] ?? 0
        let seed = throughput["seed_engine_calls_c16"] ?? 0
        for name in throughput.keys.sorted() {
            let value = throughput[name] ?? 0
            let rounds = (throughputRounds[name] ?? []).map { String(format: "%.2f", $0) }.joined(separator: ", ")
            lines.append(String(format: "| %@ | %.2f | %.2f | %.2f | %@ |", name, value, ratio(value, ceiling), ratio(value, seed), rounds))
        }
        return lines.joined(separator: "\n")
    }

    /// Writes bench figures as sorted, indented JSON.
    static func writeJSON(_ value: some Encodable, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(value).write(to: URL(fileURLWithPath: path))
    }

    private func ratio(_ value: Double, _ base: Double) -> Double { base > 0 ? value / base : 0 }
}
