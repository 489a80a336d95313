import Foundation
import PostgresNIO

// Schedules and retention on PostgreSQL (`Schedules.swift`'s twins).
//
// A due schedule is fired in one transaction that locks its row (`FOR UPDATE SKIP LOCKED`: a
// process on another host firing it at the same moment has the row, and this one moves on),
// enqueues its job under the unique key `<name>@<fire_at>` (`ON CONFLICT DO NOTHING`) and
// advances `next_fire_at` with a compare-and-set. Either guard alone gives one job per tick
// across all hosts; both are cheap. Missed ticks are skipped, not replayed.
extension PostgresJobStore {
    public func declareSchedule(_ name: String, every interval: Double, firstDelay: Double) async throws {
        _ = try await rows(
            """
            INSERT INTO schedules (name, interval_seconds, next_fire_at)
            VALUES (\(name), \(interval), \(unescaped: PostgresJobStatements.now) + \(firstDelay))
            ON CONFLICT (name) DO UPDATE SET interval_seconds = excluded.interval_seconds
            """,
            "declaring a schedule"
        )
    }

    @discardableResult
    public func fireDueSchedules(kinds: [String: JobKind]) async throws -> Int {
        let now = PostgresJobStatements.now
        let due = try await rows("SELECT EXISTS(SELECT 1 FROM schedules WHERE next_fire_at <= \(unescaped: now))", "probing schedules")
        guard try due.first?.decode(Bool.self) == true else { return 0 }
        return try await announcing {
            try await inTransaction("firing schedules") { [logger] connection in
                let rows = try await connection.query(
                    """
                    SELECT name, interval_seconds, next_fire_at, \(unescaped: now) FROM schedules
                    WHERE next_fire_at <= \(unescaped: now) ORDER BY name FOR UPDATE SKIP LOCKED
                    """,
                    logger: logger
                ).collect()
                var fired = 0
                for row in rows {
                    let (name, interval, fireAt, current) = try row.decode((String, Double, Double, Double).self)
                    guard let kind = kinds[name] else { continue }
                    let job = NewJob(kind: kind, owner: "", payload: Data("{}".utf8), uniqueKey: "\(name)@\(fireAt)", maxAttempts: 1)
                    if try await !connection.query(try PostgresJobStatements.enqueue(job), logger: logger).collect().isEmpty { fired += 1 }
                    // The next tick after now, on the schedule's own grid (missed ticks are skipped).
                    let steps = max(1, ((current - fireAt) / interval).rounded(.down) + 1)
                    try await connection.query(
                        "UPDATE schedules SET next_fire_at = \(fireAt + steps * interval) WHERE name = \(name) AND next_fire_at = \(fireAt)",
                        logger: logger
                    )
                }
                return fired
            }
        }
    }

    public func deleteFinishedJobs(olderThanHours hours: Double, batch: Int = 500) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await rows(PostgresJobStatements.deleteFinished(olderThan: hours * 3600, limit: batch), "deleting old jobs").count
            total += deleted
            if deleted < batch { return total }
        }
    }

    /// Nothing to do: PostgreSQL's autovacuum keeps the tables (the `jobs` table has its own,
    /// tighter thresholds; see `PostgresMigrations`).
    public func checkpoint() async throws {}

    public func recordCleanup(_ report: CleanupReport) async throws {
        try await inTransaction("recording a clean-up") { [logger] connection in
            try await connection.query(
                """
                INSERT INTO cleanup_runs (finished_at, removed_jobs, removed_containers, removed_images)
                VALUES (\(unescaped: PostgresJobStatements.now), \(report.removedJobs), \(report.removedContainers), \(report.removedImages))
                """,
                logger: logger
            )
            try await connection.query("DELETE FROM cleanup_runs WHERE id <= (SELECT max(id) - 100 FROM cleanup_runs)", logger: logger)
        }
    }

    public func lastCleanup() async throws -> CleanupReport? {
        let rows = try await rows(
            "SELECT finished_at, removed_jobs, removed_containers, removed_images FROM cleanup_runs ORDER BY id DESC LIMIT 1",
            "reading the last clean-up"
        )
        return try rows.first.map { row in
            let (finishedAt, jobs, containers, images) = try row.decode((Double, Int, Int, Int).self)
            return CleanupReport(finishedAt: finishedAt, removedJobs: jobs, removedContainers: containers, removedImages: images)
        }
    }
}
