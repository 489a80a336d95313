import Foundation
import GRDB

/// What a clean-up run removed, recorded for `/health` and `/metrics`.
public struct CleanupReport: Codable, Sendable, Equatable {
    public var finishedAt: Double
    public var removedJobs: Int
    public var removedContainers: Int
    public var removedImages: Int

    public init(finishedAt: Double = 0, removedJobs: Int, removedContainers: Int, removedImages: Int) {
        self.finishedAt = finishedAt
        self.removedJobs = removedJobs
        self.removedContainers = removedContainers
        self.removedImages = removedImages
    }
}

/// Scheduled jobs and retention, on the same SQLite file.
///
/// Every worker ticks the scheduler; a due schedule is fired in one write transaction that
/// enqueues its job under the unique key `<name>@<fire_at>` (a second insert for the same tick is
/// ignored) and advances `next_fire_at` with a compare-and-set — so any number of workers
/// enqueue exactly one job per tick. Missed ticks are skipped, not replayed.
extension SQLiteJobStore {
    /// Declares (or re-times) a schedule; the first firing comes `firstDelay` seconds after the
    /// schedule is first declared, so a fresh deployment cleans up shortly after its first worker starts.
    public func declareSchedule(_ name: String, every interval: Double, firstDelay: Double) async throws {
        try await databasePool.write { db in
            try db.execute(
                literal: """
                    INSERT INTO schedules (name, interval_seconds, next_fire_at)
                    VALUES (\(name), \(interval), \(sql: DatabaseClock.now) + \(firstDelay))
                    ON CONFLICT(name) DO UPDATE SET interval_seconds = excluded.interval_seconds
                    """
            )
        }
    }

    /// Enqueues the jobs of every due schedule; returns how many were enqueued by this call.
    @discardableResult
    public func fireDueSchedules(kinds: [String: JobKind]) async throws -> Int {
        let now = DatabaseClock.now
        let due = try await databasePool.read { db in
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM schedules WHERE next_fire_at <= \(now))")) ?? false
        }
        guard due else { return 0 }  // never take the write lock when nothing is due
        return try await databasePool.write { db in
            var fired = 0
            let rows = try Row.fetchAll(db, sql: "SELECT name, interval_seconds, next_fire_at FROM schedules WHERE next_fire_at <= \(now)")
            let current = try Double.fetchOne(db, sql: "SELECT \(now)") ?? 0
            for row in rows {
                let name: String = row["name"]
                let interval: Double = row["interval_seconds"]
                let fireAt: Double = row["next_fire_at"]
                guard let kind = kinds[name] else { continue }
                // One job per tick: a second insert under the same unique key inserts nothing.
                // Stamped like any job (`FairShare`), as PostgreSQL's schedules are.
                let job = NewJob(kind: kind, owner: "", payload: Data("{}".utf8), uniqueKey: "\(name)@\(fireAt)", maxAttempts: 1)
                let fairTime = try JobStatements.fairTime(of: job).fetchOne(db) ?? 0
                if try JobStatements.enqueue(job, fairTime: fairTime).fetchOne(db) != nil { fired += 1 }
                // The next tick after now, on the schedule's own grid (missed ticks are skipped).
                let steps = max(1, ((current - fireAt) / interval).rounded(.down) + 1)
                try db.execute(
                    literal: """
                        UPDATE schedules SET next_fire_at = \(fireAt + steps * interval)
                        WHERE name = \(name) AND next_fire_at = \(fireAt)
                        """
                )
            }
            return fired
        }
    }

    /// Deletes finished jobs older than `hours`, `batch` rows per transaction so the write lock
    /// is released often; returns how many were deleted.
    public func deleteFinishedJobs(olderThanHours hours: Double, batch: Int = 500) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await databasePool.write { db in
                try db.executeCached(JobStatements.deleteFinished(olderThan: hours * 3600, limit: batch))
            }
            total += deleted
            if deleted < batch { return total }
        }
    }

    /// Moves the WAL's content into the database file and truncates the WAL.
    public func checkpoint() async throws {
        try await databasePool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }

    public func recordCleanup(_ report: CleanupReport) async throws {
        try await databasePool.write { db in
            try db.execute(
                literal: """
                    INSERT INTO cleanup_runs (finished_at, removed_jobs, removed_containers, removed_images)
                    VALUES (\(sql: DatabaseClock.now), \(report.removedJobs), \(report.removedContainers), \(report.removedImages))
                    """
            )
            try db.execute(sql: "DELETE FROM cleanup_runs WHERE id <= (SELECT max(id) - 100 FROM cleanup_runs)")
        }
    }

    public func lastCleanup() async throws -> CleanupReport? {
        try await databasePool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM cleanup_runs ORDER BY id DESC LIMIT 1").map {
                CleanupReport(
                    finishedAt: $0["finished_at"],
                    removedJobs: $0["removed_jobs"],
                    removedContainers: $0["removed_containers"],
                    removedImages: $0["removed_images"]
                )
            }
        }
    }
}
