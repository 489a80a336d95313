import Foundation
import GRDB
import Testing

@testable import Queue

/// Schedules fire once per tick across processes; retention keeps recent jobs only (every store).
@Suite(.serialized)
struct ScheduleTests {
    @Test("two scheduler processes over many ticks enqueue exactly one cleanup per tick", arguments: StoreKind.all)
    func oneCleanupPerTick(_ kind: StoreKind) async throws {
        try await withStore(kind) { _, database in
            let interval = 0.05
            let probes = try (0..<2).map { _ in
                try ProbeProcess(arguments: ["queue-probe"] + database.probeArguments + ["--scheduler-ms", "1500", "--interval-ms", "50"])
            }
            var firedByProcesses = 0
            for probe in probes {
                let (status, lines) = await probe.finish()
                #expect(status == 0)
                firedByProcesses += lines.compactMap { $0.hasPrefix("fired ") ? Int($0.dropFirst(6)) : nil }.reduce(0, +)
            }
            let fireTimes = try await database.rows("SELECT unique_key FROM jobs WHERE kind = 'cleanup' ORDER BY id")
                .compactMap { $0.first??.split(separator: "@").last.flatMap { Double($0) } }
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
    }

    @Test("retention deletes old finished jobs and keeps recent and unfinished ones", arguments: StoreKind.all)
    func retention(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let jobs = try await enqueueJobs(store, count: 5)
            let claimed = try await store.claim(worker: "w", limit: 3, leaseSeconds: 30)
            for job in claimed { #expect(try await store.complete(job.lease, result: Data("{}".utf8))) }
            // Two of the finished jobs are two days old.
            try await database.rows(
                "UPDATE jobs SET finished_at = finished_at - 172800 WHERE public_id IN ('\(jobs[0].publicID)', '\(jobs[1].publicID)')"
            )
            #expect(try await store.deleteFinishedJobs(olderThanHours: 24, batch: 1) == 2)
            let left = try await store.jobs(owner: "", state: nil, limit: 10, before: nil).map(\.publicID)
            #expect(Set(left) == Set(jobs[2...].map(\.publicID)))
            try await store.checkpoint()
            try await store.recordCleanup(CleanupReport(removedJobs: 2, removedContainers: 0, removedImages: 0))
            #expect(try await store.lastCleanup()?.removedJobs == 2)
        }
    }
}

struct PrebuildLockTests {
    @Test("one builder per image across workers; a dead builder's lease expires", arguments: StoreKind.all)
    func buildLock(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let key = PrebuildKey(owner: "key:1", tag: "t")
            #expect(try await store.acquirePrebuildLock(key, holder: "a", seconds: 60))  // no record yet: free
            #expect(try await store.beginPrebuild(key, baseRuntime: "python", setupScript: "true", busyFor: 60) == .started)
            #expect(try await store.acquirePrebuildLock(key, holder: "a", seconds: 60))
            #expect(try await store.acquirePrebuildLock(key, holder: "b", seconds: 60) == false)
            // The same tag of another owner is another image: its lock is free.
            #expect(try await store.acquirePrebuildLock(PrebuildKey(owner: "key:2", tag: "t"), holder: "b", seconds: 60))
            try await store.releasePrebuildLock(key, holder: "a")
            #expect(try await store.acquirePrebuildLock(key, holder: "b", seconds: -1))  // b dies holding an expired lease
            #expect(try await store.acquirePrebuildLock(key, holder: "c", seconds: 60))
        }
    }
}

/// Prebuilt images belong to the credential that built them (issue 22).
struct PrebuildOwnershipTests {
    let first = "key:aaaa"
    let second = "key:bbbb"

    @Test("two owners use one tag without meeting: records, lists, deletes and clean-ups are per owner", arguments: StoreKind.all)
    func ownersAreApart(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let mine = PrebuildKey(owner: first, tag: "tools")
            let theirs = PrebuildKey(owner: second, tag: "tools")
            #expect(try await store.beginPrebuild(mine, baseRuntime: "python", setupScript: "echo mine", busyFor: 60) == .started)
            try await store.finishPrebuild(mine, outcome: PrebuildOutcome(succeeded: true, log: "mine", sizeBytes: 1, layerSizeBytes: 1))
            #expect(try await store.prebuild(theirs) == nil)
            #expect(try await store.prebuilds(owner: second).isEmpty)

            // The second owner's build of the same tag is a new record; the first one's is untouched.
            #expect(try await store.beginPrebuild(theirs, baseRuntime: "node", setupScript: "echo theirs", busyFor: 60) == .started)
            #expect(try await store.prebuild(mine)?.setupScript == "echo mine")
            #expect(try await store.prebuild(mine)?.status == .ready)
            #expect(try await store.prebuild(theirs)?.baseRuntime == "node")
            #expect(try await store.prebuilds(owner: first).map(\.key) == [mine])
            #expect(try await store.prebuildCounts() == [.ready: 1, .building: 1])

            // A clean-up of one owner reaches only that owner's images; the scheduled one all.
            try await store.finishPrebuild(theirs, outcome: .failure("x"))
            #expect(try await store.stalePrebuilds(olderThanDays: -1, owner: second) == [theirs])
            #expect(Set(try await store.stalePrebuilds(olderThanDays: -1, owner: nil)) == [mine, theirs])
            #expect(try await store.deletePrebuilds([theirs, PrebuildKey(owner: second, tag: "absent")]) == [theirs])
            #expect(try await store.prebuild(mine) != nil)
        }
    }

    @Test("one build under way per owner; another owner, a finished build or an expired one frees it", arguments: StoreKind.all)
    func oneBuildPerOwner(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let a = PrebuildKey(owner: first, tag: "a")
            #expect(try await store.beginPrebuild(a, baseRuntime: "python", setupScript: "", busyFor: 60) == .started)
            #expect(
                try await store.beginPrebuild(PrebuildKey(owner: first, tag: "b"), baseRuntime: "python", setupScript: "", busyFor: 60) == .ownerBusy
            )
            #expect(try await store.beginPrebuild(a, baseRuntime: "python", setupScript: "again", busyFor: 60) == .ownerBusy)
            #expect(try await store.prebuild(PrebuildKey(owner: first, tag: "b")) == nil)
            #expect(
                try await store.beginPrebuild(PrebuildKey(owner: second, tag: "a"), baseRuntime: "python", setupScript: "", busyFor: 60) == .started
            )
            // A build whose worker died no longer counts once its time is up.
            #expect(
                try await store.beginPrebuild(PrebuildKey(owner: first, tag: "b"), baseRuntime: "python", setupScript: "", busyFor: -1) == .started
            )
            try await store.finishPrebuild(a, outcome: .failure("done"))
            try await store.finishPrebuild(PrebuildKey(owner: first, tag: "b"), outcome: .failure("done"))
            #expect(try await store.beginPrebuild(a, baseRuntime: "python", setupScript: "again", busyFor: 60) == .started)
        }
    }

    @Test("engine references: the seed's name without an owner, a Docker tag per owner otherwise")
    func engineReferences() {
        #expect(PrebuildKey(owner: "", tag: "tools").engineReference == "prebuilt-tools")
        let one = PrebuildKey(owner: first, tag: "tools").engineReference
        let two = PrebuildKey(owner: second, tag: "tools").engineReference
        #expect(one.hasPrefix("prebuilt-tools:o") && one.count == "prebuilt-tools:o".count + 24)
        #expect(one != two)
        #expect(PrebuildKey(owner: first, tag: "tools").publicName == "prebuilt-tools")
        #expect(ImageReference.shortTag("prebuilt-x") == "x" && ImageReference.shortTag("x") == "x")
    }

    @Test("images recorded before images had owners keep the owner '' (no credential inherits them)")
    func migrationKeepsOldImages() async throws {
        let path = temporaryDatabasePath()
        do {
            let before = try DatabaseQueue(path: path)
            try await before.write { db in
                for step in Migrations.steps.prefix(5) { try db.execute(sql: step) }
                try db.execute(sql: "PRAGMA user_version = 5")
                try db.execute(
                    sql: "INSERT INTO prebuilds (tag, base_runtime, setup_script, status, created_at) VALUES ('old', 'python', 'true', 'ready', 1)"
                )
            }
            try before.close()
        }
        let store = try SQLiteJobStore(path: path)
        #expect(try await store.prebuild(PrebuildKey(owner: "", tag: "old"))?.status == .ready)
        #expect(try await store.prebuilds(owner: first).isEmpty)
    }

    @Test("payloads stored before images had owners decode as the owner '' (and round-trip with keys)")
    func legacyPayload() throws {
        let legacy = #"{"action":"build","tag":"old","baseRuntime":"python","setupScript":"true","timeoutSeconds":60,"maxLogBytes":10}"#
        let decoded = try JSONDecoder().decode(PrebuildPayload.self, from: Data(legacy.utf8))
        #expect(decoded.key == PrebuildKey(owner: "", tag: "old"))
        let current = PrebuildPayload(action: .remove, key: PrebuildKey(owner: first, tag: "x"), baseRuntime: "", setupScript: "", timeoutSeconds: 1)
        #expect(try JSONDecoder().decode(PrebuildPayload.self, from: JSONEncoder().encode(current)) == current)
    }
}
