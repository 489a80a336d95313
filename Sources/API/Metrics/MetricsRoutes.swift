import Hummingbird
import Queue

/// `GET /metrics` (Prometheus text format, authenticated like other routes): this API process's
/// request metrics (swift-metrics + swift-prometheus, `APIMetrics`), then the service's figures,
/// read from the database at scrape time — queue, workers, pool, prebuilds, clean-ups, and the
/// run counters and histograms the workers add there — so the API stays away from Docker and
/// every API process reports the same service totals.
///
/// `/metrics` shows every tenant's traffic, so with `METRICS_TOKEN` set only
/// `Authorization: Bearer <METRICS_TOKEN>` may read it (API keys are refused); without it, any
/// credential of the API may, as before.
struct MetricsRoutes: Sendable {
    let dependencies: AppDependencies

    func register(on router: Router<BasicRequestContext>) {
        router.get("/metrics") { request, _ in try await metrics(request) }
    }

    func metrics(_ request: Request) async throws -> Response {
        try authorize(request)
        let store = dependencies.store
        let counts = try await store.counts()
        let workers = try await dependencies.liveWorkers()
        var text = PrometheusText()
        text.gauge(
            "code_runner_queue_jobs",
            "Jobs waiting or running, by state.",
            [
                (["state": "queued"], Double(counts.queued)), (["state": "running"], Double(counts.running)),
            ]
        )
        text.gauge("code_runner_queue_depth", "Jobs waiting for a worker.", [([:], Double(counts.queued))])
        text.gauge("code_runner_workers", "Live worker processes.", [([:], Double(workers.count))])
        let hosts = HostSummary.summaries(of: workers)
        text.gauge(
            "code_runner_host_workers",
            "Live worker processes, by host (WORKER_HOST).",
            hosts.map { (["host": $0.host], Double($0.workers)) }
        )
        text.gauge(
            "code_runner_host_slots",
            "Execution slots of live workers, by host and use.",
            hosts.flatMap { [(["host": $0.host, "state": "total"], Double($0.slots)), (["host": $0.host, "state": "busy"], Double($0.busy))] }
        )
        text.gauge(
            "code_runner_worker_slots",
            "Execution slots of live workers, by use.",
            [
                (["state": "total"], Double(workers.reduce(0) { $0 + $1.slots })),
                (["state": "busy"], Double(workers.reduce(0) { $0 + $1.busy })),
            ]
        )
        text.gauge(
            "code_runner_pool_ready_containers",
            "Warm containers started and waiting for a job, over live workers.",
            [
                ([:], Double(workers.reduce(0) { $0 + $1.poolReady }))
            ]
        )
        text.gauge(
            "code_runner_docker_connected_workers",
            "Live workers that reach their Docker engine.",
            [
                ([:], Double(workers.filter(\.dockerConnected).count))
            ]
        )
        let prebuilds = try await store.prebuildCounts()
        text.gauge(
            "code_runner_prebuilt_images",
            "Prebuilt images recorded (every owner's), by status.",
            Prebuild.Status.allCases.map { status in (["status": status.rawValue], Double(prebuilds[status] ?? 0)) }
        )
        if let cleanup = try await store.lastCleanup() {
            text.gauge("code_runner_last_cleanup_timestamp_seconds", "When the last scheduled clean-up finished.", [([:], cleanup.finishedAt)])
            text.gauge(
                "code_runner_last_cleanup_removed",
                "What the last clean-up removed, by kind.",
                [
                    (["kind": "jobs"], Double(cleanup.removedJobs)), (["kind": "containers"], Double(cleanup.removedContainers)),
                    (["kind": "images"], Double(cleanup.removedImages)),
                ]
            )
        }
        TenantMetrics.gauges(try await store.countsByOwner(), registry: dependencies.authenticator.registry, into: &text)
        text.samples(try await store.metricSamples(), catalog: WorkerMetricFamily.catalog)
        var body = APIMetrics.registry.emitToBuffer()
        body.append(contentsOf: text.output.utf8)
        var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: body)))
        response.headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return response
    }

    static let missingToken = "Not authenticated. /metrics needs Authorization: Bearer <METRICS_TOKEN>."
    static let wrongToken = "Invalid metrics token"

    /// The scraper's credential: the metrics token when one is configured, else the API's own.
    private func authorize(_ request: Request) throws(APIError) {
        guard let token = dependencies.settings.metricsToken else {
            _ = try dependencies.authenticator.owner(of: request)
            return
        }
        let prefix = Array("Bearer ".utf8)
        guard let authorization = request.headers[.authorization].map({ Array($0.utf8) }), authorization.starts(with: prefix) else {
            throw APIError(.unauthorized, Self.missingToken, headers: [.wwwAuthenticate: "Bearer"])
        }
        guard Authenticator.constantTimeEquals(Array(authorization.dropFirst(prefix.count)), Array(token.utf8)) else {
            throw APIError(.forbidden, Self.wrongToken)
        }
    }
}
