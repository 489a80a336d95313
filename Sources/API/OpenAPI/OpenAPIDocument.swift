import Hummingbird

/// `GET /openapi.json`: the OpenAPI 3.1 description of the HTTP contract (`API.md`).
///
/// The document is JSON text assembled from fragments kept next to each other by topic:
/// `OpenAPIPaths` (execution and jobs), `OpenAPIPaths+Operations` (operations and prebuilt
/// images), `OpenAPISchemas` (bodies) and `OpenAPIResponses` (shared error answers and
/// parameters). `scripts/run-openapi.sh` checks it is valid OpenAPI 3.1 and that the service's
/// real answers match it, so a route or body change must be reflected here.
enum OpenAPIDocument {
    static var response: Response {
        var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: text)))
        response.headers[.contentType] = "application/json"
        return response
    }

    /// The whole document.
    static let text = """
        {"openapi": "3.1.0", \(info), \(security),
         "paths": {\(OpenAPIPaths.execution), \(OpenAPIPaths.jobs), \(OpenAPIPaths.operations), \(OpenAPIPaths.prebuilds)},
         "components": {"securitySchemes": \(securitySchemes), "schemas": {\(OpenAPISchemas.execution), \(OpenAPISchemas.jobs), \(OpenAPISchemas.operations), \(OpenAPISchemas.prebuilds), \(OpenAPISchemas.errors)},
                        "responses": \(OpenAPIResponses.responses), "parameters": \(OpenAPIResponses.parameters), "headers": \(OpenAPIResponses.headers)}}
        """

    static let info = #"""
        "info": {"title": "Code Runner", "version": "1.0.0",
          "description": "Runs untrusted code in hardened Docker containers. JSON in, JSON out. Handled errors are {\"detail\": \"<string>\"}; request-validation errors are 422 with {\"detail\": [issues]}. An unknown path is 404 {\"detail\": \"Not Found\"}; a known path with a method it does not serve is 405 {\"detail\": \"Method Not Allowed\"}; a body over 8 MiB is 413 before parsing; an unavailable job database is 503 with Retry-After; anything unexpected is 500 with a JSON detail. When the service has API keys (CODE_RUNNER_API_KEYS) or a bearer token (AUTH_TOKEN), every route but GET /, GET /health and GET /openapi.json needs one of them; without either the API is open."},
        "tags": [{"name": "execution", "description": "Running code: synchronously or as jobs"},
                 {"name": "jobs", "description": "Jobs of the calling credential"},
                 {"name": "images", "description": "Runtimes and prebuilt images"},
                 {"name": "operations", "description": "Service status"}]
        """#

    /// Either credential is enough; the three open routes override this with `[]`.
    static let security = #"""
        "security": [{"apiKey": []}, {"bearer": []}]
        """#

    static let securitySchemes = #"""
        {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "One of CODE_RUNNER_API_KEYS. Checked first; a wrong key is 403."},
         "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <AUTH_TOKEN>."}}
        """#
}
