import Queue

/// Prometheus text exposition (version 0.0.4) of the figures `/metrics` reads from the database.
struct PrometheusText {
    private(set) var output = ""

    /// One gauge family, written whole.
    mutating func gauge(_ name: String, _ help: String, _ samples: [([String: String], Double)]) {
        output += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
        for (labels, value) in samples {
            let labelText =
                labels.isEmpty ? "" : "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",") + "}"
            output += "\(name)\(labelText) \(Self.format(value))\n"
        }
    }

    /// The workers' counters and histograms: every family of `catalog` (even without samples
    /// yet, so dashboards find the names), then any family a newer worker wrote, untyped.
    mutating func samples(_ samples: [MetricSample], catalog: [WorkerMetricFamily]) {
        let byFamily = Dictionary(grouping: samples, by: \.family)
        for family in catalog {
            output += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.type)\n"
            for sample in byFamily[family.name] ?? [] { line(sample) }
        }
        let known = Set(catalog.map(\.name))
        for (name, rows) in byFamily.sorted(by: { $0.key < $1.key }) where !known.contains(name) {
            output += "# TYPE \(name) untyped\n"
            for sample in rows { line(sample) }
        }
    }

    private mutating func line(_ sample: MetricSample) {
        var labels = sample.labels
        if sample.suffix == "_bucket" {
            let bound = sample.bound.isInfinite ? "+Inf" : Self.format(sample.bound)
            labels += (labels.isEmpty ? "" : ",") + "le=\"\(bound)\""
        }
        output += "\(sample.family)\(sample.suffix)\(labels.isEmpty ? "" : "{\(labels)}") \(Self.format(sample.value))\n"
    }

    /// Integers without a fraction, everything else in Swift's shortest exact form.
    static func format(_ value: Double) -> String {
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

/// A metric family workers record (see `RunMetrics` in the worker) and `/metrics` renders.
struct WorkerMetricFamily: Sendable {
    var name: String
    var type: String
    var help: String

    static let catalog = [
        WorkerMetricFamily(
            name: "code_runner_runs_total",
            type: "counter",
            help: "Finished runs, by runtime and outcome (ok, nonzero, timeout, oom, failed)."
        ),
        WorkerMetricFamily(
            name: "code_runner_run_duration_seconds",
            type: "histogram",
            help: "How long runs took on the worker, from claim to result, by runtime."
        ),
        WorkerMetricFamily(
            name: "code_runner_queue_wait_seconds",
            type: "histogram",
            help: "How long runs waited in the queue before a worker claimed them, by runtime."
        ),
        WorkerMetricFamily(
            name: "code_runner_prebuild_builds_total",
            type: "counter",
            help: "Prebuilt-image builds (first builds and rebuilds of missing images), by outcome."
        ),
        WorkerMetricFamily(
            name: "code_runner_worker_errors_total",
            type: "counter",
            help: "Failed rounds of the workers' background loops (heartbeat, engine, schedules, metrics, sweep, claim), by loop."
        ),
    ]
}
