extension CodeRunnerClient {
    /// The live events of the job `jobID` (`GET /jobs/{id}/events`): its status changes, its
    /// output as the program writes it, and last the finished job; the sequence ends after that
    /// ``JobEvent/Kind/result(_:)`` event.
    ///
    /// ```swift
    /// for try await event in client.events(jobID: id) {
    ///     if case .output(let chunk) = event.kind { print(chunk.text, terminator: "") }
    /// }
    /// ```
    ///
    /// When the connection breaks before the result, the client reconnects (up to 5 times in a
    /// row, after 0.25 s to 4 s) asking for what follows the last event it delivered, so the
    /// events arrive once each and in order. A job that has already ended replays its final
    /// attempt's output and its result. The answer's head must arrive within ``requestTimeout``;
    /// the stream itself has no time limit. Cancelling the consuming task, or dropping the
    /// sequence, closes the connection.
    ///
    /// After a ``JobStatusUpdate/isRetry`` status event the earlier attempt's output is void:
    /// the new attempt's output starts again at offset 0.
    ///
    /// - Parameters:
    ///   - jobID: the job, e.g. from ``submit(_:idempotencyKey:)``.
    ///   - after: a ``JobEvent/id`` seen earlier: the stream goes on right after that event;
    ///     `nil` to start from the beginning.
    /// - Returns: the events; the sequence throws only ``CodeRunnerError``: ``CodeRunnerError/notFound(_:)``
    ///   for an unknown job, ``CodeRunnerError/invalidRequest(status:message:issues:)`` for a
    ///   malformed `after`, ``CodeRunnerError/transport(_:)`` when the service cannot be reached
    ///   or the stream could not be resumed, ``CodeRunnerError/decoding(_:)`` for an event that
    ///   is not what the API describes. Events of kinds this client does not know are skipped.
    public func events(jobID: String, after: String? = nil) -> AsyncThrowingStream<JobEvent, any Error> {
        JobEventFollower(connector: HTTPEventStreamConnector(client: self)).events(.job(id: jobID, after: after))
    }

    /// Runs a program and streams its job's events (`POST /run` with `Accept: text/event-stream`):
    /// first the `queued` status, which carries the job's id, then what
    /// ``events(jobID:after:)`` describes, up to the ``JobEvent/Kind/result(_:)`` event.
    ///
    /// An invalid request, a full queue or a missing credential throws from the sequence's first
    /// step, with the ``CodeRunnerError`` that ``run(_:)`` throws. When the connection breaks
    /// after the job's id is known, the stream goes on through ``events(jobID:after:)``; before,
    /// it throws ``CodeRunnerError/transport(_:)`` (the job may have been queued: the request is
    /// not sent twice).
    ///
    /// A service that does not stream answers `POST /run` as ``run(_:)`` knows it: the sequence
    /// then holds only the result event (with an empty ``JobEvent/id``), the program's output in
    /// its ``ExecutionResult``.
    ///
    /// - Returns: the events; the sequence throws only ``CodeRunnerError``.
    public func runStreaming(_ request: RunRequest) -> AsyncThrowingStream<JobEvent, any Error> {
        JobEventFollower(connector: HTTPEventStreamConnector(client: self)).events(.run(request))
    }
}
