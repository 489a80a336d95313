/// Component schemas of the OpenAPI document, one fragment per topic. Responses are described
/// as the code encodes them (`ResponseBodies.swift`, the routes); requests as liberally as the
/// lax, seed-compatible validation accepts them (`RunRequest`, `LaxValue`).
enum OpenAPISchemas {
    static let execution = #"""
        "CodeExecutionRequest": {"type": "object", "required": ["code"],
          "description": "Unknown keys are ignored; null means the default. Integers also come as numeric strings, integral numbers or booleans; numbers as numeric strings; booleans as 0/1 or the strings true/false, t/f, yes/no, y/n, on/off, 1/0 (any case).",
          "properties": {
            "code": {"type": "string", "description": "Source written to the runtime's main file; may be empty when entrypoint is given."},
            "image": {"type": ["string", "null"], "default": "python", "description": "A runtime (python, node, bun, go, deno, rust; optionally prefixed code-runner-) or a prebuilt tag (optionally prefixed prebuilt-) matching [a-z0-9][a-z0-9._-]{0,127}."},
            "files": {"type": ["object", "null"], "maxProperties": 1000, "additionalProperties": {"type": "string"},
                      "description": "Extra files: relative paths of non-empty components, no `..`, no leading `/`, no backslash or NUL, at most 255 bytes."},
            "entrypoint": {"type": ["string", "null"], "description": "Shell command replacing the runtime's default entrypoint."},
            "stdin": {"type": ["string", "null"], "description": "Fed to standard input; counts toward the 1 MiB cap with code and files."},
            "timeout": {"type": ["integer", "string", "null"], "minimum": 1, "pattern": "^[ \\t]*[+-]?[0-9]+[ \\t]*$", "description": "Seconds, 1..MAX_TIMEOUT (default DEFAULT_TIMEOUT)."},
            "mem_limit": {"type": ["string", "null"], "description": "Docker size (b/k/m/g, optional trailing b), 6 MiB..MAX_MEMORY_MB.", "examples": ["256m"]},
            "cpu_shares": {"type": ["integer", "string", "null"], "minimum": 2, "maximum": 262144, "pattern": "^[ \\t]*[+-]?[0-9]+[ \\t]*$"},
            "disk_limit": {"type": ["string", "null"], "description": "A size, 1 MiB..MAX_DISK_MB.", "examples": ["512m"]},
            "cpus": {"type": ["number", "string", "null"], "minimum": 0.01, "pattern": "^[ \\t]*[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?[ \\t]*$", "description": "CPU cores, 0.01..MAX_CPU_CORES (default DEFAULT_CPUS); a worker grants at most its host's processors."},
            "allow_network": {"type": ["boolean", "integer", "string", "null"], "minimum": 0, "maximum": 1, "default": false,
                              "pattern": "^([Tt]([Rr][Uu][Ee])?|[Yy]([Ee][Ss])?|[Oo]([Nn]|[Ff][Ff])|[Ff]([Aa][Ll][Ss][Ee])?|[Nn][Oo]?|[01])$"},
            "environment": {"type": ["object", "null"], "additionalProperties": {"type": "string"},
                            "description": "Names match [A-Za-z_][A-Za-z0-9_]* and are not ENCODED_CODE, ENCODED_FILES or CUSTOM_ENTRYPOINT; values hold no NUL."},
            "prebuild_spec": {"type": ["object", "null"], "required": ["base_image", "setup_script"],
                              "description": "With a prebuilt image that this service has no record of: how to build it first.",
                              "properties": {"base_image": {"type": "string"}, "setup_script": {"type": "string"}}}}},
        "CodeExecutionResponse": {"type": "object",
          "required": ["stdout", "stderr", "exit_code", "execution_time", "metadata", "job_id", "timed_out", "oom_killed", "stdout_truncated", "stderr_truncated"],
          "properties": {
            "stdout": {"type": "string"}, "stderr": {"type": "string"},
            "exit_code": {"type": "integer", "description": "The program's exit status; -1 when it timed out."},
            "execution_time": {"type": "number", "minimum": 0, "description": "Seconds from container start to the program's end."},
            "metadata": {"description": "Any JSON value the program set through the SDK, or null."},
            "job_id": {"type": "string"}, "timed_out": {"type": "boolean"}, "oom_killed": {"type": "boolean"},
            "stdout_truncated": {"type": "boolean"}, "stderr_truncated": {"type": "boolean"}}},
        "RunAccepted": {"type": "object", "required": ["job_id", "status", "detail"],
          "description": "POST /run waited its timeout plus RUN_WAIT_SLACK: poll the job.",
          "properties": {"job_id": {"type": "string"}, "status": {"const": "running"}, "detail": {"type": "string"}}}
        """#

    static let jobs = #"""
        "JobStatus": {"type": "string", "enum": ["queued", "running", "completed", "failed", "cancelled"]},
        "JobAccepted": {"type": "object", "required": ["job_id", "status"],
          "properties": {"job_id": {"type": "string"}, "status": {"$ref": "#/components/schemas/JobStatus"}}},
        "JobError": {"type": "object", "required": ["status_code", "detail"],
          "description": "Why a failed job failed: the status and detail POST /run answered.",
          "properties": {"status_code": {"type": "integer"}, "detail": {"type": "string"}}},
        "Job": {"type": "object", "required": ["job_id", "kind", "status", "created_at", "started_at", "finished_at", "attempts", "error"],
          "properties": {
            "job_id": {"type": "string"}, "kind": {"type": "string", "enum": ["run", "prebuild"]},
            "status": {"$ref": "#/components/schemas/JobStatus"},
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": {"type": ["string", "null"], "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
            "attempts": {"type": "integer", "minimum": 0},
            "result": {"description": "The run's result once completed, else null; left out of lists.",
                       "anyOf": [{"$ref": "#/components/schemas/CodeExecutionResponse"}, {"type": "null"}]},
            "error": {"anyOf": [{"$ref": "#/components/schemas/JobError"}, {"type": "null"}]}}},
        "JobDetail": {"allOf": [{"$ref": "#/components/schemas/Job"}], "required": ["result"]},
        "JobList": {"type": "object", "required": ["jobs"],
          "properties": {"jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}}}
        """#

    static let operations = #"""
        "Message": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
        "Health": {"type": "object", "required": ["status", "docker_connected", "auth_enabled", "workers", "queue", "last_cleanup"],
          "properties": {
            "status": {"type": "string", "enum": ["ok", "degraded"]}, "docker_connected": {"type": "boolean"},
            "auth_enabled": {"type": "boolean"}, "workers": {"type": "integer", "minimum": 0},
            "queue": {"type": "object", "required": ["queued", "running"],
                      "properties": {"queued": {"type": "integer", "minimum": 0}, "running": {"type": "integer", "minimum": 0}}},
            "last_cleanup": {"anyOf": [{"type": "null"}, {"type": "object",
              "required": ["finished_at", "removed_jobs", "removed_containers", "removed_images"],
              "properties": {"finished_at": {"type": "string", "format": "date-time"}, "removed_jobs": {"type": "integer"},
                             "removed_containers": {"type": "integer"}, "removed_images": {"type": "integer"}}}]}}},
        "Runtime": {"type": "object", "required": ["id", "name", "description", "default_entrypoint", "file_extension", "main_file", "completions", "available"],
          "properties": {
            "id": {"type": "string", "examples": ["code-runner-python"]}, "name": {"type": "string"}, "description": {"type": "string"},
            "default_entrypoint": {"type": "string"}, "file_extension": {"type": "string"}, "main_file": {"type": "string"},
            "completions": {"type": "array", "description": "Editor completions (caption, value or snippet, meta, score, docText).",
                            "items": {"type": "object", "required": ["caption"], "properties": {"caption": {"type": "string"}}}},
            "available": {"type": "boolean", "description": "A live worker has this runtime's image."}}},
        "Runtimes": {"type": "object", "required": ["images", "default"],
          "properties": {"images": {"type": "array", "items": {"$ref": "#/components/schemas/Runtime"}}, "default": {"type": "string"}}}
        """#

    static let prebuilds = #"""
        "PrebuildRequest": {"type": "object", "required": ["tag", "setup_script"],
          "properties": {
            "tag": {"type": "string", "description": "[a-z0-9][a-z0-9._-]{0,127}, optionally prefixed prebuilt-."},
            "base_image": {"type": ["string", "null"], "default": "python", "description": "A runtime name, optionally prefixed code-runner-."},
            "setup_script": {"type": "string", "description": "Shell script run on top of the base image."}}},
        "PrebuildCreated": {"type": "object", "required": ["tag", "base_image", "size_bytes", "layer_size_bytes", "status"],
          "properties": {"tag": {"type": "string"}, "base_image": {"type": "string"}, "size_bytes": {"type": "integer"},
                         "layer_size_bytes": {"type": "integer"}, "status": {"const": "ready"}}},
        "PrebuildAccepted": {"type": "object", "required": ["job_id", "status", "detail"],
          "properties": {"job_id": {"type": "string"}, "status": {"const": "building"}, "detail": {"type": "string"}}},
        "Prebuild": {"type": "object", "required": ["tag", "base_image", "size_bytes", "created", "labels", "status"],
          "properties": {
            "tag": {"type": "string", "examples": ["prebuilt-mytag"]}, "base_image": {"type": "string"},
            "size_bytes": {"type": "integer"}, "created": {"type": "string", "format": "date-time"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "status": {"type": "string", "enum": ["building", "ready", "failed"]},
            "last_used": {"type": "string", "format": "date-time", "description": "Absent until first used."},
            "build_log": {"type": "string", "description": "Only in GET /prebuilds/{tag}, once a build ended."}}},
        "PrebuildList": {"type": "object", "required": ["prebuilds"],
          "properties": {"prebuilds": {"type": "array", "items": {"$ref": "#/components/schemas/Prebuild"}}}},
        "PrebuildDeleted": {"type": "object", "required": ["status", "tag"],
          "properties": {"status": {"const": "deleted"}, "tag": {"type": "string"}}},
        "PrebuildCleanup": {"type": "object", "required": ["removed", "count"],
          "properties": {"removed": {"type": "array", "items": {"type": "string"}}, "count": {"type": "integer", "minimum": 0}}}
        """#

    static let errors = #"""
        "Error": {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}},
        "ValidationIssue": {"type": "object", "required": ["type", "loc", "msg"],
          "properties": {
            "type": {"type": "string", "examples": ["missing", "int_parsing", "value_error"]},
            "loc": {"type": "array", "items": {"type": ["string", "integer"]}, "examples": [["body", "timeout"]]},
            "msg": {"type": "string"}, "input": {"description": "The offending value."},
            "ctx": {"type": "object"}}},
        "ValidationError": {"type": "object", "required": ["detail"],
          "properties": {"detail": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationIssue"}}}}
        """#
}
