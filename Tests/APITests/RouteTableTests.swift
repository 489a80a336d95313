import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import API

/// 404 or 405 for requests no route matched, decided by the router's own route table
/// (`UnmatchedRouteMiddleware`), through the real application.
struct RouteTableTests {
    let routes = APIRouteTests()

    @Test("an unknown path is 404 Not Found, a known path with another method 405, before authentication")
    func unknownPathAndWrongMethod() async throws {
        let app = try routes.makeApp(try routes.freshStore())
        try await app.test(.router) { client in
            for (method, uri) in [
                (HTTPRequest.Method.get, "/nowhere"), (.get, "/jobsx"), (.get, "/jobs/x/y"), (.delete, "/prebuilds/a/b"),
                (.post, "/run/now"),
            ] {
                let answer = try await client.execute(uri: uri, method: method)
                #expect(answer.status == .notFound, "\(method) \(uri)")
                #expect(String(buffer: answer.body) == #"{"detail":"Not Found"}"#, "\(method) \(uri)")
            }
            for (method, uri) in [
                (HTTPRequest.Method.put, "/jobs/x"), (.patch, "/jobs/x"), (.post, "/jobs/x"), (.delete, "/jobs"),
                (.put, "/prebuilds/some-tag"), (.get, "/prebuilds/cleanup"), (.get, "/run"), (.post, "/health"),
                (.delete, "/openapi.json"), (.put, "/metrics"), (.head, "/"),
            ] {
                let answer = try await client.execute(uri: uri, method: method)
                #expect(answer.status == .methodNotAllowed, "\(method) \(uri)")
                if method != .head {
                    #expect(String(buffer: answer.body) == #"{"detail":"Method Not Allowed"}"#, "\(method) \(uri)")
                }
            }
        }
    }

    @Test("a matched route's own 404 keeps its detail: DELETE /jobs/x is the job's 404, PUT /jobs/x a 405")
    func matchedRouteKeepsItsOwnNotFound() async throws {
        let app = try routes.makeApp(try routes.freshStore())
        try await app.test(.router) { client in
            let cancel = try await client.execute(uri: "/jobs/x", method: .delete, headers: routes.authorized)
            #expect(cancel.status == .notFound)
            #expect(routes.json(cancel)["detail"] as? String == "Job 'x' not found.")
            let show = try await client.execute(uri: "/jobs/x", method: .get, headers: routes.authorized)
            #expect(show.status == .notFound)
            #expect(routes.json(show)["detail"] as? String == "Job 'x' not found.")
            let put = try await client.execute(uri: "/jobs/x", method: .put, headers: routes.authorized)
            #expect(put.status == .methodNotAllowed)
            #expect(routes.json(put)["detail"] as? String == "Method Not Allowed")
        }
    }

    @Test("templates match segment by segment: {x} and * one segment, ** the rest, empty segments ignored")
    func templateMatching() {
        let router = Router()
        router.get("/") { _, _ in "root" }
        router.get("/jobs/{id}") { _, _ in "job" }
        router.delete("/jobs/{id}") { _, _ in "job" }
        router.post("/files/*/meta") { _, _ in "meta" }
        router.get("/static/**") { _, _ in "static" }
        let middleware = UnmatchedRouteMiddleware(routes: router.routes)
        #expect(middleware.paths.map(\.description).sorted() == ["/", "/files/*/meta", "/jobs/{id}", "/static/**"])
        for path in ["/", "", "/jobs/1", "//jobs//1/", "/files/a/meta", "/static/a", "/static/a/b/c"] {
            #expect(middleware.servesPath(path), "\(path)")
        }
        for path in ["/jobs", "/jobs/1/2", "/files/a", "/files/a/other", "/nowhere"] {
            #expect(!middleware.servesPath(path), "\(path)")
        }
    }
}
