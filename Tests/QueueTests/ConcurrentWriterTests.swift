import Foundation
import Queue
import Testing

/// The races a single SQLite writer hides and several API and worker hosts on PostgreSQL meet
/// (multihost.md): each runs, on every store, with writers that are separate stores — as
/// separate processes would be — acting at the same moment.
struct ConcurrentWriterTests {
    @Test("cancel racing a completion: each job ends exactly one way, and a completion is never overwritten", arguments: StoreKind.all)
    func cancelNeverOverwritesCompletion(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let api = try await database.open()
            defer { (api as? PostgresJobStore)?.close() }
            let jobs = try await enqueueJobs(store, count: 40)
            let claimed = try await store.claim(worker: "w", limit: 40, leaseSeconds: 30)
            #expect(claimed.count == 40)
            let outcomes = try await withThrowingTaskGroup(of: (String, Bool, Bool).self) { group in
                for job in claimed {
                    group.addTask {
                        async let stored = store.complete(job.lease, result: Data("{}".utf8))
                        async let cancelled = api.cancel(publicID: job.job.publicID, owner: "")
                        let wasCancelled: Bool
                        if case .cancelled = try await cancelled { wasCancelled = true } else { wasCancelled = false }
                        return (job.job.publicID, try await stored, wasCancelled)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.count == jobs.count)
            for (publicID, stored, cancelled) in outcomes {
                #expect(stored != cancelled, "\(publicID): stored \(stored), cancelled \(cancelled)")
                let job = try #require(try await store.job(publicID: publicID, owner: ""))
                #expect(job.state == (stored ? .completed : .cancelled), "\(publicID)")
                if stored { #expect(job.result == Data("{}".utf8)) }
            }
        }
    }

    @Test("one idempotency key sent to several API processes at once stores one job", arguments: StoreKind.all)
    func idempotencyAcrossProcesses(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let apis = [store, try await database.open(), try await database.open()]
            defer { for api in apis.dropFirst() { (api as? PostgresJobStore)?.close() } }
            for depth in [nil, 100] as [Int?] {
                let key = "key-\(depth.map(String.init) ?? "none")"
                let request = NewJob(kind: .run, owner: "o", payload: Data("{}".utf8), idempotencyKey: key, requestHash: "h")
                let outcomes = try await withThrowingTaskGroup(of: EnqueueOutcome.self) { group in
                    for index in 0..<12 {
                        group.addTask { try await apis[index % apis.count].enqueue(request, maxQueueDepth: depth) }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                var created: [String] = []
                var repeated: [String] = []
                for outcome in outcomes {
                    switch outcome {
                    case .created(let job): created.append(job.publicID)
                    case .repeated(let job): repeated.append(job.publicID)
                    case .conflict, .queueFull, .ownerQueueFull, .rateLimited: Issue.record("unexpected outcome \(outcome)")
                    }
                }
                #expect(created.count == 1, "depth \(String(describing: depth))")
                #expect(repeated.count == 11)
                #expect(Set(repeated) == Set(created))
            }
            #expect(try await store.jobs(owner: "o", state: nil, limit: 50, before: nil).count == 2)
        }
    }

    @Test("the queue-depth limit holds when several API processes enqueue at once", arguments: StoreKind.all)
    func queueDepthAcrossProcesses(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let apis = [store, try await database.open()]
            defer { (apis[1] as? PostgresJobStore)?.close() }
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<30 {
                    group.addTask {
                        let outcome = try await apis[index % 2].enqueue(NewJob(kind: .run, owner: "", payload: Data("{}".utf8)), maxQueueDepth: 10)
                        if case .created = outcome { return true }
                        return false
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 10)
            #expect(try await store.counts() == QueueCounts(queued: 10, running: 0))
        }
    }
}
