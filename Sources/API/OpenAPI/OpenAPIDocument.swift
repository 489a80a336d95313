import Foundation
import Hummingbird

/// `GET /openapi.json`: the OpenAPI 3.1 description of the HTTP contract.
///
/// The document is one JSON file, `Sources/API/Resources/openapi.json`, pretty-printed with a
/// 2-space indent and its keys in document order (`python3 -m json.tool --indent 2` leaves it
/// unchanged). Every status a route can answer is listed there, errors included; responses are
/// described as the code encodes them (`ResponseBodies.swift`, the routes), requests as liberally
/// as the lax, seed-compatible validation accepts them (`RunRequest`, `LaxValue`); the top-level
/// `security` (either credential) is overridden with `[]` by the three open routes.
///
/// Checks: `scripts/run-openapi.sh --lint` rejects invalid JSON, duplicate keys and any other
/// formatting; `OpenAPIDocumentTests` that the served document is the file and names exactly the
/// router's routes; `scripts/run-openapi.sh` that it is valid OpenAPI 3.1 and that the service's
/// real answers match it. A route or body change must be reflected in the file.
///
/// Where the file is found: SwiftPM copies it into the `code-runner_API.resources` directory
/// next to the built binary (`.build/<triple>/<debug|release>/`, which is where `make run`,
/// `scripts/run-service.sh` and `swift test` run it from); `Bundle.module` looks there first,
/// then in that directory's absolute build-time path. An installed binary needs the directory
/// copied next to it.
enum OpenAPIDocument {
    /// The served bytes: the file as it is, read and parsed once, on first use.
    ///
    /// `APIMain.makeApplication` asks for it before building anything else, so a file that is
    /// missing or is not an OpenAPI 3.1 JSON object stops the API at start (exit 1, the reason
    /// logged as `API stopped`) instead of it serving a broken document. A resource directory
    /// that is missing altogether makes `Bundle.module` itself stop the process, naming both
    /// paths it looked in.
    static let loaded: Result<ByteBuffer, any Error> = Result {
        try load(from: Bundle.module.url(forResource: "openapi", withExtension: "json"))
    }

    static var response: Response {
        switch loaded {
        case .success(let body):
            var response = Response(status: .ok, body: .init(byteBuffer: body))
            response.headers[.contentType] = "application/json"
            return response
        case .failure:
            // Unreachable in a running API (it does not start without the document).
            return APIError(.internalServerError, "The OpenAPI document could not be loaded.").response
        }
    }

    /// Reads the document at `url` and checks it is a JSON object naming OpenAPI 3.1 and its
    /// paths; returns its bytes unchanged. `nil` is the resource bundle without the file.
    static func load(from url: URL?) throws -> ByteBuffer {
        guard let url else {
            throw LoadError(reason: "openapi.json is missing from the resource bundle \(Bundle.module.bundlePath)")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw LoadError(reason: "cannot read \(url.path): \(error)")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw LoadError(reason: "\(url.path) is not valid JSON: \(error)")
        }
        guard let document = object as? [String: Any], let version = document["openapi"] as? String,
            version.hasPrefix("3.1."), document["paths"] is [String: Any]
        else {
            throw LoadError(reason: "\(url.path) is not an OpenAPI 3.1 document (no \"openapi\": \"3.1.x\" or no \"paths\" object)")
        }
        return ByteBuffer(bytes: data)
    }

    /// Why the document could not be loaded.
    struct LoadError: Error, CustomStringConvertible {
        var reason: String
        var description: String { "OpenAPI document: \(reason)" }
    }
}
