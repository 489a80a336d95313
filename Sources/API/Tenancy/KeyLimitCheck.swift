import Queue

/// A key's ceilings on one request (`KeyLimits`), after the deployment's own validation
/// (`RunRequest`): a field above the key's maximum is a 422 at that field, naming the limit;
/// a networked run from a key without `allow_network` is a 422 at the field that asked for the
/// network; a `priority` above the key's is a 422 at `priority`. Defaults the request left out
/// are lowered to the key's maxima instead (a key with `max_timeout: 5` gets 5-second runs
/// without asking, never a 422 for a field it did not send).
enum KeyLimitCheck {
    /// One refused field: the limit it broke (the `limit` label of
    /// `code_runner_key_rejections_total`) and the 422 issue.
    struct Refusal: Sendable {
        var limit: String
        var issue: ValidationIssue
    }

    static func refusals(of run: RunRequest, limits: KeyLimits) -> [Refusal] {
        var refusals: [Refusal] = []
        func lax(_ name: String) -> LaxValue { LaxValue(value: run.given[name] ?? .null, loc: ["body", .key(name)]) }
        /// `field` above the key's `limit`: pydantic's bound error, naming the limit.
        func above(_ field: String, _ limit: String, _ maximum: String, _ bound: JSONValue) {
            let message = "Input should be less than or equal to \(maximum) (this API key's \(limit))"
            refusals.append(Refusal(limit: limit, issue: lax(field).issue("less_than_equal", message, ctx: ["le": bound])))
        }
        if let maximum = limits.maxTimeout, let timeout = run.timeout, timeout > maximum {
            above("timeout", "max_timeout", "\(maximum)", .integer(Int64(maximum)))
        }
        if let maximum = limits.maxMemoryMB, let bytes = run.memoryBytes, bytes > Int64(maximum) * ByteSize.mebibyte {
            above("mem_limit", "max_memory_mb", "\(maximum)m", .string("\(maximum)m"))
        }
        if let maximum = limits.maxCPUs, let cpus = run.cpus, cpus > maximum {
            above("cpus", "max_cpus", "\(maximum)", .number(maximum))
        }
        if !limits.allowNetwork && (run.allowNetwork || run.allowedHosts != nil) {
            let field = run.allowNetwork ? "allow_network" : "allowed_hosts"
            refusals.append(
                Refusal(
                    limit: "allow_network",
                    issue: lax(field).valueError("This API key may not use the network (allow_network is false in API_KEYS_FILE).")
                )
            )
        }
        if let priority = run.priority, priority > limits.priority {
            above("priority", "priority", "\(limits.priority)", .integer(Int64(limits.priority)))
        }
        return refusals
    }

    /// Lowers the defaults `run` left in `payload` to the key's maxima.
    static func lowerDefaults(of payload: inout RunPayload, run: RunRequest, limits: KeyLimits) {
        if let maximum = limits.maxTimeout, run.timeout == nil { payload.timeoutSeconds = min(payload.timeoutSeconds, maximum) }
        if let maximum = limits.maxMemoryMB, run.memoryBytes == nil {
            payload.memoryBytes = min(payload.memoryBytes, Int64(maximum) * ByteSize.mebibyte)
        }
        if let maximum = limits.maxCPUs, run.cpus == nil {
            let cap = RunPayload.nanoCPUs(cores: maximum)
            payload.nanoCPUs = payload.nanoCPUs == 0 ? cap : min(payload.nanoCPUs, cap)  // 0: no cap
        }
    }
}
