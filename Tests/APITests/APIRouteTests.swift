import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Queue
import Testing

@testable import API

/// The HTTP contract through the real router and a real SQLite file, with a stand-in worker
/// (the queue is the only interface between API and workers, so a fake claimer is exact).
struct APIRouteTests {
    static let key = "test-key"

    func makeApp(_ store: SQLiteJobStore, variables: [String: String] = [:]) throws -> some ApplicationProtocol {
        var all = ["CODE_RUNNER_API_KEYS": Self.key, "RUNTIME_DIR": "runtimes", "RUN_WAIT_SLACK": "5"]
        all.merge(variables) { $1 }
        let settings = try ServiceSettings(variables: all)
        return try APIMain.makeApplication(settings: settings, logger: Logger(label: "api-tests"), store: store)
    }

    func freshStore() throws -> SQLiteJobStore {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("api-tests-\(UUID())")
        return try SQLiteJobStore(path: directory.appendingPathComponent("jobs.sqlite").path)
    }

    /// A worker that registers with the python image and completes every run job by echoing
    /// its code length, until cancelled.
    func fakeWorker(_ store: SQLiteJobStore) async throws -> Task<Void, Never> {
        let status = WorkerStatus(
            id: "fake",
            pid: 1,
            host: "test",
            slots: 4,
            dockerConnected: true,
            engineVersion: "test",
            images: ["code-runner-python"]
        )
        _ = try await store.heartbeat(status, holding: [], leaseSeconds: 60)
        return Task {
            for await _ in store.changes() {
                guard let claimed = try? await store.claim(worker: "fake", limit: 4, leaseSeconds: 60) else { continue }
                for job in claimed {
                    let payload = try? JSONDecoder().decode(RunPayload.self, from: job.job.payload)
                    let result = RunResult(stdout: "ran \(payload?.code.utf8.count ?? -1)\n", stderr: "", exitCode: 0, executionTime: 0.0123)
                    _ = try? await store.complete(job.lease, result: JSONEncoder().encode(result))
                }
            }
        }
    }

    func json(_ response: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]) ?? [:]
    }

    var authorized: HTTPFields { [HTTPField.Name("X-API-Key")!: Self.key] }

    @Test("open routes, 401 with WWW-Authenticate, 403, unknown path and wrong method")
    func authAndRouting() async throws {
        let app = try makeApp(try freshStore())
        try await app.test(.router) { client in
            let root = try await client.execute(uri: "/", method: .get)
            #expect(json(root)["message"] as? String == "Code Runner is operational.")
            let health = try await client.execute(uri: "/health", method: .get)
            #expect(json(health)["status"] as? String == "degraded")
            #expect(json(health)["workers"] as? Int == 0)

            let anonymous = try await client.execute(uri: "/run", method: .post, body: ByteBuffer(string: #"{"code":"print(1)"}"#))
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.headers[.wwwAuthenticate] == "Bearer")
            #expect(json(anonymous)["detail"] as? String == Authenticator.notAuthenticated)

            let wrong = try await client.execute(
                uri: "/images",
                method: .get,
                headers: [HTTPField.Name("X-API-Key")!: "nope"]
            )
            #expect(wrong.status == .forbidden)
            #expect(json(wrong)["detail"] as? String == "Invalid API Key")

            let missing = try await client.execute(uri: "/nowhere", method: .get)
            #expect(missing.status == .notFound)
            #expect(json(missing)["detail"] as? String == "Not Found")
            let method = try await client.execute(uri: "/", method: .delete)
            #expect(method.status == .methodNotAllowed)
            #expect(json(method)["detail"] as? String == "Method Not Allowed")
        }
    }

    @Test("auth before the body (unlike the seed), then JSON, fields, empty, size, names, image, workers")
    func validationOrder() async throws {
        let app = try makeApp(try freshStore())
        try await app.test(.router) { client in
            for uri in ["/run", "/jobs"] {
                let anonymous = try await client.execute(uri: uri, method: .post, body: ByteBuffer(string: "{nope"))
                #expect(anonymous.status == .unauthorized, "\(uri)")
                let wrongKey = try await client.execute(
                    uri: uri,
                    method: .post,
                    headers: [HTTPField.Name("X-API-Key")!: "nope"],
                    body: ByteBuffer(string: "{nope")
                )
                #expect(wrongKey.status == .forbidden, "\(uri)")
                let malformed = try await client.execute(uri: uri, method: .post, headers: authorized, body: ByteBuffer(string: "{nope"))
                #expect(malformed.status == .unprocessableContent, "\(uri)")
                let issue = (json(malformed)["detail"] as? [[String: Any]])?.first
                #expect(issue?["type"] as? String == "json_invalid")
                #expect(issue?["loc"] as? [AnyHashable] == ["body", 1])
                #expect(issue?["msg"] as? String == "JSON decode error")
                #expect((issue?["ctx"] as? [String: Any])?["error"] as? String == "Expecting property name enclosed in double quotes")
            }

            func post(_ body: String) async throws -> TestResponse {
                try await client.execute(uri: "/run", method: .post, headers: authorized, body: ByteBuffer(string: body))
            }
            let fields = try await post(#"{"timeout": 0, "mem_limit": "lots", "cpus": 9, "disk_limit": "1m,mode=777"}"#)
            #expect(fields.status == .unprocessableContent)
            let locs = (json(fields)["detail"] as? [[String: Any]] ?? []).compactMap { ($0["loc"] as? [Any])?.last as? String }
            #expect(Set(locs) == ["code", "timeout", "mem_limit", "cpus", "disk_limit"])

            let reserved = try await post(#"{"code": "x", "environment": {"ENCODED_CODE": "1"}}"#)
            let reservedIssue = (json(reserved)["detail"] as? [[String: Any]])?.first
            #expect(reservedIssue?["msg"] as? String == "Value error, Environment variable 'ENCODED_CODE' is reserved and cannot be set.")

            let lax = try await post(#"{"code": "", "timeout": "3", "allow_network": "no", "cpu_shares": 256.0}"#)
            #expect(lax.status == .badRequest)
            #expect(json(lax)["detail"] as? String == "Either code or entrypoint must be provided.")

            let big = try await post(#"{"code": "\#(String(repeating: "a", count: 1_048_577))"}"#)
            #expect(big.status == .contentTooLarge)
            #expect(json(big)["detail"] as? String == "Code size exceeds the limit.")

            for name in ["../a.py", "/etc/x", "a//b", "a\\\\b", "."] {
                let bad = try await post(#"{"code": "x", "files": {"\#(name)": "1"}}"#)
                #expect(bad.status == .badRequest, "\(name)")
            }
            let dotted = try await post(#"{"code": "x", "files": {"a..b.py": "1"}, "image": "prebuilt-nothing"}"#)
            #expect(dotted.status == .notFound)
            #expect(json(dotted)["detail"] as? String == "Image 'prebuilt-nothing' not found. Create it with POST /prebuild.")

            let noWorkers = try await post(#"{"code": "print(1)"}"#)
            #expect(noWorkers.status == .serviceUnavailable)
            #expect(json(noWorkers)["detail"] as? String == "No workers available.")
        }
    }

    /// The `json_invalid` issue of a 422, or `nil`.
    func jsonInvalidReason(_ response: TestResponse) -> String? {
        guard response.status == .unprocessableContent,
            let issue = (json(response)["detail"] as? [[String: Any]])?.first, issue["type"] as? String == "json_invalid"
        else { return nil }
        return (issue["ctx"] as? [String: Any])?["error"] as? String
    }

    @Test("strict JSON: trailing commas, NaN, depth above 64 are 422 json_invalid; anonymous deep bodies are 401")
    func strictBodies() async throws {
        let app = try makeApp(try freshStore())
        try await app.test(.router) { client in
            func post(_ body: String, headers: HTTPFields? = nil) async throws -> TestResponse {
                try await client.execute(uri: "/run", method: .post, headers: headers ?? authorized, body: ByteBuffer(string: body))
            }
            #expect(jsonInvalidReason(try await post(#"{"code": "x",}"#)) == "Illegal trailing comma before end of object")
            #expect(jsonInvalidReason(try await post(#"{"code": "x", "timeout": NaN}"#)) == "Expecting value")
            #expect(jsonInvalidReason(try await post(#"{"code": "x"} {}"#)) == "Extra data")
            #expect(jsonInvalidReason(try await post(#"{"code": "\uD800"}"#)) == "Lone surrogate \\ud800 in string")

            let limit = String(repeating: "[", count: 63) + String(repeating: "]", count: 63)
            let atLimit = try await post(#"{"code": "x", "files": \#(limit)}"#)  // 64 levels: valid JSON, wrong type
            #expect(atLimit.status == .unprocessableContent)
            #expect(jsonInvalidReason(atLimit) == nil)
            let deep = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
            #expect(jsonInvalidReason(try await post(#"{"code": "x", "files": \#(deep)}"#)) == "JSON nesting deeper than 64 levels")

            let huge = String(repeating: "[", count: 1_600_000)
            let anonymous = try await post(huge, headers: [:])
            #expect(anonymous.status == .unauthorized)
            #expect(jsonInvalidReason(try await post(huge)) == "JSON nesting deeper than 64 levels")
        }
    }

    @Test("duplicate keys: the last occurrence wins")
    func duplicateKeys() async throws {
        let store = try freshStore()
        let worker = try await fakeWorker(store)
        defer { worker.cancel() }
        let app = try makeApp(store)
        try await app.test(.router) { client in
            let run = try await client.execute(
                uri: "/run",
                method: .post,
                headers: authorized,
                body: ByteBuffer(string: #"{"code":"print(1)","code":"print(22)"}"#)
            )
            #expect(run.status == .ok)
            #expect(json(run)["stdout"] as? String == "ran 9\n")
        }
    }

    @Test("a run is answered by the worker through the queue; jobs are private; cancel rules")
    func runAndJobs() async throws {
        let store = try freshStore()
        let worker = try await fakeWorker(store)
        defer { worker.cancel() }
        let app = try makeApp(store)
        try await app.test(.router) { client in
            let run = try await client.execute(
                uri: "/run",
                method: .post,
                headers: authorized,
                body: ByteBuffer(string: #"{"code": "print(1)"}"#)
            )
            #expect(run.status == .ok)
            let body = json(run)
            #expect(body["stdout"] as? String == "ran 8\n")
            #expect(body.keys.contains("metadata"))
            #expect(body["metadata"] is NSNull)
            let jobID = try #require(body["job_id"] as? String)

            let mine = try await client.execute(uri: "/jobs/\(jobID)", method: .get, headers: authorized)
            #expect(json(mine)["status"] as? String == "completed")
            let other = try await client.execute(
                uri: "/jobs/\(jobID)",
                method: .get,
                headers: [HTTPField.Name("X-API-Key")!: "other"]
            )
            #expect(other.status == .forbidden)

            let finished = try await client.execute(uri: "/jobs/\(jobID)", method: .delete, headers: authorized)
            #expect(finished.status == .conflict)
            #expect(json(finished)["detail"] as? String == "Job '\(jobID)' already finished.")

            var idempotent = authorized
            idempotent[HTTPField.Name("Idempotency-Key")!] = "k-1"
            let first = try await client.execute(uri: "/jobs", method: .post, headers: idempotent, body: ByteBuffer(string: #"{"code": "a"}"#))
            #expect(first.status == .accepted)
            #expect(first.headers[.location] == "/jobs/\(json(first)["job_id"] as? String ?? "")")
            let repeatSame = try await client.execute(uri: "/jobs", method: .post, headers: idempotent, body: ByteBuffer(string: #"{"code": "a"}"#))
            #expect(repeatSame.status == .ok)
            #expect(json(repeatSame)["job_id"] as? String == json(first)["job_id"] as? String)
            let conflict = try await client.execute(uri: "/jobs", method: .post, headers: idempotent, body: ByteBuffer(string: #"{"code": "b"}"#))
            #expect(conflict.status == .conflict)

            let list = try await client.execute(uri: "/jobs?limit=1", method: .get, headers: authorized)
            #expect((json(list)["jobs"] as? [Any])?.count == 1)
            let badLimit = try await client.execute(uri: "/jobs?limit=0", method: .get, headers: authorized)
            #expect(badLimit.status == .unprocessableContent)
        }
    }

    @Test("waiters registered before and after completion are both woken")
    func waitersBeforeAndAfterCompletion() async throws {
        let store = try freshStore()
        let waiters = CompletionWaiters(store: store)
        let watcher = Task { for await _ in store.changes() { await waiters.check() } }
        defer { watcher.cancel() }
        guard case .created(let early) = try await store.enqueue(NewJob(kind: .run, owner: "", payload: Data()), maxQueueDepth: nil),
            case .created(let late) = try await store.enqueue(NewJob(kind: .run, owner: "", payload: Data()), maxQueueDepth: nil)
        else { throw CancellationError() }

        // Registered before: wait, then complete from another connection.
        async let woken = waiters.wait(for: early.id, timeout: .seconds(30))
        let other = try SQLiteJobStore(path: try #require(storePath(of: store)))
        let claimed = try await other.claim(worker: "w", limit: 2, leaseSeconds: 30)
        for job in claimed { _ = try await other.complete(job.lease, result: Data("{}".utf8)) }
        #expect(await woken?.state == .completed)

        // Registered after completion: answered at once by the initial check.
        let started = ContinuousClock.now
        #expect(await waiters.wait(for: late.id, timeout: .seconds(30))?.state == .completed)
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    private func storePath(of store: SQLiteJobStore) -> String? { store.path }
}

struct MetricsRouteTests {
    @Test("GET /metrics: request metrics, then queue, workers, pool, clean-up and the workers' run figures from the database")
    func metrics() async throws {
        let routes = APIRouteTests()
        let store = try routes.freshStore()
        try await store.recordCleanup(CleanupReport(removedJobs: 3, removedContainers: 1, removedImages: 2))
        _ = try await store.heartbeat(
            WorkerStatus(id: "w", pid: 1, host: "h", slots: 4, busy: 1, dockerConnected: true, poolReady: 3),
            holding: [],
            leaseSeconds: 60
        )
        try await store.addMetricSamples([
            MetricSample(family: "code_runner_runs_total", labels: #"outcome="ok",runtime="python""#, value: 2),
            MetricSample(family: "code_runner_queue_wait_seconds", labels: #"runtime="python""#, suffix: "_bucket", bound: 0.005, value: 2),
            MetricSample(family: "code_runner_queue_wait_seconds", labels: #"runtime="python""#, suffix: "_bucket", bound: .infinity, value: 2),
            MetricSample(family: "code_runner_queue_wait_seconds", labels: #"runtime="python""#, suffix: "_count", value: 2),
        ])
        // Increments add up.
        try await store.addMetricSamples([MetricSample(family: "code_runner_runs_total", labels: #"outcome="ok",runtime="python""#, value: 1)])
        let app = try routes.makeApp(store)
        try await app.test(.router) { client in
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .unauthorized)
            let response = try await client.execute(uri: "/metrics", method: .get, headers: routes.authorized)
            let text = String(buffer: response.body)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            #expect(text.contains("code_runner_worker_slots{state=\"total\"} 4\n"))
            #expect(text.contains("code_runner_worker_slots{state=\"busy\"} 1\n"))
            #expect(text.contains("code_runner_pool_ready_containers 3\n"))
            #expect(text.contains("code_runner_queue_depth 0\n"))
            #expect(text.contains("code_runner_last_cleanup_removed{kind=\"jobs\"} 3\n"))
            #expect(text.contains("code_runner_last_cleanup_removed{kind=\"images\"} 2\n"))
            #expect(text.contains("# TYPE code_runner_last_cleanup_timestamp_seconds gauge"))
            #expect(text.contains("# TYPE code_runner_runs_total counter\ncode_runner_runs_total{outcome=\"ok\",runtime=\"python\"} 3\n"))
            #expect(
                text.contains(
                    "code_runner_queue_wait_seconds_bucket{runtime=\"python\",le=\"0.005\"} 2\n"
                        + "code_runner_queue_wait_seconds_bucket{runtime=\"python\",le=\"+Inf\"} 2\n"
                        + "code_runner_queue_wait_seconds_count{runtime=\"python\"} 2\n"
                )
            )
            // Families without samples yet are still declared, so dashboards find them.
            #expect(text.contains("# TYPE code_runner_prebuild_builds_total counter"))
            // The first request (401) was counted by route and status.
            #expect(text.contains(#"code_runner_http_requests_total{route="/metrics",method="GET",status="401"}"#))
            #expect(text.contains("# TYPE code_runner_http_request_duration_seconds histogram"))
        }
    }
}
