import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Queue
import Testing

@testable import API

/// What `/jobs` stores for a request, against `RunPayload.defaults` (the workers' warm-pool
/// template is made from the same function): if the two drifted, the pool would silently stop
/// being used (issue 13, item 2). And the environment names the entrypoint keeps for itself.
struct RunDefaultsRouteTests {
    let routes = APIRouteTests()

    func submit(
        _ body: String,
        to store: SQLiteJobStore,
        variables: [String: String] = [:]
    ) async throws -> (HTTPResponse.Status, [String: Any], RunPayload?) {
        let app = try routes.makeApp(store, variables: variables)
        let (status, bytes) = try await app.test(.router) { client in
            let response = try await client.execute(uri: "/jobs", method: .post, headers: routes.authorized, body: ByteBuffer(string: body))
            return (response.status, Data(response.body.readableBytesView))
        }
        let json = (try? JSONSerialization.jsonObject(with: bytes) as? [String: Any]) ?? [:]
        var payload: RunPayload?
        if let id = json["job_id"] as? String,
            let job = try await store.job(publicID: id, owner: "key:" + SHA256.hexDigest(Array(APIRouteTests.key.utf8)))
        {
            payload = try JSONDecoder().decode(RunPayload.self, from: job.payload)
        }
        return (status, json, payload)
    }

    @Test(
        "a request that gives only code is stored as the defaults plus its code",
        arguments: [
            [:], ["DEFAULT_MEMORY": "300m", "DEFAULT_CPUS": "0.5", "DEFAULT_TIMEOUT": "7", "MAX_MEMORY_MB": "1024"],
        ]
    )
    func onlyCode(variables: [String: String]) async throws {
        let store = try routes.freshStore()
        let (status, _, stored) = try await submit(#"{"code": "print(1)"}"#, to: store, variables: variables)
        #expect(status == .accepted)
        var all = ["CODE_RUNNER_API_KEYS": APIRouteTests.key, "RUNTIME_DIR": "runtimes", "RUN_WAIT_SLACK": "5"]
        all.merge(variables) { $1 }
        let settings = try ServiceSettings(variables: all)
        let catalog = RuntimeCatalog.load(from: "runtimes", logger: Logger(label: "tests"))
        var expected = RunPayload.defaults(for: catalog.defaultEntry, settings: settings)
        expected.code = "print(1)"
        #expect(stored == expected)
    }

    @Test("fields given replace the defaults; the runtime's main file follows the image")
    func fieldsOverDefaults() async throws {
        let store = try routes.freshStore()
        let (_, _, stored) = try await submit(
            #"{"code": "fn main() {}", "image": "rust", "timeout": 3, "mem_limit": "128m", "cpus": 0.25, "stdin": "in"}"#,
            to: store
        )
        let payload = try #require(stored)
        #expect(payload.image == "code-runner-rust" && payload.mainFile == "src/main.rs")  // runtimes/rust/runtime.json
        #expect(payload.timeoutSeconds == 3 && payload.memoryBytes == 128 << 20 && payload.nanoCPUs == 250_000_000)
        #expect(payload.stdin == "in")
    }

    @Test(
        "the entrypoint's RT_ names and the start hook's switch are reserved, and the seed's three still are",
        arguments: [
            "RT_DEFAULT_CMD", "RT_SEED_DIRS", "RT_ANYTHING", "ENCODED_CODE", "ENCODED_FILES", "CUSTOM_ENTRYPOINT",
            "CODE_RUNNER_PRESTART_FD",
        ]
    )
    func reservedNames(name: String) async throws {
        let (status, json, _) = try await submit(#"{"code": "x", "environment": {"\#(name)": "1"}}"#, to: try routes.freshStore())
        #expect(status == .unprocessableContent)
        let issue = (json["detail"] as? [[String: Any]])?.first
        #expect(issue?["msg"] as? String == "Value error, Environment variable '\(name)' is reserved and cannot be set.")
        #expect((issue?["loc"] as? [String]) == ["body", "environment"])
    }

    @Test("names near the reserved ones are the user's", arguments: ["RT", "rt_x", "XRT_A", "PATH", "HOME"])
    func ordinaryNames(name: String) async throws {
        let (status, _, stored) = try await submit(#"{"code": "x", "environment": {"\#(name)": "1"}}"#, to: try routes.freshStore())
        #expect(status == .accepted)
        #expect(stored?.environment == [EnvironmentVariable(name: name, value: "1")])
    }

    @Test(
        "sizes are strict: surrounding whitespace is a 422 naming the field, as the original's pattern answered",
        arguments: [
            ("mem_limit", "64m "), ("mem_limit", " 64m"), ("mem_limit", "64 m"), ("disk_limit", "32m\\n"), ("disk_limit", "\\t32m"),
        ]
    )
    func strictSizes(field: String, value: String) async throws {
        let (status, json, _) = try await submit(#"{"code": "x", "\#(field)": "\#(value)"}"#, to: try routes.freshStore())
        #expect(status == .unprocessableContent)
        let issue = (json["detail"] as? [[String: Any]])?.first
        #expect((issue?["loc"] as? [String]) == ["body", field])
    }
}
