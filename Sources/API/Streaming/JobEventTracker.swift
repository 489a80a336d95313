import Foundation
import Queue

/// What one client of `GET /jobs/{id}/events` has been told, and what it is told next: a plain
/// value fed with what the store says (the job, its new output chunks), unit-tested without I/O.
///
/// - `status queued` when the job is waiting; `status running` with the attempt when an attempt
///   begins, `retry: true` from the second on (that attempt's output starts again at 0);
///   `status finished` with the state, then `result` with the job's JSON, and the stream is done.
/// - Output is sent from the cursor on: a chunk the cursor already covers is skipped, one that
///   straddles it is cut; chunks of an older attempt than the cursor's are void.
/// - A finished job's output comes from its result (the chunks are only the live view): the
///   final attempt's stdout and stderr past the cursor.
/// - An attempt a worker gave back (shutdown: the job is queued again with its attempt count
///   lowered, and the next claim reuses the number) is a restart too: its next run is announced
///   with `retry: true` and starts at 0. Seen live, either by the job's count dropping below the
///   cursor's attempt, or by a new chunk of the same attempt that begins before what was sent.
///   (A client that resumes only after such a rerun began cannot be told; its cursor's offsets
///   then skip the rerun's first bytes.)
struct JobEventTracker {
    let jobID: String
    private(set) var cursor: EventCursor
    /// The last chunk read, for the next query.
    private(set) var lastSequence: Int64 = 0
    private(set) var isFinished = false
    private var toldQueued: Bool
    /// Whether the next attempt to begin is a rerun of one given back (`retry` even for attempt 1).
    private var restartPending = false
    /// Set after the first read: from then on chunks are new ones (after `lastSequence`), so one
    /// that begins before the cursor can only be a rerun's.
    private var isLive = false

    /// - Parameter resuming: the client's `Last-Event-ID`; nil for a stream from the start.
    init(jobID: String, resuming: EventCursor?) {
        self.jobID = jobID
        cursor = resuming ?? .start
        // a resumed client has had the first event already
        toldQueued = resuming != nil
    }

    /// The events `job` and its new `chunks` (read after the job) make.
    /// - Parameters:
    ///   - result: the finished job's result, decoded (nil for one without, or not finished).
    ///   - jobJSON: the job's JSON as `GET /jobs/{id}` answers it, for the `result` event.
    mutating func events(for job: Job, result: RunResult?, chunks: [StoredOutputChunk], jobJSON: () -> Data) -> [ServerSentEvent] {
        guard !isFinished else { return [] }
        var events: [ServerSentEvent] = []
        // only as the first event: a job requeued later shows as its next attempt's `retry`
        if job.state == .queued, !toldQueued { events.append(status("queued")) }
        toldQueued = true
        if isLive, job.state == .queued, job.attempts < cursor.attempt {
            // the attempt was given back: its number is claimed again
            cursor = EventCursor(attempt: job.attempts, stdout: 0, stderr: 0)
            restartPending = true
        }
        if job.state != .queued, job.attempts > cursor.attempt {
            begin(attempt: job.attempts, into: &events)
        }
        for chunk in chunks {
            lastSequence = max(lastSequence, chunk.sequence)
            guard !job.state.isFinal else { continue }
            if chunk.attempt > cursor.attempt { begin(attempt: chunk.attempt, into: &events) }
            guard chunk.attempt == cursor.attempt else { continue }
            if isLive, chunk.offset < cursor[chunk.channel] {
                restartPending = true
                begin(attempt: chunk.attempt, into: &events)
            }
            send(chunk.text, at: chunk.offset, on: chunk.channel, into: &events)
        }
        isLive = true
        guard job.state.isFinal else { return events }
        if let result, job.attempts == cursor.attempt {
            send(result.stdout, at: 0, on: .stdout, into: &events)
            send(result.stderr, at: 0, on: .stderr, into: &events)
        }
        events.append(status("finished", state: job.state.rawValue))
        events.append(ServerSentEvent(name: "result", id: cursor, data: jobJSON()))
        isFinished = true
        return events
    }

    private mutating func begin(attempt: Int, into events: inout [ServerSentEvent]) {
        cursor = EventCursor(attempt: attempt, stdout: 0, stderr: 0)
        events.append(status("running", attempt: attempt, retry: attempt > 1 || restartPending ? true : nil))
        restartPending = false
    }

    /// The part of `text` (which starts at byte `offset` of the stream) past the cursor.
    private mutating func send(_ text: String, at offset: Int, on channel: OutputChannel, into events: inout [ServerSentEvent]) {
        let bytes = Array(text.utf8)
        let sent = cursor[channel]
        let end = offset + bytes.count
        guard end > sent else { return }
        let start = max(offset, sent)
        let part = String(decoding: bytes[(start - offset)...], as: UTF8.self)
        cursor[channel] = end
        let body = StreamEventBody.Output(attempt: cursor.attempt, offset: start, text: part)
        events.append(ServerSentEvent(name: channel.rawValue, id: cursor, data: StreamEventBody.json(body)))
    }

    private func status(_ status: String, attempt: Int? = nil, retry: Bool? = nil, state: String? = nil) -> ServerSentEvent {
        let body = StreamEventBody.Status(jobID: jobID, status: status, attempt: attempt, retry: retry, state: state)
        return ServerSentEvent(name: "status", id: cursor, data: StreamEventBody.json(body))
    }
}
