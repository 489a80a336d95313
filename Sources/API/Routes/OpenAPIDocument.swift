import Hummingbird

/// `GET /openapi.json`: the OpenAPI 3.1 description of the HTTP contract.
enum OpenAPIDocument {
    static var response: Response {
        var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: text)))
        response.headers[.contentType] = "application/json"
        return response
    }

    static let text = #"""
    {
      "openapi": "3.1.0",
      "info": {"title": "Code Runner", "version": "0.1.0",
               "description": "Runs untrusted code in hardened Docker containers."},
      "components": {
        "securitySchemes": {
          "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
          "bearer": {"type": "http", "scheme": "bearer"}
        },
        "schemas": {
          "Error": {"type": "object", "required": ["detail"], "properties": {"detail": {}}},
          "CodeExecutionRequest": {
            "type": "object", "required": ["code"],
            "properties": {
              "code": {"type": "string"}, "image": {"type": "string", "default": "python"},
              "files": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
              "entrypoint": {"type": ["string", "null"]}, "stdin": {"type": ["string", "null"]},
              "timeout": {"type": ["integer", "null"], "minimum": 1},
              "mem_limit": {"type": ["string", "null"]}, "cpu_shares": {"type": ["integer", "null"]},
              "disk_limit": {"type": ["string", "null"]}, "cpus": {"type": ["number", "null"]},
              "allow_network": {"type": "boolean", "default": false},
              "environment": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
              "prebuild_spec": {"type": ["object", "null"]}
            }
          },
          "CodeExecutionResponse": {
            "type": "object",
            "required": ["stdout", "stderr", "exit_code", "execution_time", "metadata", "job_id",
                         "timed_out", "oom_killed", "stdout_truncated", "stderr_truncated"],
            "properties": {
              "stdout": {"type": "string"}, "stderr": {"type": "string"},
              "exit_code": {"type": "integer"}, "execution_time": {"type": "number"}, "metadata": {},
              "job_id": {"type": "string"}, "timed_out": {"type": "boolean"},
              "oom_killed": {"type": "boolean"}, "stdout_truncated": {"type": "boolean"},
              "stderr_truncated": {"type": "boolean"}
            }
          },
          "Job": {
            "type": "object",
            "required": ["job_id", "status", "created_at", "started_at", "finished_at", "error"],
            "properties": {
              "job_id": {"type": "string"}, "kind": {"type": "string"},
              "status": {"enum": ["queued", "running", "completed", "failed", "cancelled"]},
              "created_at": {"type": "string"}, "started_at": {"type": ["string", "null"]},
              "finished_at": {"type": ["string", "null"]}, "attempts": {"type": "integer"},
              "result": {"oneOf": [{"$ref": "#/components/schemas/CodeExecutionResponse"}, {"type": "null"}]},
              "error": {"type": ["object", "null"]}
            }
          }
        }
      },
      "security": [{"apiKey": []}, {"bearer": []}],
      "paths": {
        "/": {"get": {"security": [], "responses": {"200": {"description": "Service message"}}}},
        "/health": {"get": {"security": [], "responses": {"200": {"description": "Health, workers and queue"}}}},
        "/openapi.json": {"get": {"security": [], "responses": {"200": {"description": "This document"}}}},
        "/images": {"get": {"responses": {"200": {"description": "Runtime catalogue"}, "401": {"description": "Not authenticated"}}}},
        "/runtimes": {"get": {"responses": {"200": {"description": "Alias of /images"}, "401": {"description": "Not authenticated"}}}},
        "/run": {"post": {
          "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CodeExecutionRequest"}}}},
          "responses": {
            "200": {"description": "The run happened", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CodeExecutionResponse"}}}},
            "202": {"description": "Still running; poll Location"},
            "400": {"description": "Empty code or invalid file name"}, "401": {"description": "Not authenticated"},
            "403": {"description": "Invalid API key"}, "404": {"description": "Unknown image"},
            "413": {"description": "Code size exceeds the limit"}, "422": {"description": "Validation error"},
            "429": {"description": "Queue full"}, "500": {"description": "The worker could not run it"},
            "503": {"description": "No workers available"}}}},
        "/jobs": {
          "post": {
            "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CodeExecutionRequest"}}}},
            "responses": {"202": {"description": "Queued"}, "200": {"description": "Idempotent repeat"},
                          "409": {"description": "Idempotency key reused with another body"},
                          "422": {"description": "Validation error"}, "429": {"description": "Queue full"}}},
          "get": {
            "parameters": [{"name": "status", "in": "query", "schema": {"type": "string"}},
                           {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                           {"name": "before", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "The caller's jobs, newest first"}}}},
        "/jobs/{id}": {
          "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
          "get": {
            "parameters": [{"name": "wait", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 60}}],
            "responses": {"200": {"description": "The job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                          "404": {"description": "Unknown job"}}},
          "delete": {"responses": {"200": {"description": "Cancelled"}, "404": {"description": "Unknown job"},
                                   "409": {"description": "Already finished"}}}}
      }
    }
    """#
}
