import GRDB

/// One cumulative Prometheus sample that workers add to and the API renders: a counter value,
/// or one `_bucket`/`_sum`/`_count` line of a histogram.
///
/// Workers never talk to the API: they add their increments to these rows (about once a
/// second), and `GET /metrics` reads them, so every API process shows the same totals and the
/// totals survive worker restarts. Values only grow, as Prometheus counters must.
public struct MetricSample: Sendable, Hashable {
    /// The metric family, e.g. `code_runner_runs_total`.
    public var family: String
    /// Label pairs without `le`, already in exposition form: `outcome="ok",runtime="python"`.
    public var labels: String
    /// `""` for a counter; `_bucket`, `_sum` or `_count` for a histogram's lines.
    public var suffix: String
    /// A bucket's upper bound (`.infinity` for `+Inf`); 0 for every other line.
    public var bound: Double
    public var value: Double

    public init(family: String, labels: String, suffix: String = "", bound: Double = 0, value: Double) {
        self.family = family
        self.labels = labels
        self.suffix = suffix
        self.bound = bound
        self.value = value
    }

    /// The row's identity: samples with the same key add up.
    public var key: Key { Key(family: family, labels: labels, suffix: suffix, bound: bound) }

    public struct Key: Hashable, Sendable {
        public var family: String
        public var labels: String
        public var suffix: String
        public var bound: Double

        public init(family: String, labels: String, suffix: String, bound: Double) {
            self.family = family
            self.labels = labels
            self.suffix = suffix
            self.bound = bound
        }
    }
}

extension SQLiteJobStore {
    /// Adds these increments to the stored totals, in one transaction.
    public func addMetricSamples(_ samples: [MetricSample]) async throws {
        guard !samples.isEmpty else { return }
        try await databasePool.write { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO metric_samples (family, labels, suffix, bound, value) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (family, labels, suffix, bound) DO UPDATE SET value = value + excluded.value
                    """
            )
            for sample in samples {
                try statement.execute(arguments: [sample.family, sample.labels, sample.suffix, sample.bound, sample.value])
            }
        }
    }

    /// Every stored sample, ordered for rendering: by family, labels, line kind and bucket.
    public func metricSamples() async throws -> [MetricSample] {
        try await databasePool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT family, labels, suffix, bound, value FROM metric_samples
                    ORDER BY family, labels, CASE suffix WHEN '_bucket' THEN 0 WHEN '_sum' THEN 1 ELSE 2 END, bound
                    """
            ).map { MetricSample(family: $0["family"], labels: $0["labels"], suffix: $0["suffix"], bound: $0["bound"], value: $0["value"]) }
        }
    }
}
