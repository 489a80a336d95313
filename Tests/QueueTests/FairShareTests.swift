import Foundation
import Queue
import Testing

/// Fair scheduling across owners, job priorities, caps on running jobs and the owners' quotas
/// (issue 19, `FairShare`), on every store (`StoreKind`).
struct FairShareTests {
    /// Enqueues `count` run jobs of `owner`; returns their public ids in order.
    @discardableResult
    func enqueue(
        _ store: any JobStore,
        _ owner: String,
        count: Int = 1,
        priority: Int = 0,
        weight: Int = 1,
        quota: OwnerQuota? = nil
    ) async throws -> [String] {
        var ids: [String] = []
        for _ in 0..<count {
            let job = NewJob(kind: .run, owner: owner, payload: Data("{}".utf8), priority: priority, weight: weight, quota: quota)
            guard case .created(let stored) = try await store.enqueue(job, maxQueueDepth: nil) else {
                throw TestFailure("job of \(owner) not created")
            }
            ids.append(stored.publicID)
        }
        return ids
    }

    /// Claims one job at a time, `count` times; the owners in claim order.
    func claimOwners(_ store: any JobStore, count: Int) async throws -> [String] {
        var owners: [String] = []
        for _ in 0..<count {
            guard let claimed = try await store.claim(worker: "w", limit: 1, leaseSeconds: 30).first else { break }
            owners.append(claimed.job.owner)
        }
        return owners
    }

    @Test("a newcomer is claimed right after the head of another owner's backlog, then the two alternate", arguments: StoreKind.all)
    func roundRobin(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            try await enqueue(store, "a", count: 10)
            try await enqueue(store, "b", count: 3)
            // Oldest first would be a × 10, then b.
            #expect(try await claimOwners(store, count: 8) == ["a", "b", "a", "b", "a", "b", "a", "a"])
        }
    }

    @Test("a newcomer arriving while the backlog runs waits for one of its jobs, not for all", arguments: StoreKind.all)
    func newcomerWhileRunning(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            try await enqueue(store, "a", count: 20)
            #expect(try await claimOwners(store, count: 5) == Array(repeating: "a", count: 5))
            try await enqueue(store, "b")
            #expect(try await claimOwners(store, count: 2) == ["a", "b"])
        }
    }

    @Test("a key of weight 3 gets three claims for each one of a key of weight 1", arguments: StoreKind.all)
    func weights(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            try await enqueue(store, "light", count: 20, weight: 1)
            try await enqueue(store, "heavy", count: 20, priority: 3, weight: 3)
            let owners = try await claimOwners(store, count: 16)
            #expect(owners.filter { $0 == "heavy" }.count == 12, "\(owners)")
        }
    }

    @Test("an owner's higher-priority job passes its own batch, not other owners' share", arguments: StoreKind.all)
    func priorities(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            let batch = try await enqueue(store, "platform", count: 6, priority: 0, weight: 2)
            let other = try await enqueue(store, "other", count: 6)
            let urgent = try #require(try await enqueue(store, "platform", priority: 2, weight: 2).first)
            var order: [String] = []
            for _ in 0..<8 {
                guard let claimed = try await store.claim(worker: "w", limit: 1, leaseSeconds: 30).first else { break }
                order.append(claimed.job.publicID)
            }
            // Stamped with the head's time: after the head (and the other owner's job of the
            // same stamp), before the rest of its own batch.
            let position = try #require(order.firstIndex(of: urgent))
            #expect(position <= 2, "the urgent job went \(position + 1)th of \(order.count)")
            #expect(position < (order.firstIndex(of: batch[1]) ?? order.count), "\(order)")
            // The other owner still gets its share: weight 1 against 2.
            #expect(order.filter(other.contains).count >= 2)
            #expect(order.filter(batch.contains).count >= 3)
            let stored = try #require(try await store.job(publicID: urgent, owner: "platform"))
            #expect(stored.priority == 2)
        }
    }

    @Test("owners without a cap share a claim; a capped owner gets no more than its room", arguments: StoreKind.all)
    func capsInOneClaim(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            try await store.replaceTenants([Tenant(owner: "capped", name: "capped", maxRunning: 2), Tenant(owner: "free", name: "free")])
            #expect(try await store.tenants().map(\.name) == ["capped", "free"])
            try await enqueue(store, "capped", count: 6)
            try await enqueue(store, "free", count: 2)
            let first = try await store.claim(worker: "w", limit: 8, leaseSeconds: 30)
            #expect(first.filter { $0.job.owner == "capped" }.count == 2)
            #expect(first.filter { $0.job.owner == "free" }.count == 2)
            // At its cap, the owner's queued jobs wait, however many slots are free.
            #expect(try await store.claim(worker: "w", limit: 8, leaseSeconds: 30).isEmpty)
            let done = try #require(first.first { $0.job.owner == "capped" })
            #expect(try await store.complete(done.lease, result: Data("{}".utf8)))
            let next = try await store.claim(worker: "w", limit: 8, leaseSeconds: 30)
            #expect(next.map(\.job.owner) == ["capped"])
            // Without the cap, the rest goes at once.
            try await store.replaceTenants([])
            #expect(try await store.claim(worker: "w", limit: 8, leaseSeconds: 30).count == 3)
        }
    }

    @Test("a cap holds across concurrent claimers (other workers and hosts)", arguments: StoreKind.all)
    func capsUnderConcurrency(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            try await store.replaceTenants([Tenant(owner: "capped", name: "capped", maxRunning: 3)])
            try await enqueue(store, "capped", count: 30)
            // Eight claimers, each on its own connection pool (as eight worker processes).
            var stores: [any JobStore] = []
            for _ in 0..<8 { stores.append(try await database.open()) }
            let claimed = try await withThrowingTaskGroup(of: Int.self) { group in
                for (index, claimer) in stores.enumerated() {
                    group.addTask { try await claimer.claim(worker: "w\(index)", limit: 2, leaseSeconds: 30).count }
                }
                return try await group.reduce(0, +)
            }
            #expect(claimed == 3)
            #expect(try await store.counts().running == 3)
            for claimer in stores { (claimer as? PostgresJobStore)?.close() }
        }
    }

    @Test("max_queued refuses the owner's next job, not another owner's", arguments: StoreKind.all)
    func maxQueued(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            let quota = OwnerQuota(maxQueued: 2)
            try await enqueue(store, "a", count: 2, quota: quota)
            let third = try await store.enqueue(NewJob(kind: .run, owner: "a", payload: Data("{}".utf8), quota: quota), maxQueueDepth: nil)
            guard case .ownerQueueFull(let limit) = third else {
                Issue.record("expected ownerQueueFull, got \(third)")
                return
            }
            #expect(limit == 2)
            try await enqueue(store, "b", quota: quota)
            // A claimed job is no longer queued: room for one more.
            #expect(try await store.claim(worker: "w", limit: 1, leaseSeconds: 30).first?.job.owner == "a")
            try await enqueue(store, "a", quota: quota)
        }
    }

    @Test("runs_per_minute counts the owner's run jobs of the last 60 seconds, and says when a slot frees", arguments: StoreKind.all)
    func runsPerMinute(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let quota = OwnerQuota(runsPerMinute: 2)
            let ids = try await enqueue(store, "a", count: 2, quota: quota)
            let third = try await store.enqueue(NewJob(kind: .run, owner: "a", payload: Data("{}".utf8), quota: quota), maxQueueDepth: nil)
            guard case .rateLimited(let limit, let retryAfter) = third else {
                Issue.record("expected rateLimited, got \(third)")
                return
            }
            #expect(limit == 2)
            #expect(retryAfter > 55 && retryAfter <= 60, "\(retryAfter)")
            try await enqueue(store, "b", quota: quota)
            // The first run is older than a minute: a slot is free.
            try await database.rows("UPDATE jobs SET created_at = created_at - 61 WHERE public_id = '\(ids[0])'")
            try await enqueue(store, "a", quota: quota)
        }
    }

    @Test("queued and running jobs are counted per owner", arguments: StoreKind.all)
    func countsByOwner(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            try await enqueue(store, "a", count: 3)
            try await enqueue(store, "b", count: 1)
            _ = try await store.claim(worker: "w", limit: 1, leaseSeconds: 30)
            let counts = try await store.countsByOwner().sorted { $0.owner < $1.owner }
            #expect(counts == [OwnerCounts(owner: "a", queued: 2, running: 1), OwnerCounts(owner: "b", queued: 1, running: 0)])
        }
    }
}
