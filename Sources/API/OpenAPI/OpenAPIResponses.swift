/// Shared parts of the OpenAPI document: the error answers every route may give, response
/// headers and query/path/header parameters.
enum OpenAPIResponses {
    static let responses = #"""
        {"BadRequest": {"description": "A request-level check failed (no code nor entrypoint, invalid file name, failed build).", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
         "Unauthorized": {"description": "No credential: `Not authenticated. Provide X-API-Key header or Authorization Bearer token.`", "headers": {"WWW-Authenticate": {"$ref": "#/components/headers/WWW-Authenticate"}}, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
         "Forbidden": {"description": "A wrong X-API-Key: `Invalid API Key`.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
         "NotFound": {"description": "Unknown (or another credential's) resource, or unknown image.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
         "Conflict": {"description": "The resource is in a state that forbids this (cancelled, already finished, idempotency key reused).", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
         "ContentTooLarge": {"description": "The body exceeds 8 MiB (`Request body exceeds the limit.`) or code, files and stdin exceed 1 MiB (`Code size exceeds the limit.`).", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
         "ValidationFailed": {"description": "Malformed JSON or invalid fields or query parameters (pydantic's shape).", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ValidationError"}}}},
         "QueueFull": {"description": "MAX_QUEUE_DEPTH jobs are waiting (`The queue is full; retry later.`), or a build of a prebuilt image (`POST /prebuild`, or `prebuild_spec` on a new tag) while the same key's previous build is still running: one build runs at a time per key.", "headers": {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
         "InternalError": {"description": "Unexpected failure (`An unexpected error occurred: ...`), or the worker could not run the job.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
         "Unavailable": {"description": "The job database is unavailable (with Retry-After), no worker is available, or a prebuilt image could not be rebuilt.", "headers": {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
        """#

    static let headers = #"""
        {"Location": {"description": "Where to poll the job or build.", "required": true, "schema": {"type": "string"}},
         "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "string", "pattern": "^[0-9]+$"}},
         "WWW-Authenticate": {"description": "Always `Bearer`.", "required": true, "schema": {"type": "string", "const": "Bearer"}}}
        """#

    static let parameters = #"""
        {"JobID": {"name": "id", "in": "path", "required": true, "description": "A job id as POST /jobs or POST /run answered it.", "schema": {"type": "string"}},
         "PrebuildTag": {"name": "tag", "in": "path", "required": true, "description": "A prebuilt tag, with or without the `prebuilt-` prefix.", "schema": {"type": "string"}},
         "IdempotencyKey": {"name": "Idempotency-Key", "in": "header", "required": false, "description": "A repeat with the same key and body returns the same job (200); the same key with another body is a 409. Empty means none.", "schema": {"type": "string"}}}
        """#
}
