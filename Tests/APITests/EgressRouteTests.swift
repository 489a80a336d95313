import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Queue
import Testing

@testable import API

/// Networked runs start only where the egress policy is in force (issue 15): the API reads what
/// the workers report, refuses networked runs and prebuilds with a 503 naming the reason when no
/// worker can enforce it, and `/health` says so.
struct EgressRouteTests {
    let routes = APIRouteTests()

    func worker(_ id: String, egressProblem: String?) -> WorkerStatus {
        WorkerStatus(
            id: id,
            pid: 1,
            host: "test",
            slots: 2,
            dockerConnected: true,
            engineVersion: "test",
            images: ["code-runner-python"],
            egressProblem: egressProblem
        )
    }

    @Test("no worker can install the policy: networked and allowlisted runs and prebuilds are a 503 with the reason; others still run")
    func refusedWithoutPolicy() async throws {
        let store = try routes.freshStore()
        _ = try await store.heartbeat(worker("w1", egressProblem: "iptables was not found"), holding: [], leaseSeconds: 60)
        let app = try routes.makeApp(store)
        try await app.test(.router) { client in
            let bodies = [
                #"{"code": "print(1)", "allow_network": true}"#, #"{"code": "print(1)", "allow_network": "yes"}"#,
                // an allowlist is a networked run, with or without allow_network
                #"{"code": "print(1)", "allowed_hosts": ["pypi.org"]}"#,
                #"{"code": "print(1)", "allowed_hosts": ["pypi.org"], "allow_network": true}"#,
            ]
            for body in bodies {
                for uri in ["/run", "/jobs"] {
                    let refused = try await client.execute(uri: uri, method: .post, headers: routes.authorized, body: ByteBuffer(string: body))
                    #expect(refused.status == .serviceUnavailable, "\(uri) \(body)")
                    #expect(routes.json(refused)["detail"] as? String == "Networked runs are unavailable: iptables was not found")
                }
            }
            let offline = try await client.execute(
                uri: "/jobs",
                method: .post,
                headers: routes.authorized,
                body: ByteBuffer(string: #"{"code": "print(1)"}"#)
            )
            #expect(offline.status == .accepted)
            let prebuild = try await client.execute(
                uri: "/prebuild",
                method: .post,
                headers: routes.authorized,
                body: ByteBuffer(string: #"{"tag": "tools", "base_image": "python", "setup_script": "true"}"#)
            )
            #expect(prebuild.status == .serviceUnavailable)
            #expect(routes.json(prebuild)["detail"] as? String == "Prebuilt images are unavailable: iptables was not found")
            let health = routes.json(try await client.execute(uri: "/health", method: .get))
            #expect(health["egress"] as? String == "unavailable")
            #expect(health["egress_problem"] as? String == "iptables was not found")
        }
    }

    @Test("one worker with the policy in force is enough; /health says enforced, then unknown without workers")
    func enforcedByOne() async throws {
        let store = try routes.freshStore()
        _ = try await store.heartbeat(worker("w1", egressProblem: "iptables was not found"), holding: [], leaseSeconds: 60)
        _ = try await store.heartbeat(worker("w2", egressProblem: nil), holding: [], leaseSeconds: 60)
        let app = try routes.makeApp(store)
        try await app.test(.router) { client in
            let networked = try await client.execute(
                uri: "/jobs",
                method: .post,
                headers: routes.authorized,
                body: ByteBuffer(string: #"{"code": "print(1)", "allow_network": true}"#)
            )
            #expect(networked.status == .accepted)
            let allowlisted = try await client.execute(
                uri: "/jobs",
                method: .post,
                headers: routes.authorized,
                body: ByteBuffer(string: #"{"code": "print(1)", "allowed_hosts": ["pypi.org"]}"#)
            )
            #expect(allowlisted.status == .accepted)
            let health = routes.json(try await client.execute(uri: "/health", method: .get))
            #expect(health["egress"] as? String == "enforced")
            #expect(health["egress_problem"] is NSNull)
        }
        let empty = try routes.makeApp(try routes.freshStore())
        try await empty.test(.router) { client in
            let health = routes.json(try await client.execute(uri: "/health", method: .get))
            #expect(health["egress"] as? String == "unknown")
        }
    }
}
