import Hummingbird
import Queue

/// `GET /metrics` (Prometheus text format, authenticated like other routes): this API process's
/// request metrics (swift-metrics + swift-prometheus, `APIMetrics`), then the service's figures,
/// read from the database at scrape time — queue, workers, pool, prebuilds, clean-ups, and the
/// run counters and histograms the workers add there — so the API stays away from Docker and
/// every API process reports the same service totals.
struct MetricsRoutes: Sendable {
    let dependencies: AppDependencies

    func register(on router: Router<BasicRequestContext>) {
        router.get("/metrics") { request, _ in try await metrics(request) }
    }

    func metrics(_ request: Request) async throws -> Response {
        _ = try dependencies.authenticator.owner(of: request)
        let store = dependencies.store
        let counts = try await store.counts()
        let workers = try await dependencies.liveWorkers()
        var text = PrometheusText()
        text.gauge("code_runner_queue_jobs", "Jobs waiting or running, by state.", [
            (["state": "queued"], Double(counts.queued)), (["state": "running"], Double(counts.running)),
        ])
        text.gauge("code_runner_queue_depth", "Jobs waiting for a worker.", [([:], Double(counts.queued))])
        text.gauge("code_runner_workers", "Live worker processes.", [([:], Double(workers.count))])
        text.gauge("code_runner_worker_slots", "Execution slots of live workers, by use.", [
            (["state": "total"], Double(workers.reduce(0) { $0 + $1.slots })),
            (["state": "busy"], Double(workers.reduce(0) { $0 + $1.busy })),
        ])
        text.gauge("code_runner_pool_ready_containers", "Warm containers started and waiting for a job, over live workers.", [
            ([:], Double(workers.reduce(0) { $0 + $1.poolReady })),
        ])
        text.gauge("code_runner_docker_connected_workers", "Live workers that reach their Docker engine.", [
            ([:], Double(workers.filter(\.dockerConnected).count)),
        ])
        let prebuilds = try await store.prebuilds()
        text.gauge("code_runner_prebuilt_images", "Prebuilt images recorded, by status.",
            Prebuild.Status.allCases.map { status in (["status": status.rawValue], Double(prebuilds.filter { $0.status == status }.count)) })
        if let cleanup = try await store.lastCleanup() {
            text.gauge("code_runner_last_cleanup_timestamp_seconds", "When the last scheduled clean-up finished.", [([:], cleanup.finishedAt)])
            text.gauge("code_runner_last_cleanup_removed", "What the last clean-up removed, by kind.", [
                (["kind": "jobs"], Double(cleanup.removedJobs)), (["kind": "containers"], Double(cleanup.removedContainers)),
                (["kind": "images"], Double(cleanup.removedImages)),
            ])
        }
        text.samples(try await store.metricSamples(), catalog: WorkerMetricFamily.catalog)
        var body = APIMetrics.registry.emitToBuffer()
        body.append(contentsOf: text.output.utf8)
        var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: body)))
        response.headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return response
    }
}
