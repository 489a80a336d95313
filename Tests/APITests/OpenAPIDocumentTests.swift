import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Queue
import Testing

@testable import API

/// `GET /openapi.json` is the resource file `Sources/API/Resources/openapi.json`, byte for byte,
/// and names exactly the routes the router serves. (Strict JSON, no duplicate keys and the
/// canonical formatting are `scripts/run-openapi.sh --lint`'s; OpenAPI 3.1 validity and the
/// answers' conformance are `scripts/run-openapi.sh`'s, against a running service.)
struct OpenAPIDocumentTests {
    let routes = APIRouteTests()

    /// The file in the source tree, found from this file's path.
    static let sourceFile = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/API/Resources/openapi.json")

    @Test("the resource bundle holds the source file unchanged, and GET /openapi.json serves it as JSON")
    func servesTheResourceFile() async throws {
        let source = try Data(contentsOf: Self.sourceFile)
        let loaded = try OpenAPIDocument.loaded.get()
        #expect(Data(loaded.readableBytesView) == source, "rebuild: the bundled openapi.json is not the source file")

        let app = try routes.makeApp(try routes.freshStore())
        try await app.test(.router) { client in
            let answer = try await client.execute(uri: "/openapi.json", method: .get)
            #expect(answer.status == .ok)
            #expect(answer.headers[.contentType] == "application/json")
            #expect(Data(answer.body.readableBytesView) == source)
        }
    }

    @Test("the document names the catalogue's runtimes, in its order, where it lists them")
    func runtimesAreTheCatalogue() throws {
        let text = try String(contentsOf: Self.sourceFile, encoding: .utf8)
        let list = RuntimeCatalog.runtimeNames.joined(separator: ", ")
        #expect(text.contains("A runtime (\(list); optionally prefixed code-runner-)"), "update openapi.json's `image` description")
        #expect(text.contains("\"default\": \"\(RuntimeCatalog.defaultRuntime)\""))
    }

    @Test("the document's operations are exactly the router's routes")
    func operationsAreTheRouteTable() throws {
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: Self.sourceFile)) as? [String: Any]
        )
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let documented = Set(paths.flatMap { path, item in item.keys.filter { $0 != "parameters" }.map { "\($0.uppercased()) \(path)" } })

        let settings = try ServiceSettings(variables: ["RUNTIME_DIR": "runtimes"])
        let dependencies = try APIMain.makeDependencies(settings: settings, logger: Logger(label: "openapi-tests"), store: try routes.freshStore())
        // the router's catch-all `**` is the document's `{path}` (one parameter holding the slashes)
        let served = Set(
            APIMain.makeRouter(dependencies: dependencies).routes.map {
                "\($0.method.rawValue) \($0.path.description.replacingOccurrences(of: "/**", with: "/{path}"))"
            }
        )
        #expect(documented == served)
        #expect(served.count == 18)
    }

    @Test("allowed_hosts: the schema's bounds are the validator's, and its item pattern admits every entry the parser accepts")
    func allowedHostsSchema() throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.sourceFile)) as? [String: Any])
        let schemas = (document["components"] as? [String: Any])?["schemas"] as? [String: Any]
        let request = try #require(schemas?["CodeExecutionRequest"] as? [String: Any])
        let field = try #require((request["properties"] as? [String: Any])?["allowed_hosts"] as? [String: Any])
        #expect(field["type"] as? [String] == ["array", "null"])
        #expect(field["minItems"] as? Int == 1)
        #expect(field["maxItems"] as? Int == RunRequest.maxAllowedHosts)
        let items = try #require(field["items"] as? [String: Any])
        #expect(items["type"] as? String == "string")
        let maxLength = try #require(items["maxLength"] as? Int)
        let pattern = try NSRegularExpression(pattern: try #require(items["pattern"] as? String))
        func admitted(_ entry: String) -> Bool {
            let range = NSRange(entry.startIndex..., in: entry)
            return pattern.firstMatch(in: entry, range: range) != nil && entry.count >= 1 && entry.count <= maxLength
        }
        let label = String(repeating: "a", count: 63)
        let longest = "*.\([label, label, label, String(repeating: "b", count: 61)].joined(separator: "."))."
        let accepted = [
            "pypi.org", "PyPI.Org.", "*.pythonhosted.org", "*.PythonHosted.ORG.", "xn--bcher-kva.example", "a-b.c-d.org",
            "203.0.113.7", "203.0.113.7/32", "203.0.113.0/24", "0.0.0.0/0", longest,
        ]
        for entry in accepted {
            #expect((try? HostPattern.parse(entry).get()) != nil, "\(entry)")
            #expect(admitted(entry), "the schema refuses '\(entry)', which the service accepts")
        }
        // the pattern is the entries' form: these are refused by both
        for entry in ["localhost", "pypi.org:443", "https://pypi.org", "*.*.org", "a_b.org", "pypi.org/simple", "10.0.0.0/8/8", ""] {
            #expect((try? HostPattern.parse(entry).get()) == nil, "\(entry)")
            #expect(!admitted(entry), "the schema admits '\(entry)'")
        }
    }

    @Test("a missing, unparsable or non-3.1 document is an error naming the file, not something to serve")
    func rejectsBrokenDocuments() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("openapi-tests-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        func reason(_ contents: String?) -> String {
            let file = directory.appendingPathComponent("\(UUID()).json")
            if let contents { _ = FileManager.default.createFile(atPath: file.path, contents: Data(contents.utf8)) }
            do {
                _ = try OpenAPIDocument.load(from: file)
                return "loaded"
            } catch {
                return "\(error)"
            }
        }
        #expect(reason(nil).contains("cannot read"))
        #expect(reason(#"{"openapi": "3.1.0", "paths": {}"#).contains("is not valid JSON"))
        #expect(reason(#"{"openapi": "3.0.3", "paths": {}}"#).contains("is not an OpenAPI 3.1 document"))
        #expect(reason(#"{"openapi": "3.1.0"}"#).contains("is not an OpenAPI 3.1 document"))
        #expect(reason(#"["openapi"]"#).contains("is not an OpenAPI 3.1 document"))
        #expect(reason(#"{"openapi": "3.1.0", "paths": {}}"#) == "loaded")
        #expect(throws: OpenAPIDocument.LoadError.self) { try OpenAPIDocument.load(from: nil) }
    }
}
