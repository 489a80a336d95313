import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Queue
import Testing

@testable import API

/// `output_files` on `POST /run` and `POST /jobs` (what is stored, every 422), the result's
/// `files`, and `GET /jobs/{id}/files/{path}`. The files themselves come from the sandbox:
/// `Tests/WorkerTests/OutputFilesSandboxTests.swift`.
struct OutputFilesRouteTests {
    let routes = APIRouteTests()
    let defaults = RunDefaultsRouteTests()
    let hosts = AllowedHostsRouteTests()

    @Test("patterns are stored with the deployment's caps, before the runtime's automatic ones, duplicates dropped")
    func stored() async throws {
        let store = try routes.freshStore()
        let variables = ["MAX_OUTPUT_FILES": "7", "MAX_OUTPUT_FILE_BYTES": "12345"]
        let body = #"{"code": "print(1)", "output_files": ["*.csv", "out/**/*.png", "*.csv"]}"#
        let (status, _, stored) = try await defaults.submit(body, to: store, variables: variables)
        #expect(status == .accepted)
        let files = try #require(stored?.outputFiles)
        #expect(files == OutputFilesRequest(patterns: ["*.csv", "out/**/*.png", "figure-*.png"], maxFiles: 7, maxBytes: 12345, reportsEmpty: true))

        // node has no automatic patterns: only the request's
        let (_, _, node) = try await defaults.submit(#"{"code": "1", "image": "node", "output_files": ["a.txt"]}"#, to: store)
        #expect(node?.outputFiles?.patterns == ["a.txt"])
    }

    @Test("absent: python gets its figures quietly, node nothing; [] turns even the figures off")
    func absentAndEmpty() async throws {
        let store = try routes.freshStore()
        let (_, _, python) = try await defaults.submit(#"{"code": "print(1)"}"#, to: store)
        #expect(python?.outputFiles?.patterns == ["figure-*.png"])
        #expect(python?.outputFiles?.reportsEmpty == false)
        let (_, _, node) = try await defaults.submit(#"{"code": "1", "image": "node"}"#, to: store)
        #expect(node?.outputFiles == nil)
        let (_, _, none) = try await defaults.submit(#"{"code": "print(1)", "output_files": []}"#, to: store)
        #expect(none?.outputFiles == nil)
        let (_, _, null) = try await defaults.submit(#"{"code": "print(1)", "output_files": null}"#, to: store)
        #expect(null?.outputFiles == python?.outputFiles)
    }

    static let longPattern: String = "[\"" + String(repeating: "x", count: 256) + "\"]"
    static let tooMany: String = "[" + (0..<33).map { "\"f\($0)\"" }.joined(separator: ",") + "]"
    static let field = "body.output_files"
    static func index(_ index: Int) -> String { "body.output_files.\(index)" }

    @Test(
        "each bad output_files is one 422 at the field or the entry's index",
        arguments: [
            (#""*.png""#, field, "list_type"),
            (#"[1]"#, index(0), "string_type"),
            (#"["ok.txt", ""]"#, index(1), "value_error"),
            (#"["/etc/passwd"]"#, index(0), "value_error"),
            (#"["../x"]"#, index(0), "value_error"),
            (#"["a/../../x"]"#, index(0), "value_error"),
            (#"["a//b"]"#, index(0), "value_error"),
            (#"["./a"]"#, index(0), "value_error"),
            (#"["a\\*b"]"#, index(0), "value_error"),
            (#"["a\nb"]"#, index(0), "value_error"),
            (longPattern, index(0), "value_error"),
            (tooMany, field, "value_error"),
        ]
    )
    func refused(value: String, loc: String, type: String) async throws {
        let issue = try await hosts.onlyIssue(#"{"code": "print(1)", "output_files": \#(value)}"#)
        #expect(issue?.0.map { "\($0)" }.joined(separator: ".") == loc)
        #expect(issue?.1 == type)
    }

    @Test("output_files with tests is a 422 at output_files")
    func notWithTests() async throws {
        let issue = try await hosts.onlyIssue(#"{"code": "print(1)", "tests": [{"stdin": ""}], "output_files": ["*.txt"]}"#)
        #expect(issue?.0 == ["body", "output_files"] as [AnyHashable])
        #expect(issue?.2.contains("tests") == true)
    }

    /// A job of the caller's completed with `result`; returns its id.
    func completedJob(_ store: SQLiteJobStore, result: RunResult, app: some ApplicationProtocol) async throws -> String {
        try await app.test(.router) { client in
            let submitted = try await client.execute(
                uri: "/jobs",
                method: .post,
                headers: routes.authorized,
                body: ByteBuffer(string: #"{"code": "print(1)", "output_files": ["*"]}"#)
            )
            let id = try #require(routes.json(submitted)["job_id"] as? String)
            let claimed = try #require(try await store.claim(worker: "w", limit: 1, leaseSeconds: 60).first)
            #expect(try await store.complete(claimed.lease, result: JSONEncoder().encode(result)))
            return id
        }
    }

    @Test("the result lists files with size, media type and base64; GET /jobs/{id}/files/{path} serves each with safe headers")
    func served() async throws {
        let store = try routes.freshStore()
        let app = try routes.makeApp(store)
        let png = Data([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2])
        let html = Data("<script>alert(1)</script>".utf8)
        var result = RunResult(stdout: "", stderr: "", exitCode: 0, executionTime: 0.1)
        result.files = [
            OutputFile(path: "figure-1.png", mediaType: "image/png", content: png),
            OutputFile(path: "out/my report.html", mediaType: "text/html", content: html),
        ]
        result.filesTruncated = true
        let id = try await completedJob(store, result: result, app: app)
        try await app.test(.router) { client in
            let job = routes.json(try await client.execute(uri: "/jobs/\(id)", method: .get, headers: routes.authorized))
            let answer = try #require(job["result"] as? [String: Any])
            let files = try #require(answer["files"] as? [[String: Any]])
            #expect(files.map { $0["path"] as? String } == ["figure-1.png", "out/my report.html"])
            #expect(files.first?["size"] as? Int == png.count)
            #expect(files.first?["media_type"] as? String == "image/png")
            #expect(files.first?["content_base64"] as? String == png.base64EncodedString())
            #expect(answer["files_truncated"] as? Bool == true)

            let image = try await client.execute(uri: "/jobs/\(id)/files/figure-1.png", method: .get, headers: routes.authorized)
            #expect(image.status == .ok)
            #expect(Data(image.body.readableBytesView) == png)
            #expect(image.headers[.contentType] == "image/png")
            #expect(image.headers[.contentDisposition]?.hasPrefix("inline") == true)
            #expect(image.headers[.xContentTypeOptions] == "nosniff")

            let page = try await client.execute(uri: "/jobs/\(id)/files/out/my%20report.html", method: .get, headers: routes.authorized)
            #expect(page.status == .ok)
            #expect(Data(page.body.readableBytesView) == html)
            #expect(page.headers[.contentDisposition] == "attachment; filename*=UTF-8''my%20report.html")
            #expect(page.headers[.contentSecurityPolicy]?.hasPrefix("sandbox") == true)

            for missing in ["/jobs/\(id)/files/nope.png", "/jobs/\(id)/files/out", "/jobs/no-such-job/files/figure-1.png"] {
                let response = try await client.execute(uri: missing, method: .get, headers: routes.authorized)
                #expect(response.status == .notFound, "\(missing)")
            }
            let anonymous = try await client.execute(uri: "/jobs/\(id)/files/figure-1.png", method: .get)
            #expect(anonymous.status == .unauthorized)
        }
    }

    @Test("a job that has not completed has no files: 404 saying so")
    func notCompleted() async throws {
        let store = try routes.freshStore()
        let app = try routes.makeApp(store)
        try await app.test(.router) { client in
            let submitted = try await client.execute(
                uri: "/jobs",
                method: .post,
                headers: routes.authorized,
                body: ByteBuffer(string: #"{"code": "1"}"#)
            )
            let id = try #require(routes.json(submitted)["job_id"] as? String)
            let response = try await client.execute(uri: "/jobs/\(id)/files/a.txt", method: .get, headers: routes.authorized)
            #expect(response.status == .notFound)
            #expect((routes.json(response)["detail"] as? String)?.contains("queued") == true)
        }
    }
}
