import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Queue
import Testing

@testable import API

/// `/prebuild` and `/prebuilds` through the real router: seed strings, records, age clean-up.
struct PrebuildRouteTests {
    let routes = APIRouteTests()

    /// The owner fingerprint the API gives an API key.
    static func owner(_ key: String) -> String { "key:" + SHA256.hexDigest(Array(key.utf8)) }

    /// A worker that completes build jobs successfully (or fails scripts containing `exit`).
    func fakeBuilder(_ store: SQLiteJobStore) async throws -> Task<Void, Never> {
        _ = try await store.heartbeat(
            WorkerStatus(id: "builder", pid: 1, host: "t", slots: 2, dockerConnected: true, images: ["code-runner-python"]),
            holding: [],
            leaseSeconds: 60
        )
        return Task {
            for await _ in store.changes() {
                for job in (try? await store.claim(worker: "builder", limit: 2, leaseSeconds: 60)) ?? [] {
                    guard let request = try? JSONDecoder().decode(PrebuildPayload.self, from: job.job.payload) else { continue }
                    let ok = !request.setupScript.contains("exit")
                    let outcome = PrebuildOutcome(
                        succeeded: ok,
                        log: ok ? "Step 1/3 : FROM x\n" : "about to fail\n",
                        sizeBytes: ok ? 1000 : 0,
                        layerSizeBytes: ok ? 10 : 0,
                        labels: ok ? ["qm.main_file": "main.py", "qm.language": "python"] : nil
                    )
                    if request.action == .build { try? await store.finishPrebuild(request.key, outcome: outcome) }
                    _ = try? await store.complete(job.lease, result: JSONEncoder().encode(outcome))
                }
            }
        }
    }

    @Test("validation strings, build, list, show, run lookup, failing script, delete and age clean-up")
    func prebuildFlow() async throws {
        let store = try routes.freshStore()
        let worker = try await fakeBuilder(store)
        defer { worker.cancel() }
        let app = try routes.makeApp(store)
        let headers = routes.authorized
        try await app.test(.router) { client in
            func post(_ uri: String, _ body: String) async throws -> TestResponse {
                try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body))
            }
            func message(_ response: TestResponse) -> String? {
                ((routes.json(response)["detail"] as? [[String: Any]])?.first?["msg"] as? String)
                    ?? routes.json(response)["detail"] as? String
            }
            #expect(message(try await post("/prebuild", #"{"tag": "  ", "setup_script": "x"}"#)) == "Value error, Tag cannot be empty.")
            #expect(
                message(try await post("/prebuild", #"{"tag": "a b", "setup_script": "x"}"#))
                    == "Value error, Tag must contain only alphanumeric characters, hyphens, underscores, or dots."
            )
            #expect(
                message(try await post("/prebuild", #"{"tag": "ok", "base_image": "cobol", "setup_script": "x"}"#))
                    == "Value error, Unsupported base image 'cobol'. Supported: python, node, bun, go, deno, rust"
            )
            let nul = try await post("/prebuild", #"{"tag": "ok", "setup_script": "echo a\u0000b"}"#)
            #expect(nul.status == .unprocessableContent)
            #expect(message(nul) == "Value error, Setup script contains a NUL character.")
            #expect(
                ((routes.json(nul)["detail"] as? [[String: Any]])?.first?["loc"] as? [String]) == ["body", "setup_script"]
            )
            let nulSpec = try await post(
                "/run",
                #"{"code": "print(1)", "image": "tools", "prebuild_spec": {"base_image": "python", "setup_script": "a\u0000"}}"#
            )
            #expect(nulSpec.status == .unprocessableContent)
            #expect(
                ((routes.json(nulSpec)["detail"] as? [[String: Any]])?.first?["loc"] as? [String])
                    == ["body", "prebuild_spec", "setup_script"]
            )
            let anonymous = try await client.execute(uri: "/prebuilds", method: .get)
            #expect(anonymous.status == .unauthorized)

            let built = try await post(
                "/prebuild",
                #"{"tag": "prebuilt-mytools", "base_image": "code-runner-python", "setup_script": "pip install six"}"#
            )
            #expect(built.status == .ok)
            #expect(routes.json(built)["tag"] as? String == "prebuilt-mytools")
            #expect(routes.json(built)["base_image"] as? String == "code-runner-python")
            #expect(routes.json(built)["status"] as? String == "ready")

            let failed = try await post("/prebuild", #"{"tag": "broken", "setup_script": "exit 3"}"#)
            #expect(failed.status == .badRequest)
            #expect(message(failed) == "Build failed: about to fail\n")

            let shown = try await client.execute(uri: "/prebuilds/mytools", method: .get, headers: headers)
            #expect(routes.json(shown)["status"] as? String == "ready")
            #expect(routes.json(shown)["build_log"] as? String == "Step 1/3 : FROM x\n")
            // the image's own labels, inherited from the runtime as the original shows them, and ours
            #expect(
                routes.json(shown)["labels"] as? [String: String] == [
                    "qm.main_file": "main.py", "qm.language": "python",
                    "code-runner.prebuilt": "mytools", "code-runner.base": "code-runner-python",
                ]
            )
            let listed = try await client.execute(uri: "/prebuilds", method: .get, headers: headers)
            #expect((routes.json(listed)["prebuilds"] as? [[String: Any]])?.count == 2)

            let unknown = try await client.execute(uri: "/prebuilds/nothing", method: .get, headers: headers)
            #expect(unknown.status == .notFound)
            #expect(message(unknown) == "Prebuilt image 'prebuilt-nothing' not found.")
            let cleanupByGet = try await client.execute(uri: "/prebuilds/cleanup", method: .get, headers: headers)
            #expect(cleanupByGet.status == .methodNotAllowed)
            #expect(try await post("/prebuilds/cleanup?max_age_days=-1", "").status == .unprocessableContent)

            let deleted = try await client.execute(uri: "/prebuilds/prebuilt-broken", method: .delete, headers: headers)
            #expect(routes.json(deleted)["status"] as? String == "deleted")
            let cleaned = try await post("/prebuilds/cleanup?max_age_days=0", "")
            #expect(routes.json(cleaned)["removed"] as? [String] == ["prebuilt-mytools"])
            #expect(routes.json(cleaned)["count"] as? Int == 1)
            #expect(try await store.prebuilds(owner: Self.owner(APIRouteTests.key)).isEmpty)
        }
    }
}
