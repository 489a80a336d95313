import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Queue
import ServiceLifecycle

/// `GET /jobs/{id}/events`: a job's progress as server-sent events (`JobEventStream`). Same
/// visibility as `GET /jobs/{id}`: another credential's job is the same 404 as an unknown id.
struct JobEventRoutes: Sendable {
    let dependencies: AppDependencies

    static let lastEventID = HTTPField.Name("Last-Event-ID")!

    func register(on router: Router<BasicRequestContext>) {
        router.get("/jobs/{id}/events") { request, context in
            try await events(request, id: context.parameters.get("id") ?? "")
        }
    }

    func events(_ request: Request, id: String) async throws -> Response {
        let owner = try dependencies.authenticator.owner(of: request)
        let cursor = try Self.cursor(of: request)
        guard let job = try await dependencies.store.job(publicID: id, owner: owner) else { throw JobRoutes.notFound(id) }
        // from now on its worker stores the output as it comes (`OutputStore.watchOutput`)
        if !job.state.isFinal { try await dependencies.store.watchOutput(of: job.id) }
        return JobEventStream(store: dependencies.store, job: job, owner: owner, resuming: cursor).response()
    }

    /// The client's place: `Last-Event-ID`, else `?last_event_id=` (for clients that cannot set
    /// headers, such as a browser's `EventSource` on its first connection); nil for none.
    /// A value that is not a cursor is a 422 naming `last_event_id`.
    static func cursor(of request: Request) throws -> EventCursor? {
        let header = request.headers[lastEventID]
        let location: [LocationPart] = header != nil ? ["header", "last_event_id"] : ["query", "last_event_id"]
        guard let text = header ?? request.uri.queryParameters.get("last_event_id"), !text.isEmpty else { return nil }
        guard let cursor = EventCursor(text) else {
            throw APIError.validation([
                ValidationIssue(
                    type: "value_error",
                    loc: location,
                    msg: "Value error, '\(text.prefix(64))' is not an event id: expected <attempt>:<stdout_bytes>:<stderr_bytes>",
                    input: .string(String(text.prefix(64)))
                )
            ])
        }
        return cursor
    }
}

/// The event stream of one job, written as it happens: the store's change hints (and a 1 s
/// backstop) wake it to re-read the job and its new output chunks; `JobEventTracker` says what
/// to send. Ends after the `result` event, when the client goes away, or when this API shuts
/// down gracefully (so a rolling restart is not held up by a long run; the client reconnects
/// with `Last-Event-ID`, to another API host if need be).
struct JobEventStream: Sendable {
    let store: any JobStore
    let job: Job
    let owner: String
    let resuming: EventCursor?

    /// Chunks read per query; a full page is followed by the next at once.
    static let pageSize = 500
    /// A comment goes out after this many quiet backstop ticks (1 s each).
    static let keepAliveTicks = 15
    private static let logger = Logger(label: "code-runner.api")

    func response(headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        return Response(
            status: .ok,
            headers: headers,
            body: ResponseBody { writer in
                try await stream(into: &writer)
                try await writer.finish(nil)
            }
        )
    }

    private enum Wake: Sendable {
        case change
        case tick
    }

    /// Writes the events to `writer` until the `result` event (the response body's loop; tests
    /// give a recording writer).
    func stream(into writer: inout some ResponseBodyWriter) async throws {
        let (wakes, wake) = AsyncStream<Wake>.makeStream(bufferingPolicy: .bufferingNewest(2))
        // subscribed before the first read, so a change right after it is not missed
        let changes = store.changes()
        let watchers = [
            Task {
                for await _ in changes { wake.yield(.change) }
            },
            Task {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: .seconds(1)) } catch { return }
                    wake.yield(.tick)
                }
            },
        ]
        defer {
            for watcher in watchers { watcher.cancel() }
            wake.finish()
        }
        var tracker = JobEventTracker(jobID: job.publicID, resuming: resuming)
        var job = self.job
        var quietTicks = 0
        var iterator = wakes.cancelOnGracefulShutdown().makeAsyncIterator()
        while true {
            var read = 0
            repeat {
                let chunks = job.state.isFinal ? [] : try await store.output(of: job.id, after: tracker.lastSequence, limit: Self.pageSize)
                read = chunks.count
                let events = tracker.events(for: job, result: Self.result(of: job), chunks: chunks) { Self.json(of: job) }
                if !events.isEmpty {
                    quietTicks = 0
                    try await writer.write(contentsOf: events.map(\.encoded))
                }
                if tracker.isFinished { return }
            } while read == Self.pageSize
            guard let reason = await iterator.next() else { return }
            if reason == .tick {
                quietTicks += 1
                if quietTicks >= Self.keepAliveTicks {
                    quietTicks = 0
                    try await writer.write(ServerSentEvent.keepAlive)
                }
            }
            guard let current = try await store.job(publicID: job.publicID, owner: owner) else { return }
            job = current
        }
    }

    /// A finished job's result, decoded; nil for none (a logged error when unreadable).
    static func result(of job: Job) -> RunResult? {
        guard job.state.isFinal, let data = job.result else { return nil }
        do {
            return try JSONDecoder().decode(RunResult.self, from: data)
        } catch {
            logger.error("a finished job's result is unreadable", metadata: ["job": "\(job.publicID)", "error": "\(error)"])
            return nil
        }
    }

    /// The job as `GET /jobs/{id}` shows it.
    static func json(of job: Job) -> Data {
        do {
            return try ResponseJSON.encode(JobView(job: job))
        } catch {
            logger.error("a job could not be encoded for its event stream", metadata: ["job": "\(job.publicID)", "error": "\(error)"])
            return Data("{}".utf8)
        }
    }
}
