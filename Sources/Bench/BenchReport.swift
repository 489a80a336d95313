import Foundation

/// The figures of one `make bench` run, printed as Markdown tables and written as JSON.
struct BenchReport: Encodable {
    /// Milliseconds per run, by path (`raw_lifecycle`, `post_run_pool_on`, …).
    var latency: [String: [Double]] = [:]
    /// Runs per second, by path and client count (`pool_on_c16`, …): the median of the rounds.
    var throughput: [String: Double] = [:]
    /// Every round's runs per second.
    var throughputRounds: [String: [Double]] = [:]

    /// Nearest-rank percentile; 0 for no samples.
    static func percentile(_ samples: [Double], _ fraction: Double) -> Double {
        guard !samples.isEmpty else { return 0 }
        let sorted = samples.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]
    }

    func table() -> String {
        var lines = ["| latency, python hello world | n | p50 ms | p95 ms | min ms | p50 / raw |", "|---|---|---|---|---|---|"]
        let rawP50 = Self.percentile(latency["raw_lifecycle"] ?? [], 0.5)
        for name in ["raw_lifecycle", "docker_run_cli", "seed_engine_calls", "post_run_pool_off", "post_run_pool_on"] {
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
