import CodeRunnerClient
import Foundation
import Testing

@Suite("jobs", .needsService)
struct JobTests {
    let client = Service.client

    @Test("submit, wait, job and jobs agree")
    func submitAndWait() async throws {
        let submitted = try await client.submit(RunRequest(runtime: .python, code: "print('queued work')"))
        #expect(!submitted.isRepeat)
        #expect(submitted.status == .queued)

        let finished = try await client.wait(id: submitted.id, timeout: .seconds(120))
        #expect(finished.id == submitted.id)
        #expect(finished.status == .completed)
        #expect(try finished.outcome().stdout == "queued work\n")
        #expect(finished.createdAt != nil && finished.finishedAt != nil)

        let fetched = try await client.job(id: submitted.id)
        #expect(fetched == finished)

        let completed = try await client.jobs(status: .completed, limit: 500)
        #expect(completed.contains { $0.id == submitted.id })
        #expect(completed.allSatisfy { $0.status == .completed && $0.result == nil })
        let queued = try await client.jobs(status: .queued, limit: 500)
        #expect(!queued.contains { $0.id == submitted.id })
    }

    @Test("jobs pages with limit and before, newest first")
    func listPages() async throws {
        // Other tests submit jobs concurrently: assert order and paging, not adjacency.
        let first = try await client.submit(RunRequest(code: "print(1)"))
        let second = try await client.submit(RunRequest(code: "print(2)"))
        #expect(try await client.jobs(limit: 1).count == 1)
        let all = try await client.jobs(limit: 500).map(\.id)
        let firstIndex = try #require(all.firstIndex(of: first.id))
        let secondIndex = try #require(all.firstIndex(of: second.id))
        #expect(secondIndex < firstIndex)
        let older = try await client.jobs(limit: 500, before: second.id).map(\.id)
        #expect(older.contains(first.id))
        #expect(!older.contains(second.id))
        #expect(older == Array(all[(secondIndex + 1)...]))
        _ = try await client.wait(id: second.id, timeout: .seconds(120))
        _ = try await client.wait(id: first.id, timeout: .seconds(120))
    }

    @Test("an idempotency key returns the same job; reused with another body it conflicts")
    func idempotency() async throws {
        let key = "client-test-\(UInt64.random(in: 0...UInt64.max))"
        let request = RunRequest(code: "print('once')")
        let first = try await client.submit(request, idempotencyKey: key)
        let again = try await client.submit(request, idempotencyKey: key)
        #expect(again.id == first.id)
        #expect(again.isRepeat)
        let error = await thrownError { () async throws(CodeRunnerError) in
            try await client.submit(RunRequest(code: "print('twice')"), idempotencyKey: key)
        }
        guard case .conflict(let message) = error else {
            Issue.record("expected a conflict, got \(String(describing: error))")
            return
        }
        #expect(message.contains(key))
        _ = try await client.wait(id: first.id, timeout: .seconds(120))
    }

    @Test("cancel ends a job; cancelling it again conflicts")
    func cancelJob() async throws {
        let submitted = try await client.submit(RunRequest(code: Service.sleeper, timeout: 120))
        let cancelled = try await client.cancel(id: submitted.id)
        #expect(cancelled.status == .cancelled)
        let waited = try await client.wait(id: submitted.id, timeout: .seconds(30))
        #expect(waited.status == .cancelled)
        #expect(throws: CodeRunnerError.conflict("Job '\(submitted.id)' was cancelled.")) { try waited.outcome() }
        await #expect(throws: CodeRunnerError.conflict("Job '\(submitted.id)' already finished.")) {
            try await client.cancel(id: submitted.id)
        }
    }

    @Test("wait gives up after its timeout with timedOut")
    func waitTimesOut() async throws {
        let submitted = try await client.submit(RunRequest(code: Service.sleeper, timeout: 120))
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: CodeRunnerError.timedOut(jobID: submitted.id)) {
            _ = try await client.wait(id: submitted.id, timeout: .seconds(2))
        }
        #expect(clock.now - start < .seconds(20))
        try await client.cancel(id: submitted.id)
    }
}

/// A job's `callback` on the wire (no service needed): decoded with every status, `null` and
/// a missing key (a service from before webhooks) both `nil`, and written back as the service
/// writes it.
struct JobCallbackTests {
    static func job(callback: String?) -> String {
        let field = callback.map { #", "callback": \#($0)"# } ?? ""
        return #"""
            {"job_id": "j-7", "kind": "run", "status": "completed", "created_at": "2026-05-01T10:00:00.123Z",
             "started_at": "2026-05-01T10:00:01Z", "finished_at": "2026-05-01T10:00:02Z", "attempts": 1,
             "result": null, "error": null\#(field)}
            """#
    }

    func decoded(_ json: String) throws -> Job {
        try JSONDecoder().decode(Job.self, from: Data(json.utf8))
    }

    @Test("a callback object decodes with its url, status, attempts and last_error")
    func callbackObject() throws {
        let pending = try decoded(
            Self.job(callback: #"{"url": "https://hooks.example.org/done", "status": "pending", "attempts": 2, "last_error": "HTTP 503"}"#)
        )
        let callback = try #require(pending.callback)
        #expect(callback.url == "https://hooks.example.org/done")
        #expect(callback.status == .pending)
        #expect(callback.attempts == 2)
        #expect(callback.lastError == "HTTP 503")

        let delivered = try decoded(
            Self.job(callback: #"{"url": "https://hooks.example.org/done", "status": "delivered", "attempts": 3, "last_error": null}"#)
        )
        #expect(delivered.callback?.status == .delivered)
        #expect(delivered.callback?.attempts == 3)
        #expect(delivered.callback?.lastError == nil)
        #expect(delivered.id == "j-7")
        #expect(delivered.status == .completed)
    }

    @Test("callback null and a job without the key (an older service) both decode to nil")
    func noCallback() throws {
        #expect(try decoded(Self.job(callback: "null")).callback == nil)
        let older = try decoded(Self.job(callback: nil))
        #expect(older.callback == nil)
        #expect(older.attempts == 1)
    }

    @Test("every status by its contract name; an unknown one is a decoding error")
    func statusNames() throws {
        #expect(CallbackStatus.allCases.map(\.rawValue) == ["pending", "delivered", "failed"])
        let failed = try decoded(Self.job(callback: #"{"url": "http://203.0.113.7/", "status": "failed", "attempts": 9, "last_error": "timed out"}"#))
        #expect(failed.callback?.status == .failed)
        #expect(throws: DecodingError.self) {
            try decoded(Self.job(callback: #"{"url": "http://203.0.113.7/", "status": "lost", "attempts": 0, "last_error": null}"#))
        }
    }

    @Test("a job is written back with callback's four keys, null for what is not there")
    func encodedAsTheServiceWritesIt() throws {
        let job = try decoded(
            Self.job(callback: #"{"url": "https://hooks.example.org/done", "status": "pending", "attempts": 0, "last_error": null}"#)
        )
        let body = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(job)) as? [String: Any])
        let callback = try #require(body["callback"] as? [String: Any])
        #expect(Set(callback.keys) == ["url", "status", "attempts", "last_error"])
        #expect(callback["last_error"] is NSNull)
        #expect(callback["status"] as? String == "pending")
        #expect(try JSONDecoder().decode(Job.self, from: JSONEncoder().encode(job)) == job)

        let without = try JSONEncoder().encode(try decoded(Self.job(callback: nil)))
        let withoutBody = try #require(try JSONSerialization.jsonObject(with: without) as? [String: Any])
        #expect(withoutBody["callback"] is NSNull)
    }
}
