/// How far a job's event stream has got across its connections: what the next connection
/// resumes from, which events would repeat what the consumer has seen, and whether to try again
/// after a connection broke.
///
/// The service already resumes exactly after the cursor it is given; this also guards the
/// consumer against what a cursor cannot tell apart (a `finished` status and the `result` share
/// one), so no event reaches it twice.
struct StreamProgress: Sendable {
    let policy: ReconnectPolicy
    /// The job, once known: from the start, from `X-Job-Id`, or from the first status event.
    private(set) var jobID: String?
    /// The last event's id: the `Last-Event-ID` of the next connection.
    private(set) var cursor: String?
    /// Whether the stream has delivered the `result` event (its end).
    private(set) var isFinished = false
    /// Whether a connection has answered with an event stream: only then is a broken one retried
    /// (a service that cannot be reached at all is an error at once).
    private(set) var hasConnected = false
    /// The service's `retry:` time, which replaces the policy's first delay.
    var serviceDelay: Duration?

    private var failures = 0
    private var deliveredOnConnection = false
    private var lastStatus: JobEvent?
    private var attempt = 0
    private var delivered: [OutputChannel: Int] = [:]

    /// The progress of a stream that starts after `cursor` (the events up to it already seen).
    init(jobID: String?, cursor: String?, policy: ReconnectPolicy = .standard) {
        self.jobID = jobID
        self.cursor = cursor.flatMap { $0.isEmpty ? nil : $0 }
        self.policy = policy
        if let known = cursor.flatMap(EventCursor.init) {
            attempt = known.attempt
            delivered = [.stdout: known.stdoutBytes, .stderr: known.stderrBytes]
        }
    }

    /// What the next connection asks for: the rest of the job's events; `nil` while the job is
    /// unknown (a `POST /run` that broke before its id arrived).
    var resumption: EventStreamTarget? {
        jobID.map { .job(id: $0, after: cursor) }
    }

    /// A connection answered with an event stream about `jobID` (its `X-Job-Id`, if any).
    mutating func connected(jobID header: String?) {
        hasConnected = true
        deliveredOnConnection = false
        if jobID == nil, let header, !header.isEmpty { jobID = header }
    }

    /// Takes in an event the connection read and returns what the consumer should get: the
    /// event, the part of an output chunk it has not seen, or `nil` for a repeat (or a chunk of
    /// an attempt that was replaced).
    mutating func admit(_ event: JobEvent) -> JobEvent? {
        if !event.id.isEmpty { cursor = event.id }
        switch event.kind {
        case .status(let update):
            guard event != lastStatus else { return nil }
            lastStatus = event
            if jobID == nil { jobID = update.jobID }
            if let started = update.attempt, started != attempt { startAttempt(started) }
        case .output(let chunk):
            if chunk.attempt > attempt { startAttempt(chunk.attempt) }
            guard chunk.attempt == attempt, let unseen = unseenPart(of: chunk) else { return nil }
            delivered[chunk.channel] = unseen.endOffset
            return deliver(JobEvent(id: event.id, kind: .output(unseen)))
        case .result:
            isFinished = true
        }
        return deliver(event)
    }

    /// The connection broke (or ended before the result): the wait before the next one, or
    /// `nil` when the stream should give up.
    mutating func connectionBroke() -> Duration? {
        failures = deliveredOnConnection ? 1 : failures + 1
        deliveredOnConnection = false
        guard hasConnected, resumption != nil, failures <= policy.maxFailures else { return nil }
        return policy.delay(after: failures, firstDelay: serviceDelay)
    }

    private mutating func deliver(_ event: JobEvent) -> JobEvent {
        deliveredOnConnection = true
        return event
    }

    private mutating func startAttempt(_ number: Int) {
        attempt = number
        delivered = [:]
    }

    /// `chunk` without the bytes already delivered; `nil` when it has nothing new.
    private func unseenPart(of chunk: OutputChunk) -> OutputChunk? {
        let seen = delivered[chunk.channel] ?? 0
        guard chunk.endOffset > seen else { return nil }
        guard chunk.offset < seen else { return chunk }
        var rest = Array(chunk.text.utf8).dropFirst(seen - chunk.offset)
        // A cut inside a character moves on to the next whole one.
        while let first = rest.first, first & 0b1100_0000 == 0b1000_0000 { rest = rest.dropFirst() }
        guard !rest.isEmpty else { return nil }
        let text = String(decoding: rest, as: UTF8.self)
        return OutputChunk(channel: chunk.channel, attempt: chunk.attempt, offset: chunk.endOffset - rest.count, text: text)
    }
}
