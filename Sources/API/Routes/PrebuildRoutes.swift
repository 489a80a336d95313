import Foundation
import Hummingbird
import Queue

/// Prebuilt images: `POST /prebuild`, `GET /prebuilds`, `GET/DELETE /prebuilds/{tag}`,
/// `POST /prebuilds/cleanup` — the seed's routes, bodies and strings, with auth, builds run as
/// jobs on workers, and only images this service built (recorded in the database) in view.
struct PrebuildRoutes: Sendable {
    let dependencies: AppDependencies

    func register(on router: Router<BasicRequestContext>) {
        router.post("/prebuild") { request, _ in try await create(request) }
        router.get("/prebuilds") { request, _ in try await list(request) }
        router.post("/prebuilds/cleanup") { request, _ in try await cleanup(request) }
        router.get("/prebuilds/{tag}") { request, context in try await show(request, tag: context.parameters.get("tag") ?? "") }
        router.delete("/prebuilds/{tag}") { request, context in try await delete(request, tag: context.parameters.get("tag") ?? "") }
    }

    /// Validates, records the spec, runs the build on a worker and waits for it (like `/run`).
    func create(_ request: Request) async throws -> Response {
        let body = try await RequestBody.json(from: request)
        let owner = try dependencies.authenticator.owner(of: request)
        let spec = try PrebuildRequest.validate(body)
        guard !(try await dependencies.liveWorkers()).isEmpty else { throw APIError(.serviceUnavailable, "No workers available.") }
        let settings = dependencies.settings
        try await dependencies.store.beginPrebuild(tag: spec.tag, baseRuntime: spec.baseRuntime, setupScript: spec.setupScript)
        let payload = PrebuildPayload(
            action: .build, tag: spec.tag, baseRuntime: spec.baseRuntime, setupScript: spec.setupScript,
            timeoutSeconds: settings.prebuildTimeout)
        let job = try await enqueue(payload, owner: owner)
        guard let finished = await dependencies.waiters.wait(for: job.id, timeout: .seconds(settings.prebuildTimeout + settings.runWaitSlack)) else {
            return JSONResponse.make(
                status: .accepted,
                body: ["job_id": job.publicID, "status": "building", "detail": "The build has not finished yet; poll GET /prebuilds/prebuilt-\(spec.tag)."],
                headers: [.location: "/prebuilds/prebuilt-\(spec.tag)"])
        }
        if finished.state == .failed, let failure = finished.failure {
            throw APIError(.internalServerError, "Prebuild failed: \(failure.detail)")
        }
        guard let data = finished.result, let outcome = try? JSONDecoder().decode(PrebuildOutcome.self, from: data) else {
            throw APIError(.internalServerError, "Prebuild failed: the build ended without a result")
        }
        guard outcome.succeeded else { throw APIError(.badRequest, "Build failed: \(outcome.log)") }
        return JSONResponse.make(body: Created(
            tag: "prebuilt-\(spec.tag)", base_image: "code-runner-\(spec.baseRuntime)", size_bytes: outcome.sizeBytes,
            layer_size_bytes: outcome.layerSizeBytes, status: "ready"))
    }

    func list(_ request: Request) async throws -> Response {
        _ = try dependencies.authenticator.owner(of: request)
        let entries = try await dependencies.store.prebuilds().map { Entry($0, detailed: false) }
        return JSONResponse.make(body: ["prebuilds": entries])
    }

    func show(_ request: Request, tag: String) async throws -> Response {
        _ = try dependencies.authenticator.owner(of: request)
        guard let prebuild = try await dependencies.store.prebuild(tag: Self.shortTag(tag)) else { throw Self.notFound(tag) }
        return JSONResponse.make(body: Entry(prebuild, detailed: true))
    }

    func delete(_ request: Request, tag: String) async throws -> Response {
        let owner = try dependencies.authenticator.owner(of: request)
        let short = Self.shortTag(tag)
        guard let prebuild = try await dependencies.store.prebuild(tag: short) else { throw Self.notFound(tag) }
        _ = try await dependencies.store.deletePrebuilds(tags: [short])
        try await removeImage(tag: prebuild.tag, owner: owner)
        return JSONResponse.make(body: ["status": "deleted", "tag": prebuild.imageName])
    }

    /// Removes prebuilt images not built nor used for `max_age_days` (default `CLEANUP_MAX_AGE_DAYS`).
    func cleanup(_ request: Request) async throws -> Response {
        let owner = try dependencies.authenticator.owner(of: request)
        var days = dependencies.settings.cleanupMaxAgeDays
        if let raw = request.uri.queryParameters.get("max_age_days") {
            let lax = LaxValue(value: .string(raw), loc: ["query", "max_age_days"])
            switch lax.integer() {
            case .success(let value):
                if let issue = LaxValue.bounded(value, 0, Int.max, at: lax, asJSON: { .integer(Int64($0)) }) { throw APIError.validation([issue]) }
                days = value
            case .failure(let issue): throw APIError.validation([issue])
            }
        }
        let stale = try await dependencies.store.stalePrebuilds(olderThanDays: Double(days))
        let removed = try await dependencies.store.deletePrebuilds(tags: stale)
        for tag in removed { try await removeImage(tag: tag, owner: owner) }
        return JSONResponse.make(body: Cleaned(removed: removed.map { "prebuilt-\($0)" }, count: removed.count))
    }

    /// Asks a worker to remove the image (the API never talks to Docker).
    private func removeImage(tag: String, owner: String) async throws {
        _ = try await enqueue(
            PrebuildPayload(action: .remove, tag: tag, baseRuntime: "", setupScript: "", timeoutSeconds: 60), owner: owner)
    }

    private func enqueue(_ payload: PrebuildPayload, owner: String) async throws -> Job {
        let outcome = try await dependencies.store.enqueue(
            NewJob(kind: .prebuild, owner: owner, payload: JSONEncoder().encode(payload), maxAttempts: 1),
            maxQueueDepth: dependencies.settings.maxQueueDepth)
        switch outcome {
        case .created(let job), .repeated(let job), .conflict(let job): return job
        case .queueFull: throw ExecutionRoutes.queueFull
        }
    }

    static func shortTag(_ tag: String) -> String {
        tag.hasPrefix("prebuilt-") ? String(tag.dropFirst("prebuilt-".count)) : tag
    }

    static func notFound(_ tag: String) -> APIError {
        APIError(.notFound, "Prebuilt image 'prebuilt-\(shortTag(tag))' not found.")
    }

    struct Created: Encodable {
        var tag: String
        var base_image: String
        var size_bytes: Int64
        var layer_size_bytes: Int64
        var status: String
    }

    struct Cleaned: Encodable {
        var removed: [String]
        var count: Int
    }

    /// One prebuilt image as `/prebuilds` shows it (seed shape plus status, base and use times).
    struct Entry: Encodable {
        var tag: String
        var base_image: String
        var size_bytes: Int64
        var created: String
        var labels: [String: String]
        var status: String
        var last_used: String?
        var build_log: String?

        init(_ prebuild: Prebuild, detailed: Bool) {
            tag = prebuild.imageName
            base_image = "code-runner-\(prebuild.baseRuntime)"
            size_bytes = prebuild.sizeBytes
            created = (prebuild.builtAt ?? prebuild.createdAt).iso8601
            labels = ["code-runner.prebuilt": prebuild.tag, "code-runner.base": base_image]
            status = prebuild.status.rawValue
            last_used = prebuild.lastUsedAt?.iso8601
            build_log = detailed ? prebuild.buildLog : nil
        }
    }
}

/// A validated `PrebuildRequest` (seed 5.5), with the tag held to `[a-z0-9][a-z0-9._-]{0,127}`.
struct PrebuildRequest {
    var tag: String
    var baseRuntime: String
    var setupScript: String

    static func validate(_ body: JSONValue) throws(APIError) -> PrebuildRequest {
        guard case .object(let fields) = body else {
            throw .validation([ValidationIssue(
                type: "model_attributes_type", loc: ["body"],
                msg: "Input should be a valid dictionary or object to extract fields from", input: body)])
        }
        var issues: [ValidationIssue] = []
        func string(_ name: String, required: Bool) -> String? {
            guard let value = fields[name], value != .null else {
                if required { issues.append(ValidationIssue(type: "missing", loc: ["body", .key(name)], msg: "Field required", input: body)) }
                return nil
            }
            switch LaxValue(value: value, loc: ["body", .key(name)]).string() {
            case .success(let text): return text
            case .failure(let issue): issues.append(issue); return nil
            }
        }
        var tag = ""
        if let raw = string("tag", required: true) {
            let lax = LaxValue(value: .string(raw), loc: ["body", "tag"])
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            let short = PrebuildRoutes.shortTag(trimmed)
            if trimmed.isEmpty {
                issues.append(lax.valueError("Tag cannot be empty."))
            } else if !short.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) }) {
                issues.append(lax.valueError("Tag must contain only alphanumeric characters, hyphens, underscores, or dots."))
            } else if !RunRequest.isValidTag(short) {
                issues.append(lax.valueError("Tag must be lowercase ASCII, start with a letter or digit and have at most 128 characters."))
            } else {
                tag = short
            }
        }
        var base = "python"
        if let raw = string("base_image", required: false) {
            let short = raw.hasPrefix("code-runner-") ? String(raw.dropFirst("code-runner-".count)) : raw
            if RunRequest.runtimeNames.contains(short) {
                base = short
            } else {
                issues.append(LaxValue(value: .string(raw), loc: ["body", "base_image"]).valueError(
                    "Unsupported base image '\(raw)'. Supported: python, node, bun, go, deno, rust"))
            }
        }
        let script = string("setup_script", required: true) ?? ""
        guard issues.isEmpty else { throw .validation(issues) }
        return PrebuildRequest(tag: tag, baseRuntime: base, setupScript: script)
    }
}
