/// The `paths` of the OpenAPI document: execution and jobs here, operations and prebuilt images
/// in `OpenAPIPaths+Operations.swift`. Every status a route can answer is listed, errors
/// included; the shared error answers live in `OpenAPIResponses`.
enum OpenAPIPaths {
    static let execution = #"""
        "/run": {"post": {"operationId": "run", "tags": ["execution"], "summary": "Run code and wait for the result",
          "description": "Validates, stores the job and waits for a worker. Errors in this order: malformed JSON 422, auth 401/403, fields 422, no code nor entrypoint 400, size 413, file name 400, unknown image 404, no live worker 503. A non-zero exit, a timeout or an out-of-memory kill is still a 200.",
          "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CodeExecutionRequest"}}}},
          "responses": {
            "200": {"description": "The run happened.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CodeExecutionResponse"}}}},
            "202": {"description": "Not finished within its timeout plus RUN_WAIT_SLACK; poll Location.", "headers": {"Location": {"$ref": "#/components/headers/Location"}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunAccepted"}}}},
            "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"},
            "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"$ref": "#/components/responses/NotFound"},
            "409": {"$ref": "#/components/responses/Conflict"}, "413": {"$ref": "#/components/responses/ContentTooLarge"},
            "422": {"$ref": "#/components/responses/ValidationFailed"}, "429": {"$ref": "#/components/responses/QueueFull"},
            "500": {"$ref": "#/components/responses/InternalError"}, "503": {"$ref": "#/components/responses/Unavailable"}}}}
        """#

    static let jobs = #"""
        "/jobs": {
          "post": {"operationId": "submitJob", "tags": ["jobs"], "summary": "Queue code to run and return at once",
            "description": "Same body and validation as POST /run (a missing worker is not an error here).",
            "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CodeExecutionRequest"}}}},
            "responses": {
              "202": {"description": "Queued.", "headers": {"Location": {"$ref": "#/components/headers/Location"}},
                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobAccepted"}}}},
              "200": {"description": "A repeat of an earlier request with the same Idempotency-Key: that job.", "headers": {"Location": {"$ref": "#/components/headers/Location"}},
                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobDetail"}}}},
              "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"},
              "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"$ref": "#/components/responses/NotFound"},
              "409": {"$ref": "#/components/responses/Conflict"}, "413": {"$ref": "#/components/responses/ContentTooLarge"},
              "422": {"$ref": "#/components/responses/ValidationFailed"}, "429": {"$ref": "#/components/responses/QueueFull"},
              "500": {"$ref": "#/components/responses/InternalError"}, "503": {"$ref": "#/components/responses/Unavailable"}}},
          "get": {"operationId": "listJobs", "tags": ["jobs"], "summary": "The caller's jobs, newest first (without results)",
            "parameters": [
              {"name": "status", "in": "query", "schema": {"$ref": "#/components/schemas/JobStatus"}},
              {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
              {"name": "before", "in": "query", "description": "A job id: only jobs created before it.", "schema": {"type": "string"}}],
            "responses": {
              "200": {"description": "The jobs.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobList"}}}},
              "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"},
              "422": {"$ref": "#/components/responses/ValidationFailed"},
              "500": {"$ref": "#/components/responses/InternalError"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
        "/jobs/{id}": {
          "parameters": [{"$ref": "#/components/parameters/JobID"}],
          "get": {"operationId": "getJob", "tags": ["jobs"], "summary": "A job, optionally waiting for it to end",
            "parameters": [{"name": "wait", "in": "query", "description": "Seconds to long-poll until the job ends.", "schema": {"type": "integer", "minimum": 0, "maximum": 60, "default": 0}}],
            "responses": {
              "200": {"description": "The job.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobDetail"}}}},
              "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"},
              "404": {"$ref": "#/components/responses/NotFound"}, "422": {"$ref": "#/components/responses/ValidationFailed"},
              "500": {"$ref": "#/components/responses/InternalError"}, "503": {"$ref": "#/components/responses/Unavailable"}}},
          "delete": {"operationId": "cancelJob", "tags": ["jobs"], "summary": "Cancel a queued job or kill a running one",
            "responses": {
              "200": {"description": "The cancelled job.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobDetail"}}}},
              "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"},
              "404": {"$ref": "#/components/responses/NotFound"}, "409": {"$ref": "#/components/responses/Conflict"},
              "500": {"$ref": "#/components/responses/InternalError"}, "503": {"$ref": "#/components/responses/Unavailable"}}}}
        """#
}
