import Foundation
import Testing

@testable import CodeRunnerClient

/// Server-sent events turned into ``JobEvent``s, as the stream contract writes them.
struct JobEventDecodingTests {
    static let jobJSON = #"""
        {"job_id":"j-1","kind":"run","status":"completed","created_at":"2026-05-01T10:00:00.123Z",
         "started_at":"2026-05-01T10:00:01Z","finished_at":"2026-05-01T10:00:02Z","attempts":2,
         "result":{"job_id":"j-1","stdout":"again\n","stderr":"","exit_code":0,"execution_time":0.25,"metadata":null,
                   "timed_out":false,"oom_killed":false,"stdout_truncated":false,"stderr_truncated":false},
         "error":null,"callback":null}
        """#

    func decoded(_ type: String, _ id: String, _ data: String) throws(CodeRunnerError) -> JobEvent? {
        try JobEvent.decoded(from: ServerSentEvent(type: type, data: data, id: id))
    }

    @Test("status events: queued, running with its attempt, a retry, finished with its state")
    func statusEvents() throws {
        #expect(
            try decoded("status", "0:0:0", #"{"job_id":"j-1","status":"queued"}"#)
                == JobEvent(id: "0:0:0", kind: .status(JobStatusUpdate(jobID: "j-1", status: .queued)))
        )
        #expect(
            try decoded("status", "1:0:0", #"{"job_id":"j-1","status":"running","attempt":1}"#)
                == JobEvent(id: "1:0:0", kind: .status(JobStatusUpdate(jobID: "j-1", status: .running, attempt: 1)))
        )
        #expect(
            try decoded("status", "2:0:0", #"{"job_id":"j-1","status":"running","attempt":2,"retry":true}"#)
                == JobEvent(id: "2:0:0", kind: .status(JobStatusUpdate(jobID: "j-1", status: .running, attempt: 2, isRetry: true)))
        )
        #expect(
            try decoded("status", "2:6:0", #"{"job_id":"j-1","status":"finished","state":"completed"}"#)
                == JobEvent(id: "2:6:0", kind: .status(JobStatusUpdate(jobID: "j-1", status: .finished, state: .completed)))
        )
    }

    @Test("stdout and stderr events: the channel from the event's type, the offset and text from its data")
    func outputEvents() throws {
        let stdout = try #require(try decoded("stdout", "1:6:0", #"{"attempt":1,"offset":0,"text":"hello\n"}"#))
        #expect(stdout == JobEvent(id: "1:6:0", kind: .output(OutputChunk(channel: .stdout, attempt: 1, offset: 0, text: "hello\n"))))
        let stderr = try #require(try decoded("stderr", "1:6:7", #"{"attempt":1,"offset":2,"text":"héllo"}"#))
        guard case .output(let chunk) = stderr.kind else {
            Issue.record("expected output, got \(stderr.kind)")
            return
        }
        #expect(chunk.channel == .stderr)
        #expect(chunk.endOffset == 8, "é is 2 UTF-8 bytes")
    }

    @Test("the result event is the job as GET /jobs/{id} answers it")
    func resultEvent() throws {
        let event = try #require(try decoded("result", "2:6:0", Self.jobJSON))
        guard case .result(let job) = event.kind else {
            Issue.record("expected a result, got \(event.kind)")
            return
        }
        #expect(job.id == "j-1")
        #expect(job.status == .completed)
        #expect(job.attempts == 2)
        #expect(try job.outcome().stdout == "again\n")
        #expect(event.id == "2:6:0")
    }

    @Test("unknown event types and status values are skipped: newer services may send more")
    func unknownEvents() throws {
        #expect(try decoded("message", "", "hello") == nil)
        #expect(try decoded("progress", "1:0:0", #"{"percent":50}"#) == nil)
        #expect(try decoded("status", "1:0:0", #"{"job_id":"j-1","status":"paused"}"#) == nil)
        let unknownState = try decoded("status", "1:0:0", #"{"job_id":"j-1","status":"finished","state":"evaporated"}"#)
        #expect(unknownState == JobEvent(id: "1:0:0", kind: .status(JobStatusUpdate(jobID: "j-1", status: .finished))))
    }

    @Test("a known event whose data is not its JSON is a decoding error naming the event")
    func malformedData() {
        for (type, data) in [("status", "{"), ("status", #"{"status":"queued"}"#), ("stdout", #"{"offset":0,"text":"x"}"#), ("result", "{}")] {
            #expect {
                try decoded(type, "1:0:0", data)
            } throws: { error in
                guard case CodeRunnerError.decoding(let message) = error else { return false }
                return message.contains("the \(type) event '1:0:0'")
            }
        }
    }

    @Test("a status update is written back with the service's keys, retry only when true")
    func statusEncoding() throws {
        let running = JobStatusUpdate(jobID: "j-1", status: .running, attempt: 2, isRetry: true)
        let encoded = try JSONEncoder().encode(running)
        #expect(try JSONDecoder().decode(JobStatusUpdate.self, from: encoded) == running)
        let queued = try JSONSerialization.jsonObject(with: JSONEncoder().encode(JobStatusUpdate(jobID: "j-1", status: .queued)))
        #expect((queued as? [String: String]) == ["job_id": "j-1", "status": "queued"])
    }

    @Test("event ids are cursors: attempt, stdout bytes, stderr bytes")
    func cursors() {
        #expect(EventCursor("2:9:4") == EventCursor(attempt: 2, stdoutBytes: 9, stderrBytes: 4))
        #expect(EventCursor("2:9:4")?.bytes(of: .stderr) == 4)
        for malformed in ["", "1:2", "1:2:3:4", "a:0:0", "1:-1:0", "1::0"] {
            #expect(EventCursor(malformed) == nil, "\(malformed)")
        }
    }
}
