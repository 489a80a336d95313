import Foundation
import GRDB
import Testing

@testable import Queue

/// Schedules fire once per tick across processes; retention keeps recent jobs only.
@Suite(.serialized)
struct ScheduleTests {
    @Test("two scheduler processes over many ticks enqueue exactly one cleanup per tick")
    func oneCleanupPerTick() async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteJobStore(path: path)
        let interval = 0.05
        let probes = try (0..<2).map { _ in
            try ProbeProcess(arguments: ["queue-probe", "--database", path, "--scheduler-ms", "1500", "--interval-ms", "50"])
        }
        var firedByProcesses = 0
        for probe in probes {
            let (status, lines) = await probe.finish()
            #expect(status == 0)
            firedByProcesses += lines.compactMap { $0.hasPrefix("fired ") ? Int($0.dropFirst(6)) : nil }.reduce(0, +)
        }
        let fireTimes = try await store.databasePool.read { db in
            try String.fetchAll(db, sql: "SELECT unique_key FROM jobs WHERE kind = 'cleanup' ORDER BY id")
                .compactMap { $0.split(separator: "@").last.flatMap { Double($0) } }
        }
        #expect(fireTimes.count == firedByProcesses)
        #expect(fireTimes.count >= 10, "ticks fired: \(fireTimes.count)")
        #expect(Set(fireTimes).count == fireTimes.count)
        // Every firing sits on the schedule's grid: no tick was fired twice or off-grid.
        let first = try #require(fireTimes.first)
        for time in fireTimes {
            let steps = (time - first) / interval
            #expect(abs(steps - steps.rounded()) < 0.01)  // float sums on a 1.8e9 s clock drift by ~1e-5 steps
        }
    }

    @Test("retention deletes old finished jobs and keeps recent and unfinished ones")
    func retention() async throws {
        let store = try SQLiteJobStore(path: temporaryDatabasePath())
        let jobs = try await enqueueJobs(store, count: 5)
        let claimed = try await store.claim(worker: "w", limit: 3, leaseSeconds: 30)
        for job in claimed { #expect(try await store.complete(job.lease, result: Data("{}".utf8))) }
        // Two of the finished jobs are two days old.
        try await store.databasePool.write { db in
            try db.execute(
                sql: "UPDATE jobs SET finished_at = finished_at - 172800 WHERE public_id IN (?, ?)",
                arguments: [jobs[0].publicID, jobs[1].publicID])
        }
        #expect(try await store.deleteFinishedJobs(olderThanHours: 24, batch: 1) == 2)
        let left = try await store.jobs(owner: "", state: nil, limit: 10, before: nil).map(\.publicID)
        #expect(Set(left) == Set(jobs[2...].map(\.publicID)))
        try await store.checkpoint()
        try await store.recordCleanup(CleanupReport(removedJobs: 2, removedContainers: 0, removedImages: 0))
        #expect(try await store.lastCleanup()?.removedJobs == 2)
    }
}

struct PrebuildLockTests {
    @Test("one builder per tag across workers; a dead builder's lease expires")
    func buildLock() async throws {
        let store = try SQLiteJobStore(path: temporaryDatabasePath())
        #expect(try await store.acquirePrebuildLock(tag: "t", owner: "a", seconds: 60))  // no record yet: free
        try await store.beginPrebuild(tag: "t", baseRuntime: "python", setupScript: "true")
        #expect(try await store.acquirePrebuildLock(tag: "t", owner: "a", seconds: 60))
        #expect(try await store.acquirePrebuildLock(tag: "t", owner: "b", seconds: 60) == false)
        try await store.releasePrebuildLock(tag: "t", owner: "a")
        #expect(try await store.acquirePrebuildLock(tag: "t", owner: "b", seconds: -1))  // b dies holding an expired lease
        #expect(try await store.acquirePrebuildLock(tag: "t", owner: "c", seconds: 60))
    }
}
