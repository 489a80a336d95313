/// The `paths` of the OpenAPI document for operations (`/`, `/health`, `/openapi.json`,
/// `/images`, `/runtimes`, `/metrics`) and prebuilt images.
extension OpenAPIPaths {
    static let operations = #"""
        "/": {"get": {"operationId": "root", "tags": ["operations"], "summary": "Liveness message", "security": [],
          "responses": {"200": {"description": "`Code Runner is operational.`", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Message"}}}}}}},
        "/health": {"get": {"operationId": "health", "tags": ["operations"], "summary": "Workers, Docker and queue", "security": [],
          "responses": {
            "200": {"description": "`ok` when a live worker reaches Docker, else `degraded`.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
            "500": {"$ref": "#/components/responses/InternalError"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
        "/openapi.json": {"get": {"operationId": "openapi", "tags": ["operations"], "summary": "This document", "security": [],
          "responses": {"200": {"description": "OpenAPI 3.1.", "content": {"application/json": {"schema": {"type": "object", "required": ["openapi", "info", "paths"]}}}}}}},
        "/images": {"get": {"operationId": "images", "tags": ["images"], "summary": "The runtime catalogue",
          "responses": {
            "200": {"description": "Every runtime, in the seed's order.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Runtimes"}}}},
            "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"},
            "500": {"$ref": "#/components/responses/InternalError"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
        "/runtimes": {"get": {"operationId": "runtimes", "tags": ["images"], "summary": "Alias of GET /images",
          "responses": {
            "200": {"description": "Every runtime, in the seed's order.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Runtimes"}}}},
            "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"},
            "500": {"$ref": "#/components/responses/InternalError"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
        "/metrics": {"get": {"operationId": "metrics", "tags": ["operations"], "summary": "Prometheus metrics (text format 0.0.4)",
          "responses": {
            "200": {"description": "Gauges: queue, workers, slots, prebuilt images, last clean-up.", "content": {"text/plain": {"schema": {"type": "string"}}}},
            "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"},
            "500": {"$ref": "#/components/responses/InternalError"}, "503": {"$ref": "#/components/responses/Unavailable"}}}}
        """#

    static let prebuilds = #"""
        "/prebuild": {"post": {"operationId": "createPrebuild", "tags": ["images"], "summary": "Build a prebuilt image and wait for it",
          "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PrebuildRequest"}}}},
          "responses": {
            "200": {"description": "Built.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PrebuildCreated"}}}},
            "202": {"description": "Not built within PREBUILD_TIMEOUT plus RUN_WAIT_SLACK; poll Location.", "headers": {"Location": {"$ref": "#/components/headers/Location"}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PrebuildAccepted"}}}},
            "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"},
            "403": {"$ref": "#/components/responses/Forbidden"}, "413": {"$ref": "#/components/responses/ContentTooLarge"},
            "422": {"$ref": "#/components/responses/ValidationFailed"}, "429": {"$ref": "#/components/responses/QueueFull"},
            "500": {"$ref": "#/components/responses/InternalError"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
        "/prebuilds": {"get": {"operationId": "listPrebuilds", "tags": ["images"], "summary": "Prebuilt images this service built",
          "responses": {
            "200": {"description": "The images.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PrebuildList"}}}},
            "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"},
            "500": {"$ref": "#/components/responses/InternalError"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
        "/prebuilds/cleanup": {"post": {"operationId": "cleanupPrebuilds", "tags": ["images"], "summary": "Remove prebuilt images not built nor used for max_age_days",
          "parameters": [{"name": "max_age_days", "in": "query", "description": "Default CLEANUP_MAX_AGE_DAYS.", "schema": {"type": "integer", "minimum": 0}}],
          "responses": {
            "200": {"description": "What was removed.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PrebuildCleanup"}}}},
            "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"},
            "422": {"$ref": "#/components/responses/ValidationFailed"}, "429": {"$ref": "#/components/responses/QueueFull"},
            "500": {"$ref": "#/components/responses/InternalError"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
        "/prebuilds/{tag}": {
          "parameters": [{"$ref": "#/components/parameters/PrebuildTag"}],
          "get": {"operationId": "getPrebuild", "tags": ["images"], "summary": "One prebuilt image, with its build log",
            "responses": {
              "200": {"description": "The image.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Prebuild"}}}},
              "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"},
              "404": {"$ref": "#/components/responses/NotFound"},
              "500": {"$ref": "#/components/responses/InternalError"}, "503": {"$ref": "#/components/responses/Unavailable"}}},
          "delete": {"operationId": "deletePrebuild", "tags": ["images"], "summary": "Forget a prebuilt image and remove it from the workers",
            "responses": {
              "200": {"description": "Deleted.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PrebuildDeleted"}}}},
              "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"},
              "404": {"$ref": "#/components/responses/NotFound"}, "429": {"$ref": "#/components/responses/QueueFull"},
              "500": {"$ref": "#/components/responses/InternalError"}, "503": {"$ref": "#/components/responses/Unavailable"}}}}
        """#
}
