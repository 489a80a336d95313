import Foundation
import Hummingbird
import Queue

/// Prebuilt images: `POST /prebuild`, `GET /prebuilds`, `GET/DELETE /prebuilds/{tag}`,
/// `POST /prebuilds/cleanup` — the seed's routes, bodies and strings, with auth, builds run as
/// jobs on workers, and only images this service built (recorded in the database) in view.
///
/// Every image belongs to the credential that built it: each route sees only the caller's
/// images (another owner's tag is simply not there: 404, the same answer as for a tag nobody
/// has), and a rebuild or delete can only reach the caller's own. With authentication off there
/// is one owner, `""`.
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
    /// One build at a time per credential: a second one while the first runs is a 429.
    func create(_ request: Request) async throws -> Response {
        let (owner, body) = try await dependencies.authenticatedBody(of: request)
        let spec = try PrebuildRequest.validate(body)
        let workers = try await dependencies.liveWorkers()
        guard !workers.isEmpty else { throw APIError(.serviceUnavailable, "No workers available.") }
        // a setup script runs on the sandbox network, under its egress policy
        if let refusal = EgressAvailability(workers: workers).refusal(of: "Prebuilt images") { throw refusal }
        let settings = dependencies.settings
        let key = PrebuildKey(owner: owner, tag: spec.tag)
        try await Self.begin(key, baseRuntime: spec.baseRuntime, setupScript: spec.setupScript, dependencies: dependencies)
        let payload = PrebuildPayload(
            action: .build,
            key: key,
            baseRuntime: spec.baseRuntime,
            setupScript: spec.setupScript,
            timeoutSeconds: settings.prebuildTimeout
        )
        let job = try await enqueue(payload, owner: owner)
        guard let finished = await dependencies.waiters.wait(for: job.id, timeout: .seconds(settings.prebuildTimeout + settings.runWaitSlack)) else {
            return JSONResponse.make(
                status: .accepted,
                body: [
                    "job_id": job.publicID, "status": "building", "detail": "The build has not finished yet; poll GET /prebuilds/\(key.publicName).",
                ],
                headers: [.location: "/prebuilds/\(key.publicName)"]
            )
        }
        if finished.state == .failed, let failure = finished.failure {
            throw APIError(.internalServerError, "Prebuild failed: \(failure.detail)")
        }
        guard let data = finished.result, let outcome = try? JSONDecoder().decode(PrebuildOutcome.self, from: data) else {
            throw APIError(.internalServerError, "Prebuild failed: the build ended without a result")
        }
        guard outcome.succeeded else { throw APIError(.badRequest, "Build failed: \(outcome.log)") }
        return JSONResponse.make(
            body: Created(
                tag: key.publicName,
                base_image: ImageReference.runtimeImage(spec.baseRuntime),
                size_bytes: outcome.sizeBytes,
                layer_size_bytes: outcome.layerSizeBytes,
                status: "ready"
            )
        )
    }

    /// Records a build request of `key`, or the 429 of a credential whose previous build is
    /// still under way. Shared with `/run`'s `prebuild_spec`.
    static func begin(_ key: PrebuildKey, baseRuntime: String, setupScript: String, dependencies: AppDependencies) async throws {
        let settings = dependencies.settings
        let busyFor = Double(settings.prebuildTimeout + settings.runWaitSlack)
        switch try await dependencies.store.beginPrebuild(key, baseRuntime: baseRuntime, setupScript: setupScript, busyFor: busyFor) {
        case .started: return
        case .ownerBusy: throw ownerBusy
        }
    }

    static let ownerBusy = APIError(
        .tooManyRequests,
        "Another build of this API key is still running; one build runs at a time per key. Retry when it has finished.",
        headers: [.retryAfter: "10"]
    )

    func list(_ request: Request) async throws -> Response {
        let owner = try dependencies.authenticator.owner(of: request)
        let entries = try await dependencies.store.prebuilds(owner: owner).map { Entry($0, detailed: false) }
        return JSONResponse.make(body: ["prebuilds": entries])
    }

    func show(_ request: Request, tag: String) async throws -> Response {
        let owner = try dependencies.authenticator.owner(of: request)
        guard let prebuild = try await dependencies.store.prebuild(PrebuildKey(owner: owner, tag: ImageReference.shortTag(tag))) else {
            throw Self.notFound(tag)
        }
        return JSONResponse.make(body: Entry(prebuild, detailed: true))
    }

    func delete(_ request: Request, tag: String) async throws -> Response {
        let owner = try dependencies.authenticator.owner(of: request)
        let key = PrebuildKey(owner: owner, tag: ImageReference.shortTag(tag))
        guard try await !dependencies.store.deletePrebuilds([key]).isEmpty else { throw Self.notFound(tag) }
        try await removeImage(key)
        return JSONResponse.make(body: ["status": "deleted", "tag": key.publicName])
    }

    /// Removes the caller's prebuilt images not built nor used for `max_age_days` (default
    /// `CLEANUP_MAX_AGE_DAYS`); the scheduled clean-up covers every owner's.
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
        let stale = try await dependencies.store.stalePrebuilds(olderThanDays: Double(days), owner: owner)
        let removed = try await dependencies.store.deletePrebuilds(stale)
        for key in removed { try await removeImage(key) }
        return JSONResponse.make(body: Cleaned(removed: removed.map(\.publicName), count: removed.count))
    }

    /// Asks a worker to remove the image (the API never talks to Docker).
    private func removeImage(_ key: PrebuildKey) async throws {
        _ = try await enqueue(
            PrebuildPayload(action: .remove, key: key, baseRuntime: "", setupScript: "", timeoutSeconds: 60),
            owner: key.owner
        )
    }

    private func enqueue(_ payload: PrebuildPayload, owner: String) async throws -> Job {
        let outcome = try await dependencies.store.enqueue(
            NewJob(kind: .prebuild, owner: owner, payload: JSONEncoder().encode(payload), maxAttempts: 1),
            maxQueueDepth: dependencies.settings.maxQueueDepth
        )
        switch outcome {
        case .created(let job), .repeated(let job), .conflict(let job): return job
        case .queueFull, .ownerQueueFull, .rateLimited: throw ExecutionRoutes.queueFull
        }
    }

    static func notFound(_ tag: String) -> APIError {
        APIError(.notFound, "Prebuilt image '\(ImageReference.prebuilt(tag: ImageReference.shortTag(tag)).publicName)' not found.")
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
            base_image = ImageReference.runtimeImage(prebuild.baseRuntime)
            size_bytes = prebuild.sizeBytes
            created = (prebuild.builtAt ?? prebuild.createdAt).iso8601
            // the image's own (the runtime's qm.* ones, as the original shows them) and ours
            labels = prebuild.labels.merging(["code-runner.prebuilt": prebuild.tag, "code-runner.base": base_image]) { $1 }
            status = prebuild.status.rawValue
            last_used = prebuild.lastUsedAt?.iso8601
            build_log = detailed ? prebuild.buildLog : nil
        }
    }
}

/// A validated `PrebuildRequest` (quartermaster-code-runner's body), with the tag held to `[a-z0-9][a-z0-9._-]{0,127}`.
struct PrebuildRequest {
    var tag: String
    var baseRuntime: String
    var setupScript: String

    static func validate(_ body: JSONValue) throws(APIError) -> PrebuildRequest {
        guard case .object(let fields) = body else {
            throw .validation([
                ValidationIssue(
                    type: "model_attributes_type",
                    loc: ["body"],
                    msg: "Input should be a valid dictionary or object to extract fields from",
                    input: body
                )
            ])
        }
        var issues: [ValidationIssue] = []
        func string(_ name: String, required: Bool) -> String? {
            guard let value = fields[name], value != .null else {
                if required { issues.append(ValidationIssue(type: "missing", loc: ["body", .key(name)], msg: "Field required", input: body)) }
                return nil
            }
            switch LaxValue(value: value, loc: ["body", .key(name)]).string() {
            case .success(let text): return text
            case .failure(let issue):
                issues.append(issue)
                return nil
            }
        }
        var tag = ""
        if let raw = string("tag", required: true) {
            let lax = LaxValue(value: .string(raw), loc: ["body", "tag"])
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            let short = ImageReference.shortTag(trimmed)
            if trimmed.isEmpty {
                issues.append(lax.valueError("Tag cannot be empty."))
            } else if !short.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) }) {
                issues.append(lax.valueError("Tag must contain only alphanumeric characters, hyphens, underscores, or dots."))
            } else if !ImageReference.isValidTag(short) {
                issues.append(lax.valueError("Tag must be lowercase ASCII, start with a letter or digit and have at most 128 characters."))
            } else {
                tag = short
            }
        }
        var base = RuntimeCatalog.defaultRuntime
        if let raw = string("base_image", required: false) {
            if let runtime = ImageReference.runtimeName(raw, among: RuntimeCatalog.runtimeNames) {
                base = runtime
            } else {
                issues.append(
                    LaxValue(value: .string(raw), loc: ["body", "base_image"]).valueError(
                        "Unsupported base image '\(raw)'. Supported: \(RuntimeCatalog.runtimeNames.joined(separator: ", "))"
                    )
                )
            }
        }
        let script = string("setup_script", required: true) ?? ""
        if script.contains("\u{0}") {
            // No shell script holds one, and PostgreSQL's text cannot store it.
            issues.append(LaxValue(value: .string(script), loc: ["body", "setup_script"]).valueError("Setup script contains a NUL character."))
        }
        guard issues.isEmpty else { throw .validation(issues) }
        return PrebuildRequest(tag: tag, baseRuntime: base, setupScript: script)
    }
}
