import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Queue
import Testing

@testable import API

/// `GET /images` lists what each image carries (issue 14), from `runtimes/<name>/runtime.json`.
struct ImagesRouteTests {
    let routes = APIRouteTests()

    func runtimeFolder(packages: String?) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("images-route-\(UUID())")
        let python = folder.appendingPathComponent("python")
        try FileManager.default.createDirectory(at: python, withIntermediateDirectories: true)
        let packagesField = packages.map { #", "packages": \#($0)"# } ?? ""
        let entry = #"""
            {"name": "Python", "description": "test", "default_entrypoint": "python3 main.py",
             "file_extension": ".py", "main_file": "main.py", "order": 0\#(packagesField)}
            """#
        try Data(entry.utf8).write(to: python.appendingPathComponent("runtime.json"))
        return folder.path
    }

    func images(runtimeDirectory: String) async throws -> [[String: Any]] {
        let app = try routes.makeApp(try routes.freshStore(), variables: ["RUNTIME_DIR": runtimeDirectory])
        let body = try await app.test(.router) { client in
            let response = try await client.execute(uri: "/images", method: .get, headers: routes.authorized)
            #expect(response.status == .ok)
            return Data(response.body.readableBytesView)
        }
        let object = try JSONSerialization.jsonObject(with: body) as? [String: Any]
        return object?["images"] as? [[String: Any]] ?? []
    }

    func packages(of entry: [String: Any]?) -> [String] {
        (entry?["packages"] as? [[String: String]] ?? []).map { "\($0["name"] ?? "?") \($0["version"] ?? "?")" }
    }

    @Test("the repository's catalogue: python lists numpy and uv, node typescript, every runtime its toolchain")
    func repositoryCatalogue() async throws {
        let entries = try await images(runtimeDirectory: "runtimes")
        #expect(entries.count == 6)
        let byID = Dictionary(entries.map { ($0["id"] as? String ?? "", $0) }, uniquingKeysWith: { first, _ in first })
        let python = packages(of: byID["code-runner-python"])
        for name in ["python", "numpy", "pandas", "scipy", "matplotlib", "requests", "httpx", "uv"] {
            #expect(python.contains { $0.hasPrefix("\(name) ") }, "\(name) in \(python)")
        }
        #expect(packages(of: byID["code-runner-node"]).map { $0.split(separator: " ")[0] } == ["node", "typescript", "ts-node", "bun"])
        for entry in entries {
            #expect(!packages(of: entry).isEmpty, "\(entry["id"] ?? "?") lists nothing")
        }
    }

    @Test("a runtime.json without packages lists none; one with a malformed list falls back to the built-in entry")
    func missingAndMalformedLists() async throws {
        let without = try await images(runtimeDirectory: try runtimeFolder(packages: nil))
        let pythonWithout = without.first { $0["id"] as? String == "code-runner-python" }
        #expect(pythonWithout?["description"] as? String == "test")
        #expect((pythonWithout?["packages"] as? [Any])?.isEmpty == true)

        let malformed = try await images(runtimeDirectory: try runtimeFolder(packages: #"[{"name": "numpy", "version": 2}]"#))
        let pythonMalformed = malformed.first { $0["id"] as? String == "code-runner-python" }
        #expect(pythonMalformed?["description"] as? String == "Python 3 runtime")
        #expect((pythonMalformed?["packages"] as? [Any])?.isEmpty == true)
    }
}
