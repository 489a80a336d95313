import Hummingbird
import Queue

/// `GET /jobs/{id}` (optionally long-polling with `wait`), `DELETE /jobs/{id}`, `GET /jobs`.
/// A job is visible only to the credential that created it: another credential gets the same
/// 404 as an unknown id.
struct JobRoutes: Sendable {
    let dependencies: AppDependencies

    func register(on router: Router<BasicRequestContext>) {
        router.get("/jobs") { request, _ in try await list(request) }
        router.get("/jobs/{id}") { request, context in try await show(request, id: context.parameters.get("id") ?? "") }
        router.delete("/jobs/{id}") { request, context in try await cancel(request, id: context.parameters.get("id") ?? "") }
    }

    func show(_ request: Request, id: String) async throws -> Response {
        let owner = try dependencies.authenticator.owner(of: request)
        var wait = 0
        if let raw = request.uri.queryParameters.get("wait") {
            let lax = LaxValue(value: .string(raw), loc: ["query", "wait"])
            switch lax.integer() {
            case .success(let seconds):
                if let issue = LaxValue.bounded(seconds, 0, 60, at: lax, asJSON: { .integer(Int64($0)) }) {
                    throw APIError.validation([issue])
                }
                wait = seconds
            case .failure(let issue): throw APIError.validation([issue])
            }
        }
        guard var job = try await dependencies.store.job(publicID: id, owner: owner) else { throw Self.notFound(id) }
        if wait > 0, !job.state.isFinal, let finished = await dependencies.waiters.wait(for: job.id, timeout: .seconds(wait)) {
            job = finished
        }
        return JSONResponse.make(body: JobView(job: job))
    }

    func cancel(_ request: Request, id: String) async throws -> Response {
        let owner = try dependencies.authenticator.owner(of: request)
        switch try await dependencies.store.cancel(publicID: id, owner: owner) {
        case .cancelled(let job): return JSONResponse.make(body: JobView(job: job))
        case .alreadyFinished: throw APIError(.conflict, "Job '\(id)' already finished.")
        case .notFound: throw Self.notFound(id)
        }
    }

    func list(_ request: Request) async throws -> Response {
        let owner = try dependencies.authenticator.owner(of: request)
        let query = request.uri.queryParameters
        var issues: [ValidationIssue] = []
        var state: JobState?
        if let raw = query.get("status") {
            state = JobState(rawValue: raw)
            if state == nil {
                issues.append(
                    ValidationIssue(
                        type: "enum",
                        loc: ["query", "status"],
                        msg: "Input should be " + JobState.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", "),
                        input: .string(raw)
                    )
                )
            }
        }
        var limit = 50
        if let raw = query.get("limit") {
            let lax = LaxValue(value: .string(raw), loc: ["query", "limit"])
            switch lax.integer() {
            case .success(let value):
                if let issue = LaxValue.bounded(value, 1, 500, at: lax, asJSON: { .integer(Int64($0)) }) {
                    issues.append(issue)
                } else {
                    limit = value
                }
            case .failure(let issue): issues.append(issue)
            }
        }
        guard issues.isEmpty else { throw APIError.validation(issues) }
        let jobs = try await dependencies.store.jobs(owner: owner, state: state, limit: limit, before: query.get("before"))
        return JSONResponse.make(body: ["jobs": jobs.map { JobView(job: $0, includesResult: false) }])
    }

    static func notFound(_ id: String) -> APIError {
        APIError(.notFound, "Job '\(id)' not found.")
    }
}
