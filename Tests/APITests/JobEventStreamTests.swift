import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Queue
import Testing

@testable import API

/// `JobEventStream` against a real SQLite store, with the store playing the worker: the events a
/// client reads while a job is queued, runs, loses its worker, reruns and finishes; a resumed
/// stream; a replay of a finished job.
struct JobEventStreamTests {
    let routes = APIRouteTests()

    /// A writer that hands every buffer to the test as it is written.
    struct RecordingWriter: ResponseBodyWriter {
        let sink: AsyncStream<ByteBuffer>.Continuation

        mutating func write(_ buffer: ByteBuffer) async throws { sink.yield(buffer) }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws { sink.finish() }
    }

    /// Parsed events as the stream wrote them, read one at a time.
    final class EventReader {
        private var iterator: AsyncStream<ByteBuffer>.Iterator
        private var pending = ""

        init(_ stream: AsyncStream<ByteBuffer>) { iterator = stream.makeAsyncIterator() }

        /// The next event (keep-alive comments skipped); nil when the stream ended.
        func next() async -> (name: String, id: String, data: [String: Any])? {
            while true {
                if let range = pending.range(of: "\n\n") {
                    let block = String(pending[..<range.lowerBound])
                    pending.removeSubrange(..<range.upperBound)
                    if block.hasPrefix(":") { continue }
                    var fields: [String: String] = [:]
                    for line in block.split(separator: "\n") {
                        guard let colon = line.firstIndex(of: ":") else { continue }
                        fields[String(line[..<colon])] = String(line[line.index(after: colon)...].dropFirst())
                    }
                    let data = (fields["data"]?.data(using: .utf8)).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
                    return (fields["event"] ?? "", fields["id"] ?? "", data)
                }
                guard let buffer = await iterator.next() else { return nil }
                pending += String(buffer: buffer)
            }
        }
    }

    /// Starts streaming `job`'s events; the reader sees them as they are written.
    func open(_ store: SQLiteJobStore, _ job: Job, resuming: EventCursor? = nil) -> (EventReader, Task<Void, any Error>) {
        let (buffers, sink) = AsyncStream<ByteBuffer>.makeStream()
        let stream = JobEventStream(store: store, job: job, owner: "", resuming: resuming)
        let task = Task {
            var writer = RecordingWriter(sink: sink)
            try await stream.stream(into: &writer)
            try await writer.finish(nil)
        }
        return (EventReader(buffers), task)
    }

    func enqueue(_ store: SQLiteJobStore) async throws -> Job {
        guard case .created(let job) = try await store.enqueue(NewJob(kind: .run, owner: "", payload: Data("{}".utf8)), maxQueueDepth: nil) else {
            throw EventStreamTestFailure("not created")
        }
        return job
    }

    func claim(_ store: SQLiteJobStore, worker: String) async throws -> ClaimedJob {
        let claimed = try await store.claim(worker: worker, limit: 1, leaseSeconds: 60)
        return try #require(claimed.first)
    }

    @Test("queued, running, output as it is stored, a lost worker's rerun marked retry, the rest from the result, then the job")
    func liveStreamThroughARetry() async throws {
        let store = try routes.freshStore()
        let job = try await enqueue(store)
        let (events, task) = open(store, job)

        var event = try #require(await events.next())
        #expect(event.name == "status" && event.data["status"] as? String == "queued" && event.id == "0:0:0")
        #expect(event.data["job_id"] as? String == job.publicID)

        let first = try await claim(store, worker: "w1")
        event = try #require(await events.next())
        #expect(event.name == "status" && event.data["status"] as? String == "running" && event.data["attempt"] as? Int == 1)
        #expect(event.data["retry"] == nil)

        #expect(try await store.appendOutput(first.lease, chunks: [OutputChunk(channel: .stdout, offset: 0, text: "one\n")]))
        event = try #require(await events.next())
        #expect(event.name == "stdout" && event.id == "1:4:0")
        #expect(event.data["text"] as? String == "one\n" && event.data["offset"] as? Int == 0 && event.data["attempt"] as? Int == 1)

        #expect(try await store.appendOutput(first.lease, chunks: [OutputChunk(channel: .stderr, offset: 0, text: "é!")]))
        event = try #require(await events.next())
        #expect(event.name == "stderr" && event.id == "1:4:3" && event.data["text"] as? String == "é!")

        // the worker is lost: its lease expires, the job reruns elsewhere
        #expect(try await store.expireLeases(ofWorker: "w1") == 1)
        #expect(try await store.reapExpiredLeases() == 1)
        let second = try await claim(store, worker: "w2")
        event = try #require(await events.next())
        #expect(event.name == "status" && event.data["attempt"] as? Int == 2 && event.data["retry"] as? Bool == true)
        #expect(event.id == "2:0:0")
        #expect(try await store.appendOutput(first.lease, chunks: [OutputChunk(channel: .stdout, offset: 4, text: "stale\n")]) == false)

        #expect(try await store.appendOutput(second.lease, chunks: [OutputChunk(channel: .stdout, offset: 0, text: "two\n")]))
        event = try #require(await events.next())
        #expect(event.name == "stdout" && event.id == "2:4:0" && event.data["text"] as? String == "two\n" && event.data["attempt"] as? Int == 2)

        let result = RunResult(stdout: "two\nthree\n", stderr: "", exitCode: 0, executionTime: 0.5)
        #expect(try await store.complete(second.lease, result: JSONEncoder().encode(result)))
        event = try #require(await events.next())
        #expect(event.name == "stdout" && event.data["offset"] as? Int == 4 && event.data["text"] as? String == "three\n" && event.id == "2:10:0")
        event = try #require(await events.next())
        #expect(event.name == "status" && event.data["status"] as? String == "finished" && event.data["state"] as? String == "completed")
        event = try #require(await events.next())
        #expect(event.name == "result" && event.data["status"] as? String == "completed" && event.data["job_id"] as? String == job.publicID)
        #expect((event.data["result"] as? [String: Any])?["stdout"] as? String == "two\nthree\n")
        #expect(await events.next() == nil)
        try await task.value
    }

    @Test("an attempt given back (a worker's shutdown) reruns under the same number: announced as a retry, its output from 0")
    func releasedAttemptRerun() async throws {
        let store = try routes.freshStore()
        let job = try await enqueue(store)
        let first = try await claim(store, worker: "w1")
        let (events, task) = open(store, try #require(try await store.job(publicID: job.publicID, owner: "")))
        var event = try #require(await events.next())
        #expect(event.data["status"] as? String == "running" && event.data["attempt"] as? Int == 1 && event.data["retry"] == nil)
        #expect(try await store.appendOutput(first.lease, chunks: [OutputChunk(channel: .stdout, offset: 0, text: "abc\n")]))
        event = try #require(await events.next())
        #expect(event.id == "1:4:0")

        #expect(try await store.release(first.lease))
        let again = try await claim(store, worker: "w2")
        #expect(again.job.attempts == 1)
        #expect(try await store.appendOutput(again.lease, chunks: [OutputChunk(channel: .stdout, offset: 0, text: "xy\n")]))
        event = try #require(await events.next())
        #expect(event.name == "status" && event.data["attempt"] as? Int == 1 && event.data["retry"] as? Bool == true, "\(event)")
        event = try #require(await events.next())
        #expect(event.name == "stdout" && event.data["text"] as? String == "xy\n" && event.data["offset"] as? Int == 0 && event.id == "1:3:0")

        let result = RunResult(stdout: "xy\n", stderr: "", exitCode: 0, executionTime: 0.1)
        #expect(try await store.complete(again.lease, result: JSONEncoder().encode(result)))
        var rest: [String] = []
        while let event = await events.next() { rest.append(event.name) }
        #expect(rest == ["status", "result"])
        try await task.value
    }

    @Test("a finished job replays its final attempt from the result; Last-Event-ID resumes with nothing repeated")
    func replayAndResume() async throws {
        let store = try routes.freshStore()
        let job = try await enqueue(store)
        let claimed = try await claim(store, worker: "w")
        let result = RunResult(stdout: "héllo\nworld\n", stderr: "warn\n", exitCode: 3, executionTime: 0.1)
        #expect(try await store.complete(claimed.lease, result: JSONEncoder().encode(result)))
        let finished = try #require(try await store.job(publicID: job.publicID, owner: ""))

        let (replay, replayTask) = open(store, finished)
        var names: [String] = []
        var stdout = ""
        var lastID = ""
        while let event = await replay.next() {
            names.append(event.name)
            if event.name == "stdout" { stdout += event.data["text"] as? String ?? "" }
            lastID = event.id
        }
        try await replayTask.value
        #expect(names == ["status", "stdout", "stderr", "status", "result"])
        #expect(stdout == "héllo\nworld\n")
        #expect(lastID == "1:13:5")

        // resumed in the middle of stdout (after "héllo\n", 7 bytes): the rest only
        let (resumed, resumedTask) = open(store, finished, resuming: EventCursor(attempt: 1, stdout: 7, stderr: 5))
        var rest: [(String, String)] = []
        while let event = await resumed.next() { rest.append((event.name, event.data["text"] as? String ?? "")) }
        try await resumedTask.value
        #expect(rest.map(\.0) == ["stdout", "status", "result"])
        #expect(rest.first?.1 == "world\n")
    }

    @Test("the cursor: three decimal numbers; anything else is not one")
    func cursorParsing() {
        #expect(EventCursor("2:10:0") == EventCursor(attempt: 2, stdout: 10, stderr: 0))
        #expect(EventCursor("2:10:0")?.description == "2:10:0")
        for bad in ["", "1:2", "1:2:3:4", "a:1:2", "-1:0:0", "1::2", " 1:2:3", "1:2:99999999999999999999", "+1:0:0"] {
            #expect(EventCursor(bad) == nil, "\(bad)")
        }
    }

    @Test("GET /jobs/{id}/events: 404 for an unknown job, 422 naming last_event_id for a bad cursor, event-stream headers")
    func routeAnswers() async throws {
        let store = try routes.freshStore()
        let app = try routes.makeApp(store)
        try await app.test(.router) { client in
            let missing = try await client.execute(uri: "/jobs/nope/events", method: .get, headers: routes.authorized)
            #expect(missing.status == .notFound)
            #expect(routes.json(missing)["detail"] as? String == "Job 'nope' not found.")

            let created = try await client.execute(
                uri: "/jobs",
                method: .post,
                headers: routes.authorized,
                body: ByteBuffer(string: #"{"code": "print(1)"}"#)
            )
            let id = try #require(routes.json(created)["job_id"] as? String)
            var headers = routes.authorized
            headers[HTTPField.Name("Last-Event-ID")!] = "not-a-cursor"
            let bad = try await client.execute(uri: "/jobs/\(id)/events", method: .get, headers: headers)
            #expect(bad.status == .unprocessableContent)
            #expect(String(buffer: bad.body).contains("last_event_id"))
            let badQuery = try await client.execute(uri: "/jobs/\(id)/events?last_event_id=1:x:0", method: .get, headers: routes.authorized)
            #expect(badQuery.status == .unprocessableContent)

            // a stream on a job that has not ended marks it watched (its worker then stores the
            // output as it comes); the stream ends with the job
            let owner = PrebuildRouteTests.owner(APIRouteTests.key)
            let stored = try #require(try await store.job(publicID: id, owner: owner))
            #expect(try await store.isOutputWatched(stored.id) == false)
            let changes = store.changes()
            let watching = Task { try await client.execute(uri: "/jobs/\(id)/events", method: .get, headers: routes.authorized) }
            for await _ in changes where try await store.isOutputWatched(stored.id) { break }
            #expect(try await store.isOutputWatched(stored.id))
            _ = try await client.execute(uri: "/jobs/\(id)", method: .delete, headers: routes.authorized)
            let watched = try await watching.value
            #expect(watched.status == .ok && String(buffer: watched.body).contains(#""state":"cancelled""#))
            let stream = try await client.execute(uri: "/jobs/\(id)/events", method: .get, headers: routes.authorized)
            #expect(stream.status == .ok)
            #expect(stream.headers[.contentType] == "text/event-stream")
            let body = String(buffer: stream.body)
            #expect(body.contains("event: status\n") && body.contains(#""state":"cancelled""#) && body.hasSuffix("\n\n"))
            #expect(body.contains("event: result\n"))
        }
    }
}

struct EventStreamTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
