import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Queue
import Testing

@testable import API

/// Limits a tenant could get around before (issue 22): the environment counted in the payload
/// limit and held to what `exec` takes, and `/metrics` behind its own token.
struct RequestLimitTests {
    let routes = APIRouteTests()

    func environmentBody(_ variables: [String: String]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: ["code": "print(1)", "environment": variables]), as: UTF8.self)
    }

    @Test("environment: counted in the 1 MiB payload, at most 256 variables, each NAME=value within MAX_ARG_STRLEN")
    func environmentLimits() async throws {
        let store = try routes.freshStore()
        let worker = try await routes.fakeWorker(store)
        defer { worker.cancel() }
        let app = try routes.makeApp(store)
        try await app.test(.router) { client in
            func post(_ body: String) async throws -> TestResponse {
                try await client.execute(uri: "/run", method: .post, headers: routes.authorized, body: ByteBuffer(string: body))
            }
            func issue(_ response: TestResponse) -> [String: Any]? {
                (routes.json(response)["detail"] as? [[String: Any]])?.first
            }
            // 9 values of 120 KiB: each fits exec, together over 1 MiB of payload.
            let wide = Dictionary(uniqueKeysWithValues: (0..<9).map { ("V\($0)", String(repeating: "x", count: 120 * 1024)) })
            let tooMuch = try await post(try environmentBody(wide))
            #expect(tooMuch.status == .contentTooLarge)
            #expect(routes.json(tooMuch)["detail"] as? String == "Code size exceeds the limit.")

            let many = Dictionary(uniqueKeysWithValues: (0..<257).map { ("V\($0)", "1") })
            let tooMany = try await post(try environmentBody(many))
            #expect(tooMany.status == .unprocessableContent)
            #expect(issue(tooMany)?["loc"] as? [String] == ["body", "environment"])
            #expect((issue(tooMany)?["msg"] as? String)?.contains("At most 256 environment variables") == true)
            let enough = Dictionary(uniqueKeysWithValues: (0..<256).map { ("V\($0)", "1") })
            #expect(try await post(try environmentBody(enough)).status == .ok)

            // "LONG=" + value + NUL: 131,072 bytes is one too many, 131,071 fits.
            let limit = RunRequest.maxEnvironmentEntryBytes
            let long = try await post(try environmentBody(["LONG": String(repeating: "y", count: limit - 6 + 1)]))
            #expect(long.status == .unprocessableContent)
            #expect(issue(long)?["loc"] as? [String] == ["body", "environment"])
            #expect((issue(long)?["msg"] as? String)?.contains("Environment variable 'LONG' is too long") == true)
            #expect(try await post(try environmentBody(["LONG": String(repeating: "y", count: limit - 6)])).status == .ok)
        }
    }

    @Test("METRICS_TOKEN: only that bearer token reads /metrics; API keys are refused; unset, keys work")
    func metricsToken() async throws {
        let store = try routes.freshStore()
        let guarded = try routes.makeApp(store, variables: ["METRICS_TOKEN": "scrape-secret"])
        try await guarded.test(.router) { client in
            let withKey = try await client.execute(uri: "/metrics", method: .get, headers: routes.authorized)
            #expect(withKey.status == .unauthorized)
            #expect(routes.json(withKey)["detail"] as? String == MetricsRoutes.missingToken)
            let wrong = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer nope"])
            #expect(wrong.status == .forbidden)
            let right = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer scrape-secret"])
            #expect(right.status == .ok)
            #expect(String(buffer: right.body).contains("code_runner_queue_depth"))
        }
        let unguarded = try routes.makeApp(store)
        try await unguarded.test(.router) { client in
            let withKey = try await client.execute(uri: "/metrics", method: .get, headers: routes.authorized)
            let anonymous = try await client.execute(uri: "/metrics", method: .get)
            #expect(withKey.status == .ok)
            #expect(anonymous.status == .unauthorized)
        }
    }
}
