import AsyncHTTPClient
import NIOCore

/// The event stream's connections over the client's `HTTPClient`.
///
/// The answer's head must arrive within the client's `requestTimeout` (for `POST /run`, the
/// run's allowance, as ``CodeRunnerClient/run(_:)`` has); the body then has no time limit: the
/// service sends a comment every 15 s of silence, which keeps the `HTTPClient`'s read timeout
/// from firing.
struct HTTPEventStreamConnector: EventStreamConnector {
    typealias Body = AsyncMapSequence<HTTPClientResponse.Body, [UInt8]>

    let client: CodeRunnerClient

    func open(_ target: EventStreamTarget) async throws -> EventStreamAnswer<Body> {
        let request: HTTPClientRequest
        let headTimeout: Duration
        switch target {
        case .run(let run):
            request = try client.httpRequest(.POST, "/run", body: run, accept: "text/event-stream")
            headTimeout = CodeRunnerClient.runAllowance(run)
        case .job(let id, let cursor):
            let resume = cursor.flatMap { $0.isEmpty ? nil : [("Last-Event-ID", $0)] } ?? []
            request = try client.httpRequest(
                .GET,
                "/jobs/\(CodeRunnerClient.segment(id))/events",
                headers: resume + [("Cache-Control", "no-cache")],
                accept: "text/event-stream"
            )
            headTimeout = client.requestTimeout
        }
        let response = try await client.httpClient.execute(request, deadline: .now() + CodeRunnerClient.timeAmount(headTimeout))
        return EventStreamAnswer(
            status: Int(response.status.code),
            contentType: response.headers.first(name: "Content-Type"),
            jobID: response.headers.first(name: "X-Job-Id"),
            retryAfter: response.headers.first(name: "Retry-After"),
            body: response.body.map { Array($0.readableBytesView) }
        )
    }

    func wait(jobID: String) async throws(CodeRunnerError) -> Job {
        try await client.wait(id: jobID)
    }
}
