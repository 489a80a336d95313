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
    /// Issue 20: python's warm `POST /run` p50 with a pre-started interpreter, in ms, and against
    /// the old warm path (`POOL_PRESTART=off`).
    static let prestartLatencyTarget = 20.0
    static let prestartRatioTarget = 0.6
    /// Issue 20: runs/s at 16 clients against the original's and the raw lifecycle ceiling's.
    static let originalThroughputTarget = 1.25
    static let ceilingThroughputTarget = 0.95

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
            "raw_lifecycle", "docker_run_cli", "seed_engine_calls", "post_run_pool_off", "post_run_pool_on_prestart_off", "post_run_pool_on",
            "original_post_run",
            "post_run_pool_on_postgres", "post_run_pool_on_postgres_async_commit",
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
        if let new = latency["post_run_pool_on"], let old = latency["post_run_pool_on_prestart_off"] {
            let newP50 = Self.percentile(new, 0.5)
            let quotient = ratio(newP50, Self.percentile(old, 0.5))
            let verdict = newP50 <= Self.prestartLatencyTarget && quotient <= Self.prestartRatioTarget ? "PASS" : "MISS"
            lines += [
                "", "| warm POST /run p50, pre-started interpreter against the old warm path | p50 ms | ratio | target | PASS/MISS |",
                "|---|---|---|---|---|",
                String(
                    format: "| python | %.1f | %.3f | ≤ %.0f ms and ≤ %.2f | %@ |",
                    newP50,
                    quotient,
                    Self.prestartLatencyTarget,
                    Self.prestartRatioTarget,
                    verdict
                ),
            ]
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
        let ceiling = throughput["raw_lifecycle_x8"] ?? 0
        let seed = throughput["seed_engine_calls_c16"] ?? 0
        let original = throughput["original_c16"] ?? 0
        lines += [
            "",
            "| throughput | runs/s (median) | / raw ceiling (raw_lifecycle_x8) | / seed (seed_engine_calls_c16) | / original (original_c16) | rounds |",
            "|---|---|---|---|---|---|",
        ]
        for name in throughput.keys.sorted() {
            let value = throughput[name] ?? 0
            let rounds = (throughputRounds[name] ?? []).map { String(format: "%.2f", $0) }.joined(separator: ", ")
            lines.append(
                String(
                    format: "| %@ | %.2f | %.2f | %.2f | %.2f | %@ |",
                    name,
                    value,
                    ratio(value, ceiling),
                    ratio(value, seed),
                    ratio(value, original),
                    rounds
                )
            )
        }
        if let ours = throughput["pool_on_c16"], original > 0, ceiling > 0 {
            let verdict = ours >= Self.originalThroughputTarget * original && ours >= Self.ceilingThroughputTarget * ceiling ? "PASS" : "MISS"
            lines += [
                "", "| POST /run at 16 clients (pool on) | / original | / raw ceiling | target | PASS/MISS |", "|---|---|---|---|---|",
                String(
                    format: "| %.2f runs/s | %.2f | %.2f | ≥ %.2f × original and ≥ %.2f × raw ceiling | %@ |",
                    ours,
                    ratio(ours, original),
                    ratio(ours, ceiling),
                    Self.originalThroughputTarget,
                    Self.ceilingThroughputTarget,
                    verdict
                ),
            ]
        }
        if let ours = latency["post_run_pool_on"], let theirs = latency["original_post_run"] {
            let quotient = ratio(Self.percentile(ours, 0.5), Self.percentile(theirs, 0.5))
            lines += [
                "", "| POST /run p50, ours (pool on) / the original's | ratio |", "|---|---|",
                String(format: "| python hello world | %.3f |", quotient),
            ]
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
