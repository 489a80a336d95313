import Metrics
import Prometheus

/// The API process's own metrics (swift-metrics, kept by swift-prometheus): requests by route,
/// method and status, their durations, requests in flight. Hummingbird's `MetricsMiddleware`
/// records them under OpenTelemetry-style names, which the factory renames here to the
/// `code_runner_http_*` names the README lists.
enum APIMetrics {
    /// The registry `GET /metrics` renders; every API process has its own.
    static let registry = PrometheusCollectorRegistry()

    /// Bootstraps swift-metrics once per process (the tests build many applications).
    static let bootstrapped: Void = {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
            .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        factory.nameAndLabelSanitizer = { name, labels in
            (metricNames[name] ?? sanitized(name), labels.map { (labelNames[$0.0] ?? sanitized($0.0), $0.1) })
        }
        MetricsSystem.bootstrap(factory)
    }()

    /// Hummingbird's metric labels → ours.
    static let metricNames = [
        "hb.requests": "code_runner_http_requests_total",
        "http.server.request.duration": "code_runner_http_request_duration_seconds",
        "hb.request.errors": "code_runner_http_request_errors_total",
        "http.server.active_requests": "code_runner_http_requests_in_flight",
    ]

    /// Hummingbird's dimension names → ours.
    static let labelNames = [
        "http.route": "route", "http.request.method": "method", "http.response.status_code": "status", "error.type": "status",
    ]

    /// Any other name with the characters Prometheus refuses replaced by `_`.
    static func sanitized(_ name: String) -> String {
        String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") ? $0 : "_" })
    }
}
