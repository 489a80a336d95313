import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Queue
import Testing

@testable import API

/// Prebuilt images belong to the key that built them, through the real router (issue 22): the
/// attack was key 2 rebuilding key 1's tag with a hook that printed key 1's code, then deleting it.
struct PrebuildOwnershipRouteTests {
    let routes = APIRouteTests()
    let builder = PrebuildRouteTests()
    static let other = "other-key"

    func headers(_ key: String) -> HTTPFields { [HTTPField.Name("X-API-Key")!: key] }

    @Test("another key's image is not there: list, show, run, delete, rebuild and clean-up see only the caller's")
    func imagesArePrivate() async throws {
        let store = try routes.freshStore()
        let worker = try await builder.fakeBuilder(store)
        defer { worker.cancel() }
        let app = try routes.makeApp(store, variables: ["CODE_RUNNER_API_KEYS": "\(APIRouteTests.key),\(Self.other)"])
        let owner = PrebuildRouteTests.owner(APIRouteTests.key)
        let mine = PrebuildKey(owner: owner, tag: "shared")
        try await app.test(.router) { client in
            func call(_ method: HTTPRequest.Method, _ uri: String, _ key: String, _ body: String? = nil) async throws -> TestResponse {
                try await client.execute(uri: uri, method: method, headers: headers(key), body: body.map { ByteBuffer(string: $0) })
            }
            let built = try await call(.post, "/prebuild", APIRouteTests.key, #"{"tag": "shared", "setup_script": "echo mine"}"#)
            #expect(built.status == .ok)

            // The other key: nothing to list, and the tag answers exactly as a tag nobody has.
            let listed = try await call(.get, "/prebuilds", Self.other)
            #expect((routes.json(listed)["prebuilds"] as? [Any])?.isEmpty == true)
            let shown = try await call(.get, "/prebuilds/prebuilt-shared", Self.other)
            let nobody = try await call(.get, "/prebuilds/prebuilt-nobody-has", Self.other)
            #expect(shown.status == .notFound && nobody.status == .notFound)
            #expect(routes.json(shown)["detail"] as? String == "Prebuilt image 'prebuilt-shared' not found.")
            #expect(try await call(.delete, "/prebuilds/shared", Self.other).status == .notFound)
            let run = try await call(.post, "/run", Self.other, #"{"code": "print(1)", "image": "prebuilt-shared"}"#)
            #expect(run.status == .notFound)
            #expect(routes.json(run)["detail"] as? String == "Image 'prebuilt-shared' not found. Create it with POST /prebuild.")

            // Its own build of the same tag is its own image; the first key's is untouched.
            #expect(try await call(.post, "/prebuild", Self.other, #"{"tag": "shared", "setup_script": "echo hook"}"#).status == .ok)
            #expect(try await store.prebuild(mine)?.setupScript == "echo mine")
            let cleaned = try await call(.post, "/prebuilds/cleanup?max_age_days=0", Self.other)
            #expect(routes.json(cleaned)["removed"] as? [String] == ["prebuilt-shared"])
            #expect(try await store.prebuild(mine) != nil)
            #expect((routes.json(try await call(.get, "/prebuilds", APIRouteTests.key))["prebuilds"] as? [Any])?.count == 1)

            // The first key's run goes to the first key's image on the engine.
            let submitted = try await call(.post, "/jobs", APIRouteTests.key, #"{"code": "print(1)", "image": "prebuilt-shared"}"#)
            let id = try #require(routes.json(submitted)["job_id"] as? String)
            let job = try #require(try await store.job(publicID: id, owner: owner))
            let payload = try JSONDecoder().decode(RunPayload.self, from: job.payload)
            #expect(payload.image == mine.engineReference)
            #expect(payload.prebuild?.key == mine)
        }
    }

    @Test("one build at a time per key: a second one is a 429 with Retry-After, another key is not held up")
    func oneBuildPerKey() async throws {
        let store = try routes.freshStore()
        let worker = try await builder.fakeBuilder(store)
        defer { worker.cancel() }
        let app = try routes.makeApp(store, variables: ["CODE_RUNNER_API_KEYS": "\(APIRouteTests.key),\(Self.other)"])
        let owner = PrebuildRouteTests.owner(APIRouteTests.key)
        // A build of the first key under way (its worker has not finished it).
        #expect(
            try await store.beginPrebuild(PrebuildKey(owner: owner, tag: "slow"), baseRuntime: "python", setupScript: "", busyFor: 600) == .started
        )
        try await app.test(.router) { client in
            func post(_ uri: String, _ key: String, _ body: String) async throws -> TestResponse {
                try await client.execute(uri: uri, method: .post, headers: headers(key), body: ByteBuffer(string: body))
            }
            let second = try await post("/prebuild", APIRouteTests.key, #"{"tag": "other", "setup_script": "true"}"#)
            #expect(second.status == .tooManyRequests)
            #expect(second.headers[.retryAfter] != nil)
            #expect((routes.json(second)["detail"] as? String)?.contains("one build runs at a time per key") == true)
            let viaRun = try await post(
                "/run",
                APIRouteTests.key,
                #"{"code": "print(1)", "image": "new-tag", "prebuild_spec": {"base_image": "python", "setup_script": "true"}}"#
            )
            #expect(viaRun.status == .tooManyRequests)
            #expect(try await post("/prebuild", Self.other, #"{"tag": "other", "setup_script": "true"}"#).status == .ok)
        }
    }
}
