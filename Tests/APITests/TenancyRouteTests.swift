import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Queue
import Testing

@testable import API

/// Named keys through the real router (issue 19): each key's ceilings on a request, its
/// quotas' 429s, `priority`, the Bearer header, `/health` and `/metrics` by key name.
struct TenancyRouteTests {
    let routes = APIRouteTests()

    /// A keys file with `limited` (every ceiling) and `open` (network allowed, priority 5).
    func keysFile() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tenancy-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("keys.json").path
        let text = """
            {"keys": [
              {"name": "limited", "key": "limited-secret", "max_queued": 2, "runs_per_minute": 3, "max_timeout": 5,
               "max_memory_mb": 128, "max_cpus": 0.5, "max_running": 1},
              {"name": "open", "key": "open-secret", "allow_network": true, "priority": 5},
              {"name": "metered", "key": "metered-secret", "runs_per_minute": 2}
            ]}
            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func key(_ secret: String) -> HTTPFields { [HTTPField.Name("X-API-Key")!: secret] }

    func issues(_ response: TestResponse) -> [(loc: [String], msg: String)] {
        ((routes.json(response)["detail"] as? [[String: Any]]) ?? []).map { issue in
            (((issue["loc"] as? [Any]) ?? []).map { "\($0)" }, issue["msg"] as? String ?? "")
        }
    }

    @Test("a key's ceilings are 422s at the field; its defaults are lowered; priority is bounded by the key's")
    func ceilings() async throws {
        let store = try routes.freshStore()
        let app = try routes.makeApp(store, variables: ["API_KEYS_FILE": try keysFile(), "CODE_RUNNER_API_KEYS": ""])
        try await app.test(.router) { client in
            func submit(_ secret: String, _ body: String) async throws -> TestResponse {
                try await client.execute(uri: "/jobs", method: .post, headers: key(secret), body: ByteBuffer(string: body))
            }
            let cases: [(String, [String], String)] = [
                (#"{"code": "1", "timeout": 6}"#, ["body", "timeout"], "Input should be less than or equal to 5 (this API key's max_timeout)"),
                (
                    #"{"code": "1", "mem_limit": "256m"}"#, ["body", "mem_limit"],
                    "Input should be less than or equal to 128m (this API key's max_memory_mb)"
                ),
                (#"{"code": "1", "cpus": 1}"#, ["body", "cpus"], "Input should be less than or equal to 0.5 (this API key's max_cpus)"),
                (
                    #"{"code": "1", "allow_network": true}"#, ["body", "allow_network"],
                    "Value error, This API key may not use the network (allow_network is false in API_KEYS_FILE)."
                ),
                (#"{"code": "1", "priority": 2}"#, ["body", "priority"], "Input should be less than or equal to 1 (this API key's priority)"),
            ]
            for (body, loc, msg) in cases {
                let response = try await submit("limited-secret", body)
                #expect(response.status == .unprocessableContent, "\(body)")
                let found = issues(response)
                #expect(found.count == 1 && found.first?.loc == loc && found.first?.msg == msg, "\(body): \(found)")
            }
            // Not a number: the field's own type error, at the field.
            let typed = issues(try await submit("open-secret", #"{"code": "1", "priority": "high"}"#))
            #expect(typed.count == 1 && typed.first?.loc == ["body", "priority"], "\(typed)")
            // The deployment's own bound comes first, and stays its own message.
            #expect(
                issues(try await submit("open-secret", #"{"code": "1", "priority": 11}"#)).first?.msg == "Input should be less than or equal to 10"
            )

            // Within the ceilings: stored with the key's maxima as defaults and its priority.
            let accepted = try await submit("limited-secret", #"{"code": "1", "priority": 0}"#)
            #expect(accepted.status == .accepted)
            let id = try #require(routes.json(accepted)["job_id"] as? String)
            let owner = "key:" + SHA256.hexDigest(Array("limited-secret".utf8))
            let job = try #require(try await store.job(publicID: id, owner: owner))
            let payload = try JSONDecoder().decode(RunPayload.self, from: job.payload)
            #expect(payload.timeoutSeconds == 5 && payload.memoryBytes == 128 * ByteSize.mebibyte && payload.nanoCPUs == 500_000_000)
            #expect(job.priority == 0)
            let shown = try await client.execute(uri: "/jobs/\(id)", method: .get, headers: key("limited-secret"))
            #expect(routes.json(shown)["priority"] as? Int == 0)

            // Another key's limits are its own: networked, priority 5 by default.
            let open = try await submit("open-secret", #"{"code": "1", "allow_network": true}"#)
            #expect(open.status == .accepted)
            let openID = try #require(routes.json(open)["job_id"] as? String)
            let openJob = try await store.job(publicID: openID, owner: "key:" + SHA256.hexDigest(Array("open-secret".utf8)))
            #expect(openJob?.priority == 5)
            // GET /jobs stays private per key.
            let listed = try await client.execute(uri: "/jobs", method: .get, headers: key("open-secret"))
            #expect(((routes.json(listed)["jobs"] as? [[String: Any]]) ?? []).compactMap { $0["job_id"] as? String } == [openID])
        }
    }

    @Test("max_queued and runs_per_minute answer 429 with Retry-After and name the limit; metrics count them by key name")
    func quotas() async throws {
        let store = try routes.freshStore()
        let app = try routes.makeApp(store, variables: ["API_KEYS_FILE": try keysFile()])
        try await app.test(.router) { client in
            func submit(_ secret: String) async throws -> TestResponse {
                try await client.execute(uri: "/jobs", method: .post, headers: key(secret), body: ByteBuffer(string: #"{"code": "1"}"#))
            }
            #expect(try await submit("limited-secret").status == .accepted)
            #expect(try await submit("limited-secret").status == .accepted)
            let full = try await submit("limited-secret")
            #expect(full.status == .tooManyRequests)
            #expect(full.headers[.retryAfter] == "5")
            #expect(routes.json(full)["detail"] as? String == "API key 'limited' has 2 jobs queued (max_queued 2); retry later.")
            // Another key is not held back.
            #expect(try await submit("open-secret").status == .accepted)

            #expect(try await submit("metered-secret").status == .accepted)
            #expect(try await submit("metered-secret").status == .accepted)
            let limited = try await submit("metered-secret")
            #expect(limited.status == .tooManyRequests)
            let retry = try #require(limited.headers[.retryAfter].flatMap { Int($0) })
            #expect((55...60).contains(retry))
            #expect(routes.json(limited)["detail"] as? String == "API key 'metered' reached runs_per_minute (2); retry in \(retry) s.")

            // The API writes its keys' caps for the claims (`TenantSync`): the limited key runs one job at a time.
            try await waitForTenants(store, count: 4)
            let claimed = try await store.claim(worker: "w", limit: 8, leaseSeconds: 30)
            #expect(claimed.filter { $0.job.owner == "key:" + SHA256.hexDigest(Array("limited-secret".utf8)) }.count == 1)
            #expect(claimed.count == 4)

            // A file key is also a bearer token.
            let bearer = try await client.execute(
                uri: "/jobs",
                method: .get,
                headers: [.authorization: "Bearer open-secret"]
            )
            #expect(bearer.status == .ok)
            #expect(try await client.execute(uri: "/jobs", method: .get, headers: key("wrong")).status == .forbidden)

            let health = routes.json(try await client.execute(uri: "/health", method: .get))
            let keys = try #require(health["api_keys"] as? [String: Any])
            #expect(keys["source"] as? String == "file" && keys["keys"] as? Int == 4 && keys["error"] is NSNull)

            let metrics = try await client.execute(uri: "/metrics", method: .get, headers: key("open-secret"))
            let text = String(buffer: metrics.body)
            #expect(text.contains(#"code_runner_key_runs_total{key="limited"} "#))
            #expect(text.contains(#"code_runner_key_rejections_total{key="limited",limit="max_queued"}"#))
            #expect(text.contains(#"code_runner_key_rejections_total{key="metered",limit="runs_per_minute"}"#))
            #expect(text.contains(#"code_runner_key_running_jobs{key="limited"} 1"#))
            #expect(text.contains(#"code_runner_key_queued_jobs{key="limited"} 1"#))
            #expect(text.contains(#"code_runner_key_queued_jobs{key="open"} 0"#))
            #expect(!text.contains("limited-secret") && !text.contains(SHA256.hexDigest(Array("limited-secret".utf8))))
        }
    }

    /// Waits until the API's `TenantSync` has written `count` keys (every write wakes `changes()`).
    func waitForTenants(_ store: any JobStore, count: Int) async throws {
        let changes = store.changes()
        if try await store.tenants().count == count { return }
        for await _ in changes where try await store.tenants().count == count { return }
    }
}
