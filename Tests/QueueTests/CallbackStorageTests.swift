import Foundation
import Testing

@testable import Queue

/// Webhooks on both stores (`Callback`): a job with a `callback_url` gets exactly one delivery
/// job from whichever transition ends it, none before, and a delivery's attempts are recorded
/// on the job fenced on the delivery's lease.
struct CallbackStorageTests {
    static let url = "https://receiver.example/hook?x=1"

    func submit(_ store: any JobStore, callback: String? = Self.url, owner: String = "") async throws -> Job {
        guard
            case .created(let job) = try await store.enqueue(
                NewJob(kind: .run, owner: owner, payload: Data("{}".utf8), callbackURL: callback),
                maxQueueDepth: 100
            )
        else { throw TestFailure("not created") }
        return job
    }

    /// The delivery jobs in the database, oldest first: their state, the job each delivers, their owner.
    func deliveries(_ store: any JobStore) async throws -> [(state: String, jobID: Int64, owner: String)] {
        try await store.jobs(owner: WebhookDelivery.owner, state: nil, limit: 50, before: nil).reversed().map { job in
            #expect(job.kind == .webhook)
            let payload = try JSONDecoder().decode(WebhookDelivery.self, from: job.payload)
            return (job.state.rawValue, payload.jobID, job.owner)
        }
    }

    /// Claims the one claimable job, which must be `kind`.
    func claimOne(_ store: any JobStore, _ kind: JobKind) async throws -> ClaimedJob {
        let claimed = try await store.claim(worker: "w", limit: 5, leaseSeconds: 30)
        #expect(claimed.count == 1 && claimed.first?.job.kind == kind, "\(claimed.map(\.job.kind))")
        return try #require(claimed.first)
    }

    @Test("the callback is stored pending, and the job's end makes one delivery job, hidden from the owner's list", arguments: StoreKind.all)
    func completionMakesOneDelivery(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            let job = try await submit(store)
            #expect(job.callback == Callback(url: Self.url))
            let plain = try await submit(store, callback: nil)
            #expect(plain.callback == nil)
            #expect(try await deliveries(store).isEmpty)  // nothing before the job ends

            let claimed = try await store.claim(worker: "w", limit: 5, leaseSeconds: 30)
            #expect(claimed.count == 2)
            for run in claimed { #expect(try await store.complete(run.lease, result: Data("{}".utf8))) }
            let made = try await deliveries(store)
            #expect(made.count == 1)
            #expect(made.first?.state == "queued" && made.first?.jobID == job.id && made.first?.owner == WebhookDelivery.owner)
            // The open deployment's owner is "": its list shows the two runs, not the delivery.
            #expect(try await store.jobs(owner: "", state: nil, limit: 50, before: nil).map(\.kind) == [.run, .run])

            // A delivery waiting in the queue does not count against the depth limit.
            guard
                case .created = try await store.enqueue(NewJob(kind: .run, owner: "", payload: Data("{}".utf8)), maxQueueDepth: 1)
            else { throw TestFailure("the waiting delivery counted against MAX_QUEUE_DEPTH") }
            guard case .queueFull = try await store.enqueue(NewJob(kind: .run, owner: "", payload: Data("{}".utf8)), maxQueueDepth: 1)
            else { throw TestFailure("the depth limit no longer holds") }
            let claimedNow = try await store.claim(worker: "w", limit: 5, leaseSeconds: 30)
            let delivery = try #require(claimedNow.first { $0.job.kind == .webhook })
            #expect(try JSONDecoder().decode(WebhookDelivery.self, from: delivery.job.payload) == WebhookDelivery(jobID: job.id))
        }
    }

    @Test("a final failure, the reaper's and a cancel each make the delivery; a retried failure does not", arguments: StoreKind.all)
    func everyEndMakesADelivery(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let failing = try await submit(store)
            let first = try await claimOne(store, .run)
            #expect(try await store.fail(first.lease, failure: .workerLost, retry: true))  // back in the queue
            #expect(try await deliveries(store).isEmpty)
            let second = try await claimOne(store, .run)
            #expect(try await store.fail(second.lease, failure: .workerLost, retry: false))
            #expect(try await deliveries(store).map(\.jobID) == [failing.id])

            let cancelled = try await submit(store)
            guard case .cancelled = try await store.cancel(publicID: cancelled.publicID, owner: "") else {
                throw TestFailure("not cancelled")
            }
            #expect(try await deliveries(store).map(\.jobID) == [failing.id, cancelled.id])
            // Cancelling again (already final) makes no second delivery.
            _ = try await store.cancel(publicID: cancelled.publicID, owner: "")

            let reaped = try await submit(store)
            try await database.rows("UPDATE jobs SET max_attempts = 1 WHERE id = \(reaped.id)")
            // Deliveries are claimable too: take them out of the way first.
            let claimedNow = try await store.claim(worker: "w", limit: 5, leaseSeconds: 30)
            #expect(Set(claimedNow.map(\.job.kind)) == [.run, .webhook] && claimedNow.count == 3)
            try await database.rows("UPDATE jobs SET lease_expires_at = 0 WHERE id = \(reaped.id)")
            #expect(try await store.reapExpiredLeases() == 1)
            #expect(try await deliveries(store).map(\.jobID) == [failing.id, cancelled.id, reaped.id])
        }
    }

    @Test("a failed attempt waits and is recorded; the success after it is recorded once; a lost lease records nothing", arguments: StoreKind.all)
    func attemptsAreRecorded(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let job = try await submit(store)
            let run = try await claimOne(store, .run)
            #expect(try await store.complete(run.lease, result: Data("{}".utf8)))

            let first = try await claimOne(store, .webhook)
            #expect(first.job.attempts == 1)
            #expect(try await store.recordDelivery(first.lease, of: job.id, outcome: .retry(after: 600, attempts: 1, error: "HTTP 503")))
            #expect(try await store.job(publicID: job.publicID, owner: "")?.callback == Callback(url: Self.url, attempts: 1, lastError: "HTTP 503"))
            #expect(try await store.claim(worker: "w", limit: 5, leaseSeconds: 30).isEmpty)  // due in ten minutes
            // The stale lease of that attempt cannot write again.
            #expect(!(try await store.recordDelivery(first.lease, of: job.id, outcome: .delivered(attempts: 1))))

            try await database.rows("UPDATE jobs SET run_at = 0 WHERE kind = 'webhook'")
            let second = try await claimOne(store, .webhook)
            #expect(second.job.attempts == 2)
            #expect(try await store.recordDelivery(second.lease, of: job.id, outcome: .delivered(attempts: 2)))
            #expect(!(try await store.recordDelivery(second.lease, of: job.id, outcome: .delivered(attempts: 2))))
            #expect(try await store.job(publicID: job.publicID, owner: "")?.callback == Callback(url: Self.url, status: .delivered, attempts: 2))
            #expect(try await deliveries(store).map(\.state) == ["completed"])
        }
    }

    @Test("giving up fails the delivery and marks the callback failed", arguments: StoreKind.all)
    func givingUp(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            let job = try await submit(store)
            let run = try await claimOne(store, .run)
            #expect(try await store.complete(run.lease, result: Data("{}".utf8)))
            let delivery = try await claimOne(store, .webhook)
            let refused = "the address 10.0.0.7 is private"
            #expect(try await store.recordDelivery(delivery.lease, of: job.id, outcome: .gaveUp(attempts: 1, error: refused)))
            let stored = try await store.job(publicID: job.publicID, owner: "")
            #expect(stored?.callback == Callback(url: Self.url, status: .failed, attempts: 1, lastError: refused))
            #expect(stored?.state == .completed)  // the job itself keeps its result
            #expect(try await deliveries(store).map(\.state) == ["failed"])
        }
    }
}
