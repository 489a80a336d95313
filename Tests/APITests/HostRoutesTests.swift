import Foundation
import Hummingbird
import HummingbirdTesting
import Queue
import Testing

@testable import API

/// Live workers by host (`WORKER_HOST`, issue 16, item 4): `/health` lists them, `/metrics`
/// labels them, from what each worker's heartbeat records.
struct HostRoutesTests {
    let routes = APIRouteTests()

    func worker(_ id: String, host: String, slots: Int, busy: Int, connected: Bool = true) -> WorkerStatus {
        WorkerStatus(id: id, pid: 1, host: host, slots: slots, busy: busy, dockerConnected: connected)
    }

    func seeded() async throws -> SQLiteJobStore {
        let store = try routes.freshStore()
        for status in [
            worker("a1", host: "host-a", slots: 2, busy: 1), worker("a2", host: "host-a", slots: 4, busy: 0, connected: false),
            worker("b1", host: "host-b", slots: 3, busy: 3),
        ] {
            _ = try await store.heartbeat(status, holding: [], leaseSeconds: 60)
        }
        return store
    }

    @Test("/health: one entry per host, sorted, with its workers, slots, busy slots and engine-connected workers")
    func health() async throws {
        let app = try routes.makeApp(try await seeded())
        try await app.test(.router) { client in
            let health = routes.json(try await client.execute(uri: "/health", method: .get))
            #expect(health["workers"] as? Int == 3)
            let hosts = try #require(health["hosts"] as? [[String: Any]])
            #expect(hosts.map { $0["host"] as? String } == ["host-a", "host-b"])
            #expect(hosts.map { $0["workers"] as? Int } == [2, 1])
            #expect(hosts.map { $0["slots"] as? Int } == [6, 3])
            #expect(hosts.map { $0["busy"] as? Int } == [1, 3])
            #expect(hosts.map { $0["docker_connected"] as? Int } == [1, 1])
        }
    }

    @Test("/health without workers: an empty list")
    func healthWithoutWorkers() async throws {
        let app = try routes.makeApp(try routes.freshStore())
        try await app.test(.router) { client in
            let health = routes.json(try await client.execute(uri: "/health", method: .get))
            #expect((health["hosts"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("/metrics: workers and slots by host")
    func metrics() async throws {
        let app = try routes.makeApp(try await seeded())
        try await app.test(.router) { client in
            let text = String(buffer: try await client.execute(uri: "/metrics", method: .get, headers: routes.authorized).body)
            for line in [
                #"code_runner_host_workers{host="host-a"} 2"#, #"code_runner_host_workers{host="host-b"} 1"#,
                #"code_runner_host_slots{host="host-a",state="total"} 6"#, #"code_runner_host_slots{host="host-a",state="busy"} 1"#,
                #"code_runner_host_slots{host="host-b",state="busy"} 3"#, "code_runner_workers 3",
            ] {
                #expect(text.split(separator: "\n").contains(Substring(line)), "\(line)")
            }
        }
    }
}
