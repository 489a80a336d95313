import CodeRunnerClient
import Foundation
import Testing

/// Live output against the service: `POST /run` streaming and `GET /jobs/{id}/events`.
@Suite("streaming", .needsService, .timeLimit(.minutes(3)))
struct StreamingTests {
    let client = Service.client

    /// Prints `count` numbered lines to stdout (and every other one to stderr), flushing each,
    /// with pauses between them so that they leave the worker in several pieces.
    static func printer(lines count: Int, pause: Double = 0.3) -> String {
        """
        import sys, time
        for i in range(\(count)):
            print(i, flush=True)
            if i % 2 == 0:
                print("e" + str(i), file=sys.stderr, flush=True)
            time.sleep(\(pause))
        """
    }

    static func expectedStdout(lines count: Int) -> String {
        (0..<count).map { "\($0)\n" }.joined()
    }

    /// Every event of `events` up to the end of the sequence.
    func collect(_ events: AsyncThrowingStream<JobEvent, any Error>) async throws -> [JobEvent] {
        var collected: [JobEvent] = []
        for try await event in events { collected.append(event) }
        return collected
    }

    /// The output chunks of `events`, in order.
    func chunks(_ events: [JobEvent], _ channel: OutputChannel? = nil) -> [OutputChunk] {
        events.compactMap { event in
            guard case .output(let chunk) = event.kind, channel == nil || chunk.channel == channel else { return nil }
            return chunk
        }
    }

    func statuses(_ events: [JobEvent]) -> [JobStatusUpdate] {
        events.compactMap { event in
            guard case .status(let update) = event.kind else { return nil }
            return update
        }
    }

    func resultJob(_ events: [JobEvent]) -> Job? {
        guard case .result(let job) = events.last?.kind else { return nil }
        return job
    }

    /// `attempt:stdout:stderr` of an event id.
    func cursor(_ id: String) -> [Int]? {
        let parts = id.split(separator: ":", omittingEmptySubsequences: false).compactMap { Int($0) }
        return parts.count == 3 ? parts : nil
    }

    @Test("runStreaming: queued, running, output, finished, result; the result's output is the events' output")
    func runStreamingLifecycle() async throws {
        let events = try await collect(client.runStreaming(RunRequest(runtime: .python, code: Self.printer(lines: 4))))
        let stages = statuses(events).map(\.status)
        #expect(stages.first == .queued)
        #expect(stages.contains(.running))
        #expect(stages.last == .finished)
        #expect(statuses(events).last?.state == .completed)
        let job = try #require(resultJob(events), "the last event is the result")
        let result = try job.outcome()
        #expect(result.stdout == Self.expectedStdout(lines: 4))
        #expect(chunks(events, .stdout).map(\.text).joined() == result.stdout)
        #expect(chunks(events, .stderr).map(\.text).joined() == result.stderr)
        #expect(result.stderr == "e0\ne2\n")
        #expect(Set(statuses(events).map(\.jobID)) == [job.id])

        // the order: queued, then running before any output, output before finished
        let kinds = events.map { event -> String in
            switch event.kind {
            case .status(let update): update.status.rawValue
            case .output: "output"
            case .result: "result"
            }
        }
        let firstOutput = try #require(kinds.firstIndex(of: "output"))
        #expect(kinds.firstIndex(of: "running").map { $0 < firstOutput } == true)
        #expect(kinds.lastIndex(of: "output").map { $0 < kinds.firstIndex(of: "finished") ?? -1 } == true)
        #expect(kinds.suffix(2) == ["finished", "result"])
    }

    @Test("events arrive in order as the program prints them; offsets add up; ids are the cursors after each event")
    func offsetsAndCursors() async throws {
        let events = try await collect(client.runStreaming(RunRequest(runtime: .python, code: Self.printer(lines: 6))))
        let stdout = chunks(events, .stdout)
        #expect(stdout.map(\.text).joined() == Self.expectedStdout(lines: 6))
        #expect(stdout.count >= 2, "six lines 0.3 s apart leave the worker in more than one piece")
        var ends: [OutputChannel: Int] = [:]
        for event in events {
            let position = try #require(cursor(event.id), "'\(event.id)' is a cursor")
            guard case .output(let chunk) = event.kind else { continue }
            #expect(chunk.offset == ends[chunk.channel, default: 0], "each chunk starts where the last ended")
            ends[chunk.channel] = chunk.endOffset
            #expect(position == [chunk.attempt, ends[.stdout, default: 0], ends[.stderr, default: 0]])
        }
        #expect(ends[.stdout] == Self.expectedStdout(lines: 6).utf8.count)
        #expect(ends[.stderr] == "e0\ne2\ne4\n".utf8.count)
    }

    @Test("leaving a live stream and resuming after a mid-stream id yields exactly the rest")
    func resumeWhileRunning() async throws {
        var seen: [JobEvent] = []
        for try await event in client.runStreaming(RunRequest(runtime: .python, code: Self.printer(lines: 8))) {
            seen.append(event)
            if case .output(let chunk) = event.kind, chunk.channel == .stdout { break }
        }
        let jobID = try #require(statuses(seen).first?.jobID)
        let last = try #require(seen.last)
        let rest = try await collect(client.events(jobID: jobID, after: last.id))
        #expect(!statuses(rest).contains { $0.status == .queued }, "what the cursor covers is not sent again")
        let all = seen + rest
        let result = try #require(resultJob(rest)).outcome()
        #expect(chunks(all, .stdout).map(\.text).joined() == result.stdout)
        #expect(chunks(all, .stderr).map(\.text).joined() == result.stderr)
        #expect(result.stdout == Self.expectedStdout(lines: 8))
        let firstResumed = chunks(rest, .stdout).first
        #expect(firstResumed == nil || firstResumed?.offset == cursor(last.id)?[1])
    }

    @Test("a finished job replays from any of its ids: exactly the rest, then finished and result")
    func replayAfterTheEnd() async throws {
        let live = try await collect(client.runStreaming(RunRequest(runtime: .python, code: Self.printer(lines: 6))))
        let job = try #require(resultJob(live))
        let stdout = try job.outcome().stdout

        let replay = try await collect(client.events(jobID: job.id))
        #expect(chunks(replay, .stdout).map(\.text).joined() == stdout)
        #expect(resultJob(replay) == job)

        for event in live {
            guard case .output = event.kind, let position = cursor(event.id) else { continue }
            let rest = try await collect(client.events(jobID: job.id, after: event.id))
            let expected = String(decoding: Array(stdout.utf8).dropFirst(position[1]), as: UTF8.self)
            #expect(chunks(rest, .stdout).map(\.text).joined() == expected, "after \(event.id)")
            #expect(chunks(rest, .stdout).first.map { $0.offset == position[1] } ?? true)
            #expect(statuses(rest).last?.status == .finished)
            #expect(resultJob(rest) == job)
        }
    }

    @Test("an invalid request is invalidRequest (422) before any event")
    func invalidRequest() async {
        let error = await streamError(client.runStreaming(RunRequest(runtime: .python, code: "print(1)", timeout: 0)))
        guard case .invalidRequest(422, _, let issues) = error else {
            Issue.record("expected invalidRequest, got \(String(describing: error))")
            return
        }
        #expect(issues.contains { $0.location.contains("timeout") })
    }

    @Test("an unknown job is notFound; a malformed cursor is invalidRequest naming last_event_id; a wrong key is unauthorized")
    func streamErrors() async throws {
        let unknown = await streamError(client.events(jobID: "no-such-job"))
        guard case .notFound = unknown else {
            Issue.record("expected notFound, got \(String(describing: unknown))")
            return
        }
        let submitted = try await client.submit(RunRequest(runtime: .python, code: "print(1)"))
        let malformed = await streamError(client.events(jobID: submitted.id, after: "not-a-cursor"))
        guard case .invalidRequest(422, let message, let issues) = malformed else {
            Issue.record("expected invalidRequest, got \(String(describing: malformed))")
            return
        }
        #expect(message.contains("last_event_id") || issues.contains { $0.location.contains("last_event_id") })
        let wrongKey = await streamError(Service.clientWithWrongKey.events(jobID: submitted.id))
        guard case .unauthorized = wrongKey else {
            Issue.record("expected unauthorized, got \(String(describing: wrongKey))")
            return
        }
        _ = try await client.wait(id: submitted.id, timeout: .seconds(120))
    }

    /// The error `events` ends with (`nil` when it ends without one), recording any event.
    func streamError(_ events: AsyncThrowingStream<JobEvent, any Error>) async -> CodeRunnerError? {
        do {
            for try await event in events { Issue.record("unexpected \(event)") }
            return nil
        } catch {
            guard let error = error as? CodeRunnerError else {
                Issue.record("not a CodeRunnerError: \(error)")
                return nil
            }
            return error
        }
    }
}
