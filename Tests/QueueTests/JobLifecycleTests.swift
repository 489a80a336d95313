import Foundation
import Queue
import Testing

/// Leases, fencing, cancellation, idempotency and wake hints, on every store (`StoreKind`).
struct JobLifecycleTests {
    @Test("a result written with a stale lease token is rejected", arguments: StoreKind.all)
    func staleTokenRejected(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            try await enqueueJobs(store, count: 1)
            // A lease that is already expired: the reaper requeues the job, a new claim gets a new token.
            let first = try #require(try await store.claim(worker: "a", limit: 1, leaseSeconds: -1).first)
            #expect(try await store.reapExpiredLeases() == 1)
            let second = try #require(try await store.claim(worker: "b", limit: 1, leaseSeconds: 30).first)
            #expect(first.lease.token != second.lease.token)
            #expect(try await store.complete(first.lease, result: Data("{}".utf8)) == false)
            #expect(try await store.fail(first.lease, failure: .workerLost, retry: false) == false)
            #expect(try await store.complete(second.lease, result: Data("{}".utf8)) == true)
            let job = try #require(try await store.job(publicID: second.job.publicID, owner: ""))
            #expect(job.state == .completed)
            #expect(job.attempts == 2)
        }
    }

    @Test("completions arriving together are each fenced on their own lease and answered on their own", arguments: StoreKind.all)
    func concurrentCompletions(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            try await enqueueJobs(store, count: 40)
            let claimed = try await store.claim(worker: "w", limit: 40, leaseSeconds: 30)
            #expect(claimed.count == 40)
            // Every third lease is made stale by a forged token; the others are current.
            let attempts = claimed.enumerated().map { index, job in
                (job, index % 3 == 0 ? Lease(jobID: job.lease.jobID, token: "stale") : job.lease, index % 3 != 0)
            }
            let answers = try await withThrowingTaskGroup(of: (String, Bool, Bool).self) { group in
                for (job, lease, current) in attempts {
                    group.addTask { (job.job.publicID, current, try await store.complete(lease, result: Data("\"\(job.job.publicID)\"".utf8))) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.count == 40)
            for (publicID, current, stored) in answers {
                #expect(stored == current, "\(publicID)")
                let job = try #require(try await store.job(publicID: publicID, owner: ""))
                #expect(job.state == (current ? .completed : .running))
                if current { #expect(job.result == Data("\"\(publicID)\"".utf8)) }
            }
        }
    }

    @Test("attempts run out: the reaper fails the job with 'worker lost'", arguments: StoreKind.all)
    func reaperFailsAfterAttempts(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            let job = try #require(try await enqueueJobs(store, count: 1).first)
            for _ in 0..<job.maxAttempts {
                #expect(try await store.claim(worker: "w", limit: 1, leaseSeconds: -1).count == 1)
                #expect(try await store.reapExpiredLeases() == 1)
            }
            let failed = try #require(try await store.job(publicID: job.publicID, owner: ""))
            #expect(failed.state == .failed)
            #expect(failed.failure == .workerLost)
        }
    }

    @Test("claims never return more jobs than asked, oldest first", arguments: StoreKind.all)
    func claimRespectsLimit(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            let jobs = try await enqueueJobs(store, count: 5)
            let claimed = try await store.claim(worker: "w", limit: 3, leaseSeconds: 30)
            #expect(claimed.map(\.job.publicID) == jobs.prefix(3).map(\.publicID))
            #expect(Set(claimed.map(\.lease.token)).count == 3)
            #expect(try await store.counts() == QueueCounts(queued: 2, running: 3))
        }
    }

    @Test("heartbeat extends a worker's leases and reports those it lost", arguments: StoreKind.all)
    func heartbeatReportsLostLeases(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            let jobs = try await enqueueJobs(store, count: 2)
            let claimed = try await store.claim(worker: "w1", limit: 2, leaseSeconds: 30)
            #expect(claimed.count == 2)
            guard case .cancelled = try await store.cancel(publicID: jobs[0].publicID, owner: "") else {
                Issue.record("running job was not cancelled")
                return
            }
            let held = try await store.heartbeat(WorkerStatus(id: "w1", pid: 1, host: "h", slots: 2), holding: claimed.map(\.lease), leaseSeconds: 30)
            #expect(held == [claimed[1].lease])
            #expect(try await store.currentLeases(among: claimed.map(\.lease)) == [claimed[1].lease])
            #expect(try await store.complete(claimed[0].lease, result: Data()) == false)
            let workers = try await store.liveWorkers(within: 30)
            #expect(workers.map(\.id) == ["w1"])
        }
    }

    @Test("release gives a job back without consuming an attempt", arguments: StoreKind.all)
    func releaseKeepsAttempts(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            let job = try #require(try await enqueueJobs(store, count: 1).first)
            let claimed = try #require(try await store.claim(worker: "w", limit: 1, leaseSeconds: 30).first)
            #expect(try await store.release(claimed.lease))
            let again = try #require(try await store.job(publicID: job.publicID, owner: ""))
            #expect(again.state == .queued)
            #expect(again.attempts == 0)
        }
    }

    @Test("jobs are private to their owner; cancelling a finished job is refused", arguments: StoreKind.all)
    func ownershipAndCancel(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            let job = try #require(try await enqueueJobs(store, count: 1, owner: "alice").first)
            #expect(try await store.job(publicID: job.publicID, owner: "bob") == nil)
            guard case .notFound = try await store.cancel(publicID: job.publicID, owner: "bob") else {
                Issue.record("another owner could cancel")
                return
            }
            let claimed = try #require(try await store.claim(worker: "w", limit: 1, leaseSeconds: 30).first)
            #expect(try await store.complete(claimed.lease, result: Data("{}".utf8)))
            guard case .alreadyFinished = try await store.cancel(publicID: job.publicID, owner: "alice") else {
                Issue.record("a finished job was cancelled")
                return
            }
            #expect(try await store.jobs(owner: "alice", state: nil, limit: 10, before: nil).count == 1)
            #expect(try await store.jobs(owner: "bob", state: nil, limit: 10, before: nil).isEmpty)
        }
    }

    @Test("idempotency keys: same request returns the job, another request conflicts", arguments: StoreKind.all)
    func idempotency(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            let request = NewJob(kind: .run, owner: "o", payload: Data("{}".utf8), idempotencyKey: "k", requestHash: "h1")
            guard case .created(let job) = try await store.enqueue(request, maxQueueDepth: nil) else {
                Issue.record("not created")
                return
            }
            guard case .repeated(let again) = try await store.enqueue(request, maxQueueDepth: nil) else {
                Issue.record("repeat not recognised")
                return
            }
            #expect(again.publicID == job.publicID)
            var other = request
            other.requestHash = "h2"
            guard case .conflict = try await store.enqueue(other, maxQueueDepth: nil) else {
                Issue.record("conflict not detected")
                return
            }
            var otherOwner = request
            otherOwner.owner = "p"
            guard case .created = try await store.enqueue(otherOwner, maxQueueDepth: nil) else {
                Issue.record("keys must be per owner")
                return
            }
        }
    }

    @Test("a full queue refuses new jobs", arguments: StoreKind.all)
    func queueDepth(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            try await enqueueJobs(store, count: 2)
            guard case .queueFull = try await store.enqueue(NewJob(kind: .run, owner: "", payload: Data()), maxQueueDepth: 2) else {
                Issue.record("queue depth not enforced")
                return
            }
        }
    }

    @Test("a claim the worker never heard back from is not kept alive by its heartbeats: it expires and runs again", arguments: StoreKind.all)
    func unheardClaimExpires(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            let jobs = try await enqueueJobs(store, count: 2)
            let known = try #require(try await store.claim(worker: "w", limit: 1, leaseSeconds: 30).first)
            // The second claim committed, but its answer never reached the worker (its lease is
            // already over: a heartbeat extending it would make the reaper below find nothing).
            let unheard = try #require(try await store.claim(worker: "w", limit: 1, leaseSeconds: -1).first)
            #expect(unheard.job.publicID == jobs[1].publicID)
            let status = WorkerStatus(id: "w", pid: 1, host: "h", slots: 2)
            #expect(try await store.heartbeat(status, holding: [known.lease], leaseSeconds: 30) == [known.lease])
            #expect(try await store.reapExpiredLeases() == 1)
            let again = try #require(try await store.claim(worker: "v", limit: 1, leaseSeconds: 30).first)
            #expect(again.job.publicID == jobs[1].publicID)
            #expect(try await store.currentLeases(among: [known.lease, unheard.lease]) == [known.lease])
        }
    }

    @Test("a commit by another process's store reaches subscribers as a hint", arguments: StoreKind.all)
    func changeHints(_ kind: StoreKind) async throws {
        try await withStore(kind) { watcher, database in
            let writer = try await database.open()
            defer { (writer as? PostgresJobStore)?.close() }
            var hints = watcher.changes().makeAsyncIterator()
            try await enqueueJobs(writer, count: 1)
            let hinted: Void? = await hints.next()
            #expect(hinted != nil)
        }
    }
}
