import PostgresNIO

// The workers' shared counters and histograms on PostgreSQL (`MetricSamples.swift`'s twins).
extension PostgresJobStore {
    /// Adds these increments to the stored totals in one statement. Samples with the same key
    /// are summed first (one `INSERT … ON CONFLICT` may not touch a row twice), and rows are
    /// written in key order, so two workers adding at once never deadlock.
    public func addMetricSamples(_ samples: [MetricSample]) async throws {
        guard !samples.isEmpty else { return }
        var totals: [MetricSample.Key: Double] = [:]
        for sample in samples { totals[sample.key, default: 0] += sample.value }
        let keys = totals.keys.sorted { ($0.family, $0.labels, $0.suffix, $0.bound) < ($1.family, $1.labels, $1.suffix, $1.bound) }
        let families = keys.map(\.family)
        let labels = keys.map(\.labels)
        let suffixes = keys.map(\.suffix)
        let bounds = keys.map(\.bound)
        let values = keys.map { totals[$0] ?? 0 }
        _ = try await rows(
            """
            INSERT INTO metric_samples (family, labels, suffix, bound, value)
            SELECT * FROM unnest(\(families)::text[], \(labels)::text[], \(suffixes)::text[], \(bounds)::float8[], \(values)::float8[])
            ON CONFLICT (family, labels, suffix, bound) DO UPDATE SET value = metric_samples.value + excluded.value
            """,
            "adding metric samples",
            retrying: false  // counters would be added twice
        )
    }

    public func metricSamples() async throws -> [MetricSample] {
        try await rows(
            """
            SELECT family, labels, suffix, bound, value FROM metric_samples
            ORDER BY family COLLATE "C", labels COLLATE "C", CASE suffix WHEN '_bucket' THEN 0 WHEN '_sum' THEN 1 ELSE 2 END, bound
            """,
            "reading metric samples"
        ).map { row in
            let (family, labels, suffix, bound, value) = try row.decode((String, String, String, Double, Double).self)
            return MetricSample(family: family, labels: labels, suffix: suffix, bound: bound, value: value)
        }
    }
}
