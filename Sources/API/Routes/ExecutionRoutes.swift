import Foundation
import HTTPTypes
import Hummingbird
import Queue

/// `POST /run` (submit and wait) and `POST /jobs` (submit and return the id).
struct ExecutionRoutes: Sendable {
    let dependencies: AppDependencies

    func register(on router: Router<BasicRequestContext>) {
        router.post("/run") { request, _ in try await run(request) }
        router.post("/jobs") { request, _ in try await submit(request) }
    }

    /// Validates, stores the job and waits for a worker to finish it; 202 when it takes longer
    /// than its own timeout plus `RUN_WAIT_SLACK`.
    func run(_ request: Request) async throws -> Response {
        let admission = try await admit(request, requireWorkers: true)
        let (payload, owner) = (admission.payload, admission.key.owner)
        let job = try await store(admission)
        if Self.wantsEventStream(request) {
            try await dependencies.store.watchOutput(of: job.id)
            var headers: HTTPFields = [:]
            headers[Self.jobIDHeader] = job.publicID
            return JobEventStream(store: dependencies.store, job: job, owner: owner, resuming: nil).response(headers: headers)
        }
        let wait = Duration.seconds(payload.timeoutSeconds + dependencies.settings.runWaitSlack)
        guard let finished = await dependencies.waiters.wait(for: job.id, timeout: wait) else {
            return JSONResponse.make(
                status: .accepted,
                body: [
                    "job_id": job.publicID, "status": JobState.running.rawValue,
                    "detail": "The job has not finished yet; poll GET /jobs/\(job.publicID).",
                ],
                headers: [.location: "/jobs/\(job.publicID)"]
            )
        }
        return try Self.answer(for: finished)
    }

    static let jobIDHeader = HTTPField.Name("X-Job-Id")!

    /// Whether the client asked `POST /run` for server-sent events (`Accept: text/event-stream`)
    /// rather than the JSON answer: the same events `GET /jobs/{id}/events` sends.
    static func wantsEventStream(_ request: Request) -> Bool {
        request.headers[values: .accept].contains { value in
            value.split(separator: ",").contains {
                $0.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() == "text/event-stream"
            }
        }
    }

    /// Validates and stores the job; 202 with its id. Honours `Idempotency-Key`.
    func submit(_ request: Request) async throws -> Response {
        let admission = try await admit(request, requireWorkers: false)
        let key = request.headers[.idempotencyKey].flatMap { $0.isEmpty ? nil : $0 }
        let hash = key.map { _ in Self.fingerprint(of: admission.payload, callbackURL: admission.callbackURL) }
        let outcome = try await dependencies.store.enqueue(
            try admission.newJob(idempotencyKey: key, requestHash: hash),
            maxQueueDepth: dependencies.settings.maxQueueDepth
        )
        switch outcome {
        case .created(let job):
            TenantMetrics.accepted(admission.key)
            return JSONResponse.make(
                status: .accepted,
                body: ["job_id": job.publicID, "status": job.state.rawValue],
                headers: [.location: "/jobs/\(job.publicID)"]
            )
        case .repeated(let job):
            return JSONResponse.make(body: JobView(job: job), headers: [.location: "/jobs/\(job.publicID)"])
        case .conflict:
            throw APIError(.conflict, "Idempotency-Key '\(key ?? "")' was already used with a different request.")
        case .queueFull, .ownerQueueFull, .rateLimited:
            throw Self.refusal(outcome, of: admission.key)
        }
    }

    /// A validated run request, ready to store: its payload and the calling key.
    struct Admission: Sendable {
        var payload: RunPayload
        var key: APIKey
        var callbackURL: String?
        /// The job's `priority`: the request's, else the key's.
        var priority: Int

        func newJob(idempotencyKey: String? = nil, requestHash: String? = nil) throws -> NewJob {
            NewJob(
                kind: .run,
                owner: key.owner,
                payload: try JSONEncoder().encode(payload),
                idempotencyKey: idempotencyKey,
                requestHash: requestHash,
                callbackURL: callbackURL,
                priority: priority,
                weight: key.limits.priority,
                quota: key.limits.quota
            )
        }
    }

    /// The 429 of an enqueue the queue refused (`.queueFull`, or one of the key's quotas),
    /// counted against the key when it was the key's limit.
    static func refusal(_ outcome: EnqueueOutcome, of key: APIKey) -> APIError {
        switch outcome {
        case .ownerQueueFull(let limit):
            TenantMetrics.rejected(key, limit: "max_queued")
            return APIError(
                .tooManyRequests,
                "API key '\(key.name)' has \(limit) jobs queued (max_queued \(limit)); retry later.",
                headers: [.retryAfter: "5"]
            )
        case .rateLimited(let limit, let retryAfter):
            TenantMetrics.rejected(key, limit: "runs_per_minute")
            let seconds = max(1, Int(retryAfter.rounded(.up)))
            return APIError(
                .tooManyRequests,
                "API key '\(key.name)' reached runs_per_minute (\(limit)); retry in \(seconds) s.",
                headers: [.retryAfter: "\(seconds)"]
            )
        default:
            return queueFull
        }
    }

    /// Auth → JSON → fields → empty → size → file names → image → workers. The seed parsed the
    /// JSON before authenticating (a malformed body without credentials was a 422); here the
    /// body is not read before the 401/403, so anonymous clients cannot make us parse it.
    private func admit(_ request: Request, requireWorkers: Bool) async throws -> Admission {
        let (key, body) = try await dependencies.authenticatedRequest(of: request)
        let owner = key.owner
        let settings = dependencies.settings
        let run: RunRequest
        switch RunRequest.validate(body, settings: settings) {
        case .success(let valid): run = valid
        case .failure(let error): throw error
        }
        let refusals = KeyLimitCheck.refusals(of: run, limits: key.limits)
        if !refusals.isEmpty {
            for refusal in refusals { TenantMetrics.rejected(key, limit: refusal.limit) }
            throw APIError.validation(refusals.map(\.issue))
        }
        if run.code.isEmpty && (run.entrypoint ?? "").isEmpty {
            throw APIError(.badRequest, "Either code or entrypoint must be provided.")
        }
        if run.payloadSize > 1_048_576 { throw APIError(.contentTooLarge, "Code size exceeds the limit.") }
        if let bad = run.files.first(where: { !RunRequest.isValidFileName($0.name) }) {
            throw APIError(.badRequest, "Invalid filename: \(bad.name)")
        }
        if let url = run.callbackURL, let refusal = await CallbackCheck.refusal(of: url, settings: settings) {
            throw refusal
        }
        let workers = try await dependencies.liveWorkers()
        let (entry, prebuild) = try await resolve(run.image, spec: run.prebuildSpec, workers: workers, owner: owner)
        if requireWorkers && !workers.contains(where: \.dockerConnected) {
            throw APIError(.serviceUnavailable, "No workers available.")
        }

        let runtime = entry ?? dependencies.catalog.defaultEntry
        var payload = RunPayload.defaults(for: runtime, settings: settings)
        let caps = OutputFilesRequest(
            patterns: [],
            maxFiles: settings.maxOutputFiles,
            maxBytes: settings.maxOutputFileBytes,
            reportsEmpty: true
        )
        run.apply(to: &payload, runtime: runtime, caps: caps)
        KeyLimitCheck.lowerDefaults(of: &payload, run: run, limits: key.limits)
        if payload.isNetworked, let refusal = EgressAvailability(workers: workers).refusal(of: "Networked runs") {
            throw refusal
        }
        if let prebuild {
            // The caller's own image, by its engine reference; any worker whose engine lacks it
            // rebuilds it from the stored spec, as quartermaster-code-runner does. A `prebuild_spec` in the request is
            // only used when nothing is stored for the caller's tag.
            payload.image = prebuild.key.engineReference
            payload.prebuild = PrebuildPayload(
                action: .build,
                key: prebuild.key,
                baseRuntime: prebuild.baseRuntime,
                setupScript: prebuild.setupScript,
                timeoutSeconds: settings.prebuildTimeout
            )
            try await dependencies.store.touchPrebuild(prebuild.key)
        }
        return Admission(payload: payload, key: key, callbackURL: run.callbackURL, priority: run.priority ?? key.limits.priority)
    }

    /// The catalogue entry of a runtime image; 404 for an image no live worker has (runtime)
    /// or that the caller never built (prebuilt tag: only `owner`'s images are visible).
    /// Nothing is ever pulled. A prebuilt tag nothing is stored for, but given with a
    /// `prebuild_spec` (quartermaster-code-runner's field), is recorded from that spec as the caller's and built by the
    /// worker before it runs.
    private func resolve(
        _ image: ImageReference,
        spec: RunRequest.PrebuildSpec?,
        workers: [WorkerStatus],
        owner: String
    ) async throws -> (RuntimeCatalog.Entry?, Prebuild?) {
        switch image {
        case .runtime(let name):
            // Judged only by workers that reach their engine: one that does not reports no images.
            let connected = workers.filter(\.dockerConnected)
            let present = connected.isEmpty || connected.contains { $0.images.contains(image.publicName) }
            guard present, let entry = dependencies.catalog.entry(for: name) else {
                throw APIError(.notFound, "Image '\(image.publicName)' not found. Build it with: make images")
            }
            return (entry, nil)
        case .prebuilt(let tag):
            let key = PrebuildKey(owner: owner, tag: tag)
            if try await dependencies.store.prebuild(key) == nil, let spec {
                guard let base = ImageReference.runtimeName(spec.baseImage, among: RuntimeCatalog.runtimeNames) else {
                    throw APIError(
                        .serviceUnavailable,
                        "Prebuilt image '\(image.publicName)' could not be rebuilt: unsupported base image '\(spec.baseImage)'"
                    )
                }
                try await PrebuildRoutes.begin(key, baseRuntime: base, setupScript: spec.setupScript, dependencies: dependencies)
            }
            guard let prebuild = try await dependencies.store.prebuild(key), prebuild.status != .failed || prebuild.builtAt != nil else {
                throw APIError(.notFound, "Image '\(image.publicName)' not found. Create it with POST /prebuild.")
            }
            return (dependencies.catalog.entry(for: prebuild.baseRuntime), prebuild)
        }
    }

    private func store(_ admission: Admission) async throws -> Job {
        let outcome = try await dependencies.store.enqueue(try admission.newJob(), maxQueueDepth: dependencies.settings.maxQueueDepth)
        switch outcome {
        case .created(let job):
            TenantMetrics.accepted(admission.key)
            return job
        case .repeated(let job), .conflict(let job): return job
        case .queueFull, .ownerQueueFull, .rateLimited: throw Self.refusal(outcome, of: admission.key)
        }
    }

    /// A stable hash of a request (sorted keys), to tell an idempotent repeat from a new request.
    /// The callback URL counts: the same run with another receiver is another request.
    static func fingerprint(of payload: RunPayload, callbackURL: String? = nil) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var bytes = (try? encoder.encode(payload)) ?? Data()
        if let callbackURL { bytes.append(contentsOf: Array("\ncallback_url=\(callbackURL)".utf8)) }
        return SHA256.hexDigest(bytes)
    }

    static let queueFull = APIError(
        .tooManyRequests,
        "The queue is full; retry later.",
        headers: [.retryAfter: "5"]
    )

    /// The answer `/run` gives for a finished job: its result, or the failure's status and detail.
    static func answer(for job: Job) throws -> Response {
        switch job.state {
        case .completed:
            guard let data = job.result else { throw APIError(.internalServerError, "An unexpected error occurred: result missing") }
            let result = try JSONDecoder().decode(RunResult.self, from: data)
            return JSONResponse.make(body: ExecutionResponse(jobID: job.publicID, result: result))
        case .failed:
            let failure = job.failure ?? JobFailure.workerLost
            throw APIError(HTTPResponse.Status(code: failure.statusCode), failure.detail)
        case .cancelled:
            throw APIError(.conflict, "Job '\(job.publicID)' was cancelled.")
        case .queued, .running:
            throw APIError(.internalServerError, "An unexpected error occurred: job not finished")
        }
    }
}
