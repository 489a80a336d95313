import Foundation
import Testing

@testable import CodeRunnerClient

/// Following a job's events across connections, against a scripted service (no I/O): resuming
/// after the last event, never delivering one twice, giving up, errors and cancellation.
@Suite(.timeLimit(.minutes(1)))
struct JobEventFollowerTests {
    /// Reconnects at once, three times in a row at most.
    static let quickPolicy = ReconnectPolicy(maxFailures: 3, firstDelay: .zero, maxDelay: .zero)

    /// What following `start` against `connector` delivered, and the error it ended with.
    func follow(_ start: EventStreamTarget, _ connector: ScriptedConnector) async -> (events: [JobEvent], error: CodeRunnerError?) {
        var events: [JobEvent] = []
        let follower = JobEventFollower(connector: connector, policy: Self.quickPolicy)
        do {
            try await follower.follow(start) { event in
                events.append(event)
                return true
            }
            return (events, nil)
        } catch {
            return (events, error)
        }
    }

    static let job = EventStreamTarget.job(id: "j-1", after: nil)

    @Test("one connection read to the result; what follows the result is not read")
    func oneConnection() async throws {
        let connector = ScriptedConnector([
            .stream(
                [
                    Wire.status("0:0:0", "queued"), Wire.status("1:0:0", "running", attempt: 1),
                    Wire.output(.stdout, "1:6:0", offset: 0, "hello\n"), Wire.output(.stderr, "1:6:4", offset: 0, "oops"),
                    Wire.status("1:6:4", "finished", state: "completed"), Wire.result("1:6:4"),
                    Wire.output(.stdout, "1:9:4", offset: 6, "after"),
                ],
                end: .hangs
            )
        ])
        let (events, error) = await follow(Self.job, connector)
        #expect(error == nil)
        #expect(
            events == [
                Expected.status("0:0:0", .queued), Expected.status("1:0:0", .running, attempt: 1),
                Expected.output(.stdout, "1:6:0", offset: 0, "hello\n"), Expected.output(.stderr, "1:6:4", offset: 0, "oops"),
                Expected.status("1:6:4", .finished, state: .completed), try Expected.result("1:6:4"),
            ]
        )
        #expect(connector.opened == [Self.job])
    }

    @Test("a connection that breaks or closes early is resumed after the last event; each event arrives once")
    func resumesAfterTheLastEvent() async throws {
        let connector = ScriptedConnector([
            // breaks in the middle of an event, which is dropped
            .stream(
                [
                    Wire.status("0:0:0", "queued"), Wire.status("1:0:0", "running", attempt: 1),
                    Wire.output(.stdout, "1:3:0", offset: 0, "hel"), "event: stdout\nid: 1:6:0\ndata: {\"attempt\":1,\"offs",
                ],
                end: .breaks
            ),
            // repeats a chunk the consumer has half seen, then closes before the result
            .stream([Wire.output(.stdout, "1:6:0", offset: 0, "hello\n"), Wire.status("1:6:0", "finished", state: "completed")], end: .closes),
            // repeats the finished status (its id is the result's)
            .stream([Wire.status("1:6:0", "finished", state: "completed"), Wire.result("1:6:0")], end: .closes),
        ])
        let (events, error) = await follow(Self.job, connector)
        #expect(error == nil)
        #expect(
            events == [
                Expected.status("0:0:0", .queued), Expected.status("1:0:0", .running, attempt: 1),
                Expected.output(.stdout, "1:3:0", offset: 0, "hel"), Expected.output(.stdout, "1:6:0", offset: 3, "lo\n"),
                Expected.status("1:6:0", .finished, state: .completed), try Expected.result("1:6:0"),
            ]
        )
        #expect(connector.opened == [Self.job, .job(id: "j-1", after: "1:3:0"), .job(id: "j-1", after: "1:6:0")])
    }

    @Test("a stream started after a cursor skips output the cursor covers")
    func startsAfterACursor() async throws {
        let connector = ScriptedConnector([
            .stream(
                [Wire.output(.stdout, "1:6:0", offset: 0, "hello\n"), Wire.output(.stdout, "1:9:0", offset: 6, "bye"), Wire.result("1:9:0")],
                end: .closes
            )
        ])
        let (events, error) = await follow(.job(id: "j-1", after: "1:3:0"), connector)
        #expect(error == nil)
        #expect(
            events == [
                Expected.output(.stdout, "1:6:0", offset: 3, "lo\n"), Expected.output(.stdout, "1:9:0", offset: 6, "bye"),
                try Expected.result("1:9:0"),
            ]
        )
    }

    @Test("a cut inside a character moves to the next whole one")
    func cutInsideACharacter() async throws {
        // "é" is bytes 0-1; the consumer has seen 1 byte of it (a service bug): "x" follows.
        let connector = ScriptedConnector([.stream([Wire.output(.stdout, "1:3:0", offset: 0, "éx"), Wire.result("1:3:0")], end: .closes)])
        let (events, _) = await follow(.job(id: "j-1", after: "1:1:0"), connector)
        #expect(events.first == Expected.output(.stdout, "1:3:0", offset: 2, "x"))
    }

    @Test("after a retry the new attempt's output starts again at 0; the lost attempt's late chunks are dropped")
    func retryStartsOver() async throws {
        let connector = ScriptedConnector([
            .stream(
                [
                    Wire.status("1:0:0", "running", attempt: 1), Wire.output(.stdout, "1:3:0", offset: 0, "abc"),
                    Wire.status("2:0:0", "running", attempt: 2, retry: true), Wire.output(.stdout, "1:6:0", offset: 3, "def"),
                    Wire.output(.stdout, "2:3:0", attempt: 2, offset: 0, "abc"), Wire.result("2:3:0", stdout: "abc"),
                ],
                end: .closes
            )
        ])
        let (events, error) = await follow(Self.job, connector)
        #expect(error == nil)
        #expect(
            events == [
                Expected.status("1:0:0", .running, attempt: 1), Expected.output(.stdout, "1:3:0", offset: 0, "abc"),
                Expected.status("2:0:0", .running, attempt: 2, retry: true), Expected.output(.stdout, "2:3:0", attempt: 2, offset: 0, "abc"),
                try Expected.result("2:3:0", stdout: "abc"),
            ]
        )
    }

    @Test("it gives up after the policy's failures in a row without an event: a transport error")
    func givesUp() async {
        let connector = ScriptedConnector([
            .stream([Wire.status("0:0:0", "queued")], end: .breaks), .unreachable, .stream([], end: .closes), .unreachable,
        ])
        let (events, error) = await follow(Self.job, connector)
        #expect(events == [Expected.status("0:0:0", .queued)])
        guard case .transport(let message) = error else {
            Issue.record("expected a transport error, got \(String(describing: error))")
            return
        }
        #expect(message.hasPrefix("GET /jobs/j-1/events: "))
        #expect(connector.opened.count == 4)
    }

    @Test("a service that cannot be reached at all is an error at once, without retries")
    func unreachable() async {
        let connector = ScriptedConnector([.unreachable])
        let (_, error) = await follow(Self.job, connector)
        guard case .transport = error else {
            Issue.record("expected a transport error, got \(String(describing: error))")
            return
        }
        #expect(connector.opened.count == 1)
    }

    @Test("POST /run that breaks goes on with GET /jobs/{id}/events, the id from X-Job-Id or the first status")
    func runResumes() async throws {
        let request = RunRequest(code: "print('hello')")
        let withHeader = ScriptedConnector([
            .stream([], end: .breaks, jobID: "j-1"),
            .stream([Wire.status("0:0:0", "queued"), Wire.result("1:6:0")], end: .closes),
        ])
        let (first, firstError) = await follow(.run(request), withHeader)
        #expect(firstError == nil)
        #expect(first.count == 2)
        #expect(withHeader.opened == [.run(request), .job(id: "j-1", after: nil)])

        let fromStatus = ScriptedConnector([
            .stream([Wire.status("0:0:0", "queued")], end: .breaks),
            .stream([Wire.result("1:6:0")], end: .closes),
        ])
        let (second, secondError) = await follow(.run(request), fromStatus)
        #expect(secondError == nil)
        #expect(second == [Expected.status("0:0:0", .queued), try Expected.result("1:6:0")])
        #expect(fromStatus.opened == [.run(request), .job(id: "j-1", after: "0:0:0")])
    }

    @Test("POST /run that breaks before the job's id is a transport error: it is not sent again")
    func runBreaksEarly() async {
        let connector = ScriptedConnector([.stream([": keep-alive\n"], end: .breaks)])
        let (events, error) = await follow(.run(RunRequest(code: "1")), connector)
        #expect(events.isEmpty)
        guard case .transport(let message) = error else {
            Issue.record("expected a transport error, got \(String(describing: error))")
            return
        }
        #expect(message.hasPrefix("POST /run: "))
        #expect(connector.opened.count == 1)
    }

    @Test("error answers are the usual CodeRunnerErrors: 422 invalidRequest with its issues, 404 notFound, 503")
    func errorAnswers() async {
        let invalid = ScriptedConnector([
            .plain(status: 422, body: #"{"detail":[{"loc":["body","timeout"],"msg":"Input should be greater than 0","type":"greater_than"}]}"#)
        ])
        guard case .invalidRequest(422, _, let issues) = await follow(.run(RunRequest(code: "1")), invalid).error else {
            Issue.record("expected invalidRequest")
            return
        }
        #expect(issues.map(\.location) == [["body", "timeout"]])

        let missing = ScriptedConnector([.plain(status: 404, body: #"{"detail":"Job 'j-1' not found."}"#)])
        #expect(await follow(Self.job, missing).error == .notFound("Job 'j-1' not found."))

        let unavailable = ScriptedConnector([.plain(status: 503, body: #"{"detail":"No worker."}"#)])
        #expect(await follow(Self.job, unavailable).error == .serviceUnavailable("No worker."))
    }

    @Test("a 503 while reconnecting is retried like a broken connection")
    func gatewayErrorWhileReconnecting() async throws {
        let connector = ScriptedConnector([
            .stream([Wire.status("0:0:0", "queued")], end: .breaks),
            .plain(status: 503, body: "Service Unavailable", contentType: "text/plain"),
            .stream([Wire.result("1:6:0")], end: .closes),
        ])
        let (events, error) = await follow(Self.job, connector)
        #expect(error == nil)
        #expect(events.last == (try Expected.result("1:6:0")))
    }

    @Test("a service that does not stream: POST /run's JSON result (200) or job (202, then waited for) is the one event")
    func plainRunAnswers() async throws {
        let result = #"{"job_id":"j-2","stdout":"hi\n","stderr":"","exit_code":0,"execution_time":0.1}"#
        let (events, error) = await follow(.run(RunRequest(code: "print('hi')")), ScriptedConnector([.plain(status: 200, body: result)]))
        #expect(error == nil)
        guard events.count == 1, case .result(let job) = events[0].kind else {
            Issue.record("expected one result event, got \(events)")
            return
        }
        #expect(events[0].id.isEmpty)
        #expect(job.id == "j-2")
        #expect(job.status == .completed)
        #expect(try job.outcome().stdout == "hi\n")

        let queued = ScriptedConnector([.plain(status: 202, body: #"{"job_id":"j-1","status":"queued"}"#)], waitAnswer: try Wire.decodedJob())
        let (waited, waitError) = await follow(.run(RunRequest(code: "print('hello')")), queued)
        #expect(waitError == nil)
        #expect(waited == [JobEvent(id: "", kind: .result(try Wire.decodedJob()))])
        #expect(queued.waitedFor == ["j-1"])
    }

    @Test("GET /jobs/{id}/events answered with JSON is a decoding error")
    func eventsNotStreamed() async {
        let (_, error) = await follow(Self.job, ScriptedConnector([.plain(status: 200, body: "{}")]))
        guard case .decoding(let message) = error else {
            Issue.record("expected a decoding error, got \(String(describing: error))")
            return
        }
        #expect(message.contains("not text/event-stream"))
    }

    @Test("an undecodable event ends the stream with a decoding error, not a reconnection")
    func undecodableEvent() async {
        let connector = ScriptedConnector([.stream([Wire.event("status", "0:0:0", "{")], end: .hangs)])
        guard case .decoding = await follow(Self.job, connector).error else {
            Issue.record("expected a decoding error")
            return
        }
        #expect(connector.opened.count == 1)
    }

    @Test("the AsyncThrowingStream throws the CodeRunnerError itself")
    func streamThrowsCodeRunnerError() async {
        let follower = JobEventFollower(connector: ScriptedConnector([.plain(status: 401, body: #"{"detail":"Invalid API Key"}"#)]))
        do {
            for try await event in follower.events(Self.job) { Issue.record("unexpected \(event)") }
            Issue.record("expected an error")
        } catch {
            #expect(error as? CodeRunnerError == .unauthorized("Invalid API Key"))
        }
    }

    @Test("cancelling the consuming task ends the connection")
    func cancellationEndsTheConnection() async throws {
        let connector = ScriptedConnector([.stream([Wire.status("0:0:0", "queued")], end: .hangs)])
        let stream = JobEventFollower(connector: connector).events(Self.job)
        let (seen, seenContinuation) = AsyncStream<JobEvent>.makeStream()
        let consumer = Task {
            for try await event in stream { seenContinuation.yield(event) }
        }
        var seenEvents = seen.makeAsyncIterator()
        #expect(await seenEvents.next() == Expected.status("0:0:0", .queued))
        consumer.cancel()
        var left = connector.bodiesLeft.makeAsyncIterator()
        _ = await left.next()
        _ = try await consumer.value
    }

    @Test("back-off: doubling from the first delay (or the service's retry time) up to the longest")
    func backOff() {
        let policy = ReconnectPolicy.standard
        #expect(
            (1...6).map { policy.delay(after: $0) } == [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(4)]
        )
        #expect(policy.delay(after: 2, firstDelay: .milliseconds(100)) == .milliseconds(200))
        #expect(policy.delay(after: 1, firstDelay: .seconds(60)) == .seconds(4))
    }
}
