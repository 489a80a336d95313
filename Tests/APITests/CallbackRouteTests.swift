import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Queue
import Testing

@testable import API

/// `callback_url` on `POST /run` and `POST /jobs`: stored with the job and shown as its
/// `callback`, and a 422 at the field for every URL the service will not call. Deliveries
/// themselves are in `Tests/hostile/test_webhooks.py`.
struct CallbackRouteTests {
    let routes = APIRouteTests()
    let hosts = AllowedHostsRouteTests()
    static let on = ["WEBHOOK_SECRET": "s3cret", "WEBHOOK_ALLOW_CIDRS": "127.0.0.0/8"]

    @Test("an allowed URL is stored with the job, and the job shows a pending callback")
    func stored() async throws {
        let store = try routes.freshStore()
        let app = try routes.makeApp(store, variables: Self.on)
        try await app.test(.router) { client in
            let body = #"{"code": "print(1)", "callback_url": "http://127.0.0.1:8123/hook?x=1"}"#
            let submitted = try await client.execute(uri: "/jobs", method: .post, headers: routes.authorized, body: ByteBuffer(string: body))
            #expect(submitted.status == .accepted)
            let id = try #require(routes.json(submitted)["job_id"] as? String)
            let shown = routes.json(try await client.execute(uri: "/jobs/\(id)", method: .get, headers: routes.authorized))
            let callback = try #require(shown["callback"] as? [String: Any])
            #expect(callback["url"] as? String == "http://127.0.0.1:8123/hook?x=1")
            #expect(callback["status"] as? String == "pending")
            #expect(callback["attempts"] as? Int == 0)
            #expect(callback.keys.contains("last_error") && callback["last_error"] is NSNull)

            let plain = try await client.execute(uri: "/jobs", method: .post, headers: routes.authorized, body: ByteBuffer(string: #"{"code": "1"}"#))
            let plainID = try #require(routes.json(plain)["job_id"] as? String)
            let plainShown = routes.json(try await client.execute(uri: "/jobs/\(plainID)", method: .get, headers: routes.authorized))
            #expect(plainShown.keys.contains("callback") && plainShown["callback"] is NSNull)
        }
    }

    @Test("the same Idempotency-Key with another callback URL is a conflict, not a repeat")
    func idempotencyCountsTheCallback() async throws {
        let store = try routes.freshStore()
        let app = try routes.makeApp(store, variables: Self.on)
        try await app.test(.router) { client in
            var headers = routes.authorized
            headers[HTTPField.Name("Idempotency-Key")!] = "k1"
            let first = #"{"code": "1", "callback_url": "http://127.0.0.1:1/a"}"#
            let second = #"{"code": "1", "callback_url": "http://127.0.0.1:1/b"}"#
            var statuses: [HTTPResponse.Status] = []
            for body in [first, first, second] {
                statuses.append(try await client.execute(uri: "/jobs", method: .post, headers: headers, body: ByteBuffer(string: body)).status)
            }
            #expect(statuses == [.accepted, .ok, .conflict])
        }
    }

    @Test(
        "each URL the service will not call is one 422 at callback_url, saying why",
        arguments: [
            ("http://127.0.0.1:9/hook", [String: String](), "WEBHOOK_SECRET"),  // webhooks off
            ("ftp://127.0.0.1/hook", CallbackRouteTests.on, "http or https"),
            ("http:///nohost", CallbackRouteTests.on, "callback_url"),
            ("http://user:pw@127.0.0.1/", CallbackRouteTests.on, "user name or password"),
            ("http://127.0.0.1/#frag", CallbackRouteTests.on, "fragment"),
            ("http://10.0.0.7/hook", CallbackRouteTests.on, "private"),
            ("http://169.254.169.254/latest/meta-data", CallbackRouteTests.on, "link-local"),
            ("http://[::1]:80/", CallbackRouteTests.on, "loopback"),
            ("http://localhost:8000/", ["WEBHOOK_SECRET": "s"], "resolves to 127.0.0.1"),  // by name, no allow-list
            ("http://0x7f000001/", ["WEBHOOK_SECRET": "s"], "loopback"),
            ("http://no-such-host.invalid/", CallbackRouteTests.on, "does not resolve"),
            ("https://example.org/" + String(repeating: "a", count: 2048), CallbackRouteTests.on, "2048"),
        ] as [(String, [String: String], String)]
    )
    func refused(url: String, variables: [String: String], reason: String) async throws {
        let body = try String(decoding: JSONSerialization.data(withJSONObject: ["code": "print(1)", "callback_url": url]), as: UTF8.self)
        let issue = try await hosts.onlyIssue(body, variables: variables)
        #expect(issue?.0 == ["body", "callback_url"], "\(url): \(String(describing: issue))")
        #expect(issue?.2.contains(reason) == true, "\(url): \(String(describing: issue?.2))")
    }

    @Test("a non-string callback_url is a 422 at the field; null is no callback")
    func types() async throws {
        let issue = try await hosts.onlyIssue(#"{"code": "1", "callback_url": 5}"#, variables: Self.on)
        #expect(issue?.0 == ["body", "callback_url"])
        let store = try routes.freshStore()
        let app = try routes.makeApp(store, variables: Self.on)
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/jobs",
                method: .post,
                headers: routes.authorized,
                body: ByteBuffer(string: #"{"code": "1", "callback_url": null}"#)
            )
            #expect(response.status == .accepted)
        }
    }

    @Test("WEBHOOK_ALLOW_CIDRS that does not parse stops the start with the setting named")
    func badSetting() throws {
        #expect(throws: (any Error).self) {
            try ServiceSettings(variables: ["WEBHOOK_ALLOW_CIDRS": "10.0.0.1/8"])
        }
        do {
            _ = try ServiceSettings(variables: ["WEBHOOK_ALLOW_CIDRS": "10.0.0.1/8"])
        } catch {
            #expect("\(error)".contains("WEBHOOK_ALLOW_CIDRS"))
        }
    }
}
