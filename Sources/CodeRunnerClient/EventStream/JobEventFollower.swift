import Foundation

/// Reads a job's event stream to its `result`, across as many connections as it takes: when one
/// breaks (or ends before the result), the next asks for the rest with `Last-Event-ID`, after a
/// short back-off (``ReconnectPolicy``).
struct JobEventFollower<Connector: EventStreamConnector>: Sendable {
    let connector: Connector
    var policy = ReconnectPolicy.standard

    /// The events of `start`'s stream as an `AsyncThrowingStream`, read by a task of their own
    /// that ends when the consumer stops listening (or its task is cancelled).
    /// The stream throws only ``CodeRunnerError``s.
    func events(_ start: EventStreamTarget) -> AsyncThrowingStream<JobEvent, any Error> {
        AsyncThrowingStream { continuation in
            let reader = Task {
                do throws(CodeRunnerError) {
                    try await follow(start) { event in
                        if case .terminated = continuation.yield(event) { return false }
                        return true
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in reader.cancel() }
        }
    }

    /// Reads the stream, handing each event to `deliver` (which answers whether to go on), until
    /// the `result` event.
    func follow(_ start: EventStreamTarget, deliver: (JobEvent) -> Bool) async throws(CodeRunnerError) {
        var progress: StreamProgress
        switch start {
        case .run: progress = StreamProgress(jobID: nil, cursor: nil, policy: policy)
        case .job(let id, let cursor): progress = StreamProgress(jobID: id, cursor: cursor, policy: policy)
        }
        var target = start
        while true {
            let problem = try await read(target, &progress, deliver: deliver)
            guard let problem else { return }
            guard let delay = progress.connectionBroke(), let next = progress.resumption else {
                throw .transport("\(Self.describe(target)): \(problem)")
            }
            do { try await Task.sleep(for: delay) } catch { throw .cancelled }
            target = next
        }
    }

    /// Reads one connection; returns why it ended before the result, or `nil` when the stream is
    /// done (the result arrived, or the consumer left).
    /// - Throws: the service's error answer, an event that cannot be decoded, or cancellation.
    private func read(
        _ target: EventStreamTarget,
        _ progress: inout StreamProgress,
        deliver: (JobEvent) -> Bool
    ) async throws(CodeRunnerError) -> String? {
        let answer: EventStreamAnswer<Connector.Body>
        do {
            answer = try await connector.open(target)
        } catch {
            if let error = error as? CodeRunnerError { throw error }
            if error is CancellationError || Task.isCancelled { throw .cancelled }
            return "\(error)"
        }
        guard (200..<300).contains(answer.status), answer.isEventStream else {
            return try await readPlainAnswer(answer, of: target, progress: progress, deliver: deliver)
        }
        progress.connected(jobID: answer.jobID)
        var parser = EventStreamParser()
        do {
            for try await piece in answer.body {
                for event in try parser.feed(piece) {
                    guard let decoded = try JobEvent.decoded(from: event), let admitted = progress.admit(decoded) else { continue }
                    guard deliver(admitted), !progress.isFinished else { return nil }
                }
                if let time = parser.reconnectionTime { progress.serviceDelay = .milliseconds(time) }
            }
        } catch let error as CodeRunnerError {
            throw error
        } catch let error as EventStreamParser.Overflow {
            throw .decoding("\(Self.describe(target)): \(error)")
        } catch {
            if error is CancellationError || Task.isCancelled { throw .cancelled }
            return "\(error)"
        }
        if Task.isCancelled { throw .cancelled }
        return "the stream ended before the job's result"
    }

    /// An answer that is not an event stream: the service's error, or (for `POST /run` on a
    /// service that does not stream) the run's outcome, delivered as the only event.
    /// - Returns: why the connection counts as broken (a 502, 503 or 504 while reconnecting),
    ///   or `nil` when the stream is done.
    private func readPlainAnswer(
        _ answer: EventStreamAnswer<Connector.Body>,
        of target: EventStreamTarget,
        progress: StreamProgress,
        deliver: (JobEvent) -> Bool
    ) async throws(CodeRunnerError) -> String? {
        let body = try await Self.collect(answer.body, of: target)
        if !(200..<300).contains(answer.status) {
            if progress.hasConnected, [502, 503, 504].contains(answer.status) { return "HTTP \(answer.status)" }
            throw CodeRunnerError.from(status: answer.status, body: body, retryAfter: answer.retryAfter)
        }
        guard case .run = target else {
            throw .decoding("\(Self.describe(target)) answered \(answer.contentType ?? "no content type"), not text/event-stream")
        }
        let job: Job
        if answer.status == 202 {
            let accepted = try Self.decode(Accepted.self, from: body)
            job = try await connector.wait(jobID: accepted.job_id)
        } else {
            let result = try Self.decode(ExecutionResult.self, from: body)
            job = Job(completedWith: result)
        }
        _ = deliver(JobEvent(id: "", kind: .result(job)))
        return nil
    }

    private static func collect(_ body: Connector.Body, of target: EventStreamTarget) async throws(CodeRunnerError) -> [UInt8] {
        var bytes: [UInt8] = []
        do {
            for try await piece in body {
                bytes += piece
                guard bytes.count <= CodeRunnerClient.maxAnswerBytes else {
                    throw CodeRunnerError.decoding("\(describe(target)): the answer is larger than \(CodeRunnerClient.maxAnswerBytes) bytes")
                }
            }
        } catch let error as CodeRunnerError {
            throw error
        } catch {
            if error is CancellationError || Task.isCancelled { throw .cancelled }
            throw .transport("\(describe(target)): \(error)")
        }
        return bytes
    }

    private static func decode<T: Decodable>(_ type: T.Type, from body: [UInt8]) throws(CodeRunnerError) -> T {
        do {
            return try JSONDecoderFactory.make().decode(T.self, from: Data(body))
        } catch {
            throw .decoding("\(T.self): \(error)")
        }
    }

    private static func describe(_ target: EventStreamTarget) -> String {
        switch target {
        case .run: "POST /run"
        case .job(let id, _): "GET /jobs/\(id)/events"
        }
    }
}

extension Job {
    /// The completed job of a `POST /run` answer (a service that does not stream).
    init(completedWith result: ExecutionResult) {
        self.id = result.jobID
        self.kind = "run"
        self.status = .completed
        self.result = result
    }
}
