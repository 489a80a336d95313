import Metrics
import Queue

/// The per-key figures of `/metrics`, by key *name* (never the key): runs accepted and requests
/// refused by this API process (swift-metrics counters), and jobs queued and running, read from
/// the database at scrape time.
enum TenantMetrics {
    /// A run job stored for `key` (POST /run, POST /jobs; not an idempotent repeat).
    static func accepted(_ key: APIKey) {
        Counter(label: "code_runner_key_runs_total", dimensions: [("key", key.name)]).increment()
    }

    /// A request of `key` refused by one of its limits (`limit`: the file's field name).
    static func rejected(_ key: APIKey, limit: String) {
        Counter(label: "code_runner_key_rejections_total", dimensions: [("key", key.name), ("limit", limit)]).increment()
    }

    /// The label of the jobs of `owner`: its key's name; `webhooks` for webhook deliveries,
    /// `service` for the service's own jobs (the scheduled clean-up), `other` for an owner no
    /// current key has (a key removed from the file).
    static func label(ofOwner owner: String, registry: KeyRegistry) -> String {
        if owner == WebhookDelivery.owner { return "webhooks" }
        if let name = registry.name(ofOwner: owner) { return name }
        return owner.isEmpty ? "service" : "other"
    }

    /// `code_runner_key_queued_jobs` and `code_runner_key_running_jobs`, summed by label.
    static func gauges(_ counts: [OwnerCounts], registry: KeyRegistry, into text: inout PrometheusText) {
        var queued: [String: Int] = [:]
        var running: [String: Int] = [:]
        for count in counts {
            let name = label(ofOwner: count.owner, registry: registry)
            queued[name, default: 0] += count.queued
            running[name, default: 0] += count.running
        }
        text.gauge(
            "code_runner_key_queued_jobs",
            "Jobs waiting for a worker, by API key name.",
            queued.keys.sorted().map { (["key": $0], Double(queued[$0] ?? 0)) }
        )
        text.gauge(
            "code_runner_key_running_jobs",
            "Jobs running, by API key name.",
            running.keys.sorted().map { (["key": $0], Double(running[$0] ?? 0)) }
        )
    }
}
