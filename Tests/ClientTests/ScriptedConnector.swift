import Foundation
import Synchronization
import Testing

@testable import CodeRunnerClient

/// A fake service for ``JobEventFollower``: it answers each connection with the next scripted
/// answer and records what was asked for.
final class ScriptedConnector: EventStreamConnector {
    typealias Body = AsyncThrowingStream<[UInt8], any Error>

    /// One connection's answer.
    enum Answer: Sendable {
        /// An event stream of these pieces, then the connection ends as `end` says.
        case stream([String], end: End, jobID: String? = nil)
        /// A plain answer: an error, or the JSON of a service that does not stream.
        case plain(status: Int, body: String, contentType: String = "application/json")
        /// The service cannot be reached.
        case unreachable
    }

    /// How a stream's connection ends after its pieces.
    enum End: Sendable {
        /// The service closes it.
        case closes
        /// It breaks (a reset).
        case breaks
        /// It stays open until the reader leaves.
        case hangs
    }

    struct Unreachable: Error {}
    struct ConnectionReset: Error {}

    private struct State {
        var answers: [Answer]
        var opened: [EventStreamTarget] = []
        var waitedFor: [String] = []
    }

    private let state: Mutex<State>
    private let waitAnswer: Job?
    /// Yields once for each hanging body its reader left.
    let bodiesLeft: AsyncStream<Void>
    private let bodyLeft: AsyncStream<Void>.Continuation

    init(_ answers: [Answer], waitAnswer: Job? = nil) {
        state = Mutex(State(answers: answers))
        self.waitAnswer = waitAnswer
        (bodiesLeft, bodyLeft) = AsyncStream.makeStream()
    }

    /// The connections asked for, in order.
    var opened: [EventStreamTarget] { state.withLock { $0.opened } }
    /// The jobs ``wait(jobID:)`` was asked about.
    var waitedFor: [String] { state.withLock { $0.waitedFor } }

    func open(_ target: EventStreamTarget) async throws -> EventStreamAnswer<Body> {
        let next = state.withLock { state in
            state.opened.append(target)
            return state.answers.isEmpty ? nil : state.answers.removeFirst()
        }
        guard let next else {
            Issue.record("a connection that was not scripted: \(target)")
            throw Unreachable()
        }
        switch next {
        case .unreachable:
            throw Unreachable()
        case .plain(let status, let body, let contentType):
            let (stream, continuation) = Body.makeStream()
            continuation.yield(Array(body.utf8))
            continuation.finish()
            return EventStreamAnswer(status: status, contentType: contentType, body: stream)
        case .stream(let pieces, let end, let jobID):
            let (stream, continuation) = Body.makeStream()
            for piece in pieces { continuation.yield(Array(piece.utf8)) }
            switch end {
            case .closes: continuation.finish()
            case .breaks: continuation.finish(throwing: ConnectionReset())
            case .hangs: continuation.onTermination = { [bodyLeft] _ in bodyLeft.yield() }
            }
            return EventStreamAnswer(status: 200, contentType: "text/event-stream; charset=utf-8", jobID: jobID, body: stream)
        }
    }

    func wait(jobID: String) async throws(CodeRunnerError) -> Job {
        state.withLock { $0.waitedFor.append(jobID) }
        guard let waitAnswer else { throw .timedOut(jobID: jobID) }
        return waitAnswer
    }
}

extension EventStreamAnswer {
    init(status: Int, contentType: String?, jobID: String? = nil, body: Body) {
        self.init(status: status, contentType: contentType, jobID: jobID, retryAfter: nil, body: body)
    }
}

/// The wire text of events, as the stream contract writes them.
enum Wire {
    static func status(_ id: String, _ status: String, attempt: Int? = nil, retry: Bool = false, state: String? = nil) -> String {
        var fields = [#""job_id":"j-1""#, #""status":"\#(status)""#]
        if let attempt { fields.append(#""attempt":\#(attempt)"#) }
        if retry { fields.append(#""retry":true"#) }
        if let state { fields.append(#""state":"\#(state)""#) }
        return event("status", id, "{" + fields.joined(separator: ",") + "}")
    }

    static func output(_ channel: OutputChannel, _ id: String, attempt: Int = 1, offset: Int, _ text: String) -> String {
        let quoted = String(decoding: (try? JSONEncoder().encode(text)) ?? Data(), as: UTF8.self)
        return event(channel.rawValue, id, #"{"attempt":\#(attempt),"offset":\#(offset),"text":\#(quoted)}"#)
    }

    static func result(_ id: String, stdout: String = "hello\n") -> String {
        event("result", id, job(stdout: stdout).replacingOccurrences(of: "\n", with: ""))
    }

    static func event(_ type: String, _ id: String, _ data: String) -> String {
        "event: \(type)\nid: \(id)\ndata: \(data)\n\n"
    }

    static func job(stdout: String) -> String {
        let quoted = String(decoding: (try? JSONEncoder().encode(stdout)) ?? Data(), as: UTF8.self)
        return #"""
            {"job_id":"j-1","kind":"run","status":"completed","attempts":1,
            "result":{"job_id":"j-1","stdout":\#(quoted),"stderr":"","exit_code":0,"execution_time":0.1}}
            """#
    }

    static func decodedJob(stdout: String = "hello\n") throws -> Job {
        try JSONDecoder().decode(Job.self, from: Data(job(stdout: stdout).utf8))
    }
}

/// The events expected of a stream.
enum Expected {
    static func status(
        _ id: String,
        _ status: JobStatusUpdate.Status,
        attempt: Int? = nil,
        retry: Bool = false,
        state: JobStatus? = nil
    )
        -> JobEvent
    {
        JobEvent(id: id, kind: .status(JobStatusUpdate(jobID: "j-1", status: status, attempt: attempt, isRetry: retry, state: state)))
    }

    static func output(_ channel: OutputChannel, _ id: String, attempt: Int = 1, offset: Int, _ text: String) -> JobEvent {
        JobEvent(id: id, kind: .output(OutputChunk(channel: channel, attempt: attempt, offset: offset, text: text)))
    }

    static func result(_ id: String, stdout: String = "hello\n") throws -> JobEvent {
        JobEvent(id: id, kind: .result(try Wire.decodedJob(stdout: stdout)))
    }
}
