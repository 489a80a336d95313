import Foundation

/// What a connection of a job's event stream asks for.
enum EventStreamTarget: Sendable, Equatable {
    /// `POST /run` with the request's JSON: a new job, streamed from its start.
    case run(RunRequest)
    /// `GET /jobs/{id}/events`, after the cursor (`Last-Event-ID`) or from the start.
    case job(id: String, after: String?)
}

/// The head of an answer and its body, as ``JobEventFollower`` reads them.
struct EventStreamAnswer<Body: AsyncSequence<[UInt8], any Error>> {
    var status: Int
    /// `Content-Type`.
    var contentType: String?
    /// `X-Job-Id`: the job a `POST /run` stream is about.
    var jobID: String?
    /// `Retry-After`, for a 429's error.
    var retryAfter: String?
    /// The body in the pieces it arrives in; it throws when the connection breaks.
    var body: Body

    /// Whether the body is server-sent events.
    var isEventStream: Bool {
        contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() == "text/event-stream"
    }
}

/// Opens the connections of a job's event stream: HTTP through the client's `HTTPClient`
/// (``HTTPEventStreamConnector``), or a script in the tests.
protocol EventStreamConnector: Sendable {
    associatedtype Body: AsyncSequence<[UInt8], any Error>

    /// Sends the request and returns once the answer's head has arrived.
    /// - Throws: ``CodeRunnerError`` when the request cannot be made (an encoding problem);
    ///   any other error when the service cannot be reached or the connection breaks first.
    func open(_ target: EventStreamTarget) async throws -> EventStreamAnswer<Body>

    /// Waits until the job ends: how a `POST /run` that the service answered with a plain
    /// `202` (a service that does not stream) goes on.
    func wait(jobID: String) async throws(CodeRunnerError) -> Job
}
