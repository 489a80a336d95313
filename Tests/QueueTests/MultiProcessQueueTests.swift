import Foundation
import Queue
import Testing

/// The queue's guarantees across real OS processes sharing one database (every store).
@Suite(.serialized)
struct MultiProcessQueueTests {
    @Test("4 processes claiming in batches: no job claimed twice, none lost", arguments: StoreKind.all)
    func noDoubleClaimsNoLosses(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let jobs = try await enqueueJobs(store, count: 600)
            let probes = try (0..<4).map { index in
                try ProbeProcess(arguments: ["queue-probe"] + database.probeArguments + ["--batch", "\(index + 1)", "--worker-id", "probe-\(index)"])
            }
            var completed: [String] = []
            for probe in probes {
                let (status, lines) = await probe.finish()
                #expect(status == 0)
                #expect(!lines.contains { $0.hasPrefix("rejected") })
                completed += lines.filter { $0.hasPrefix("completed") }.map { String($0.split(separator: " ")[1]) }
            }
            #expect(completed.count == jobs.count)
            #expect(Set(completed) == Set(jobs.map(\.publicID)))
            let counts = try await store.counts()
            #expect(counts == QueueCounts(queued: 0, running: 0))
            let all = try await store.jobs(owner: "", state: .completed, limit: 500, before: nil)
            #expect(all.allSatisfy { $0.attempts == 1 })
        }
    }

    @Test("kill -9 of a worker mid-job: the job runs again and completes", arguments: StoreKind.all)
    func killedWorkerJobRunsAgain(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let job = try #require(try await enqueueJobs(store, count: 1).first)
            let holder = try ProbeProcess(arguments: ["queue-probe"] + database.probeArguments + ["--hold", "--lease-seconds", "1"])
            let held = await holder.line(startingWith: "held")
            #expect(held == "held \(job.publicID) attempt 1")
            holder.kill()
            _ = await holder.finish()

            let rescuer = try ProbeProcess(arguments: ["queue-probe"] + database.probeArguments + ["--follow", "--idle-ms", "10000"])
            let rescued = await rescuer.line(startingWith: "completed")
            #expect(rescued == "completed \(job.publicID) attempt 2")
            rescuer.kill()
            let final = try #require(try await store.job(publicID: job.publicID, owner: ""))
            #expect(final.state == .completed)
            #expect(final.attempts == 2)
        }
    }

    @Test("several processes migrating a fresh database at the same moment all succeed", arguments: StoreKind.all)
    func concurrentMigrations(_ kind: StoreKind) async throws {
        for _ in 0..<3 {
            let database = try TestDatabase(kind)
            let probes = try (0..<4).map { _ in try ProbeProcess(arguments: ["queue-probe"] + database.probeArguments) }
            for probe in probes {
                let (status, _) = await probe.finish()
                #expect(status == 0)
            }
            let store = try await database.open()
            #expect(try await store.counts() == QueueCounts(queued: 0, running: 0))
            (store as? PostgresJobStore)?.close()
            try await database.remove()
        }
    }
}
