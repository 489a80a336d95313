import Foundation
import GRDB
import GRDBSQLite
import Testing

@testable import Queue

/// Facts `JobStatements` documents: what a lease leaves behind on each transition, and that the
/// statements naming a state are served by the partial index of that state.
struct JobStatementsTests {
    /// A job's lease columns and state, read from its row.
    struct LeaseColumns: Equatable, CustomStringConvertible {
        var state: JobState
        var owner: String?
        var token: String?
        var expiresAt: Double?

        var description: String { "\(state) owner=\(owner ?? "nil") token=\(token ?? "nil") expires=\(expiresAt.map { "\($0)" } ?? "nil")" }
    }

    func leaseColumns(_ store: SQLiteJobStore, _ id: Int64) async throws -> LeaseColumns {
        try await store.databasePool.read { db in
            let row = try #require(try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id]))
            return LeaseColumns(
                state: try #require(JobState(rawValue: row["state"])),
                owner: row["lease_owner"],
                token: row["lease_token"],
                expiresAt: row["lease_expires_at"]
            )
        }
    }

    /// What every transition out of `running` leaves: no token, no expiry, the claiming worker as owner.
    func endedLease(_ state: JobState, owner: String? = "w") -> LeaseColumns {
        LeaseColumns(state: state, owner: owner, token: nil, expiresAt: nil)
    }

    @Test("a new process with a dead worker's id gives that worker's runs to the reaper instead of keeping their leases")
    func previousProcessLeases() async throws {
        let store = try SQLiteJobStore(path: temporaryDatabasePath())
        try await enqueueJobs(store, count: 2)
        let dead = try await store.claim(worker: "worker-1", limit: 1, leaseSeconds: 300)
        let other = try await store.claim(worker: "worker-2", limit: 1, leaseSeconds: 300)
        #expect(try await store.expireLeases(ofWorker: "worker-1") == 1)
        #expect(try await store.reapExpiredLeases() == 1)
        let requeued = try await leaseColumns(store, dead[0].job.id)
        #expect(requeued.state == .queued && requeued.token == nil)
        // the new worker-1's heartbeat holds nothing of its predecessor's; worker-2 keeps its run
        let status = WorkerStatus(id: "worker-1", pid: 2, host: "h", slots: 1, dockerConnected: true)
        #expect(try await store.heartbeat(status, leaseSeconds: 300).isEmpty)
        #expect(try await leaseColumns(store, other[0].job.id).state == .running)
        #expect(try await store.expireLeases(ofWorker: "worker-1") == 0)
    }

    @Test("every transition out of running ends the lease the same way: token and expiry cleared, lease_owner kept")
    func leaseColumnsAfterEachTransition() async throws {
        let store = try SQLiteJobStore(path: temporaryDatabasePath())
        let jobs = try await enqueueJobs(store, count: 8)
        let claimed = try await store.claim(worker: "w", limit: 6, leaseSeconds: 30)
        let running = try await leaseColumns(store, claimed[0].job.id)
        #expect(running.state == .running && running.owner == "w" && running.token == claimed[0].lease.token && running.expiresAt != nil)

        #expect(try await store.complete(claimed[0].lease, result: Data("{}".utf8)))
        #expect(try await store.fail(claimed[1].lease, failure: .workerLost, retry: false))
        #expect(try await store.fail(claimed[2].lease, failure: .workerLost, retry: true))
        #expect(try await store.release(claimed[3].lease))
        guard case .cancelled = try await store.cancel(publicID: claimed[4].job.publicID, owner: ""),
            case .cancelled = try await store.cancel(publicID: jobs[7].publicID, owner: "")
        else {
            Issue.record("a running or queued job was not cancelled")
            return
        }
        #expect(try await leaseColumns(store, claimed[0].job.id) == endedLease(.completed))
        #expect(try await leaseColumns(store, claimed[1].job.id) == endedLease(.failed))
        #expect(try await leaseColumns(store, claimed[2].job.id) == endedLease(.queued))
        #expect(try await leaseColumns(store, claimed[3].job.id) == endedLease(.queued))
        #expect(try await leaseColumns(store, claimed[4].job.id) == endedLease(.cancelled))
        #expect(try await leaseColumns(store, jobs[7].id) == endedLease(.cancelled, owner: nil))
        #expect(try await leaseColumns(store, claimed[5].job.id).state == .running)  // untouched

        // The reaper: an expired lease with an attempt left is requeued, then (attempts used up) failed.
        try await store.databasePool.write { db in
            try db.execute(sql: "UPDATE jobs SET lease_expires_at = 0 WHERE id = ?", arguments: [claimed[5].job.id])
        }
        #expect(try await store.reapExpiredLeases() == 1)
        #expect(try await leaseColumns(store, claimed[5].job.id) == endedLease(.queued))
        let reclaimed = try #require(try await store.claim(worker: "v", limit: 8, leaseSeconds: -1).first { $0.job.id == claimed[5].job.id })
        #expect(reclaimed.job.attempts == reclaimed.job.maxAttempts)
        #expect(try await store.reapExpiredLeases() == 4)  // and the three other jobs v claimed
        #expect(try await leaseColumns(store, claimed[5].job.id) == endedLease(.failed, owner: "v"))
        // A lease that ended cannot write, and heartbeat of its former owner does not revive it.
        #expect(try await store.complete(claimed[5].lease, result: Data()) == false)
        #expect(try await store.heartbeat(WorkerStatus(id: "w", pid: 1, host: "h", slots: 1), leaseSeconds: 30).isEmpty)
    }

    @Test("fail with retry requeues while attempts remain and resets the start, without finishing the job")
    func failWithRetry() async throws {
        let store = try SQLiteJobStore(path: temporaryDatabasePath())
        let job = try #require(try await enqueueJobs(store, count: 1).first)
        let failure = JobFailure(statusCode: 503, detail: "engine down")
        for attempt in 1...job.maxAttempts {
            let claimed = try #require(try await store.claim(worker: "w", limit: 1, leaseSeconds: 30).first)
            #expect(claimed.job.attempts == attempt)
            #expect(try await store.fail(claimed.lease, failure: failure, retry: true))
            let after = try #require(try await store.job(publicID: job.publicID, owner: ""))
            let last = attempt == job.maxAttempts
            #expect(after.state == (last ? .failed : .queued))
            #expect((after.finishedAt != nil) == last)
            #expect((after.startedAt != nil) == last)
            #expect(after.failure == (last ? failure : nil))
        }
    }

    @Test("state names are plain words, written into statements without escaping")
    func stateLiterals() {
        for state in JobState.allCases {
            #expect(state.rawValue.allSatisfy { $0.isASCII && $0.isLowercase }, "\(state)")
            #expect(state.sqlLiteral == "'\(state.rawValue)'")
        }
        #expect(JobState.finalStates == [.completed, .failed, .cancelled])  // the jobs_finished index's list
    }

    @Test("statements naming a state are served by that state's partial index")
    func partialIndexesServeTheirStatements() async throws {
        let store = try SQLiteJobStore(path: temporaryDatabasePath())
        try await enqueueJobs(store, count: 3)
        let plans: [(String, SQL)] = [
            ("jobs_claimable", try await sql(store, JobStatements.claim(worker: "w", limit: 8, leaseSeconds: 30))),
            ("jobs_claimable", try await sql(store, JobStatements.anyClaimable())),
            ("jobs_claimable", try await sql(store, JobStatements.count(.queued))),
            ("jobs_leased", try await sql(store, JobStatements.count(.running))),
            ("jobs_leased", try await sql(store, JobStatements.anyExpired())),
            ("jobs_leased", JobStatements.requeueExpired()),
            ("jobs_leased", JobStatements.failExpired()),
            ("jobs_finished", JobStatements.deleteFinished(olderThan: 3600, limit: 500)),
        ]
        for (index, statement) in plans {
            let plan = try await store.databasePool.read { db in
                let (text, arguments) = try statement.build(db)
                return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + text, arguments: arguments)
                    .map { $0["detail"] as String? ?? "" }.joined(separator: " | ")
            }
            #expect(plan.contains(index), "\(plan)")
        }
    }

    @Test("the claim is prepared once per connection: its states are literals, not bound values SQLite re-plans for")
    func claimIsNotReprepared() async throws {
        let store = try SQLiteJobStore(path: temporaryDatabasePath())
        try await enqueueJobs(store, count: 20)
        for _ in 0..<10 {
            for job in try await store.claim(worker: "w", limit: 2, leaseSeconds: 30) {
                #expect(try await store.complete(job.lease, result: Data("{}".utf8)))
            }
        }
        let (runs, reprepares) = try await store.databasePool.write { db in
            // The cached statement the store ran (the same text, on the same writer connection).
            let statement = try JobStatements.claim(worker: "w", limit: 2, leaseSeconds: 30)
                .makePreparedRequest(db, forSingleResult: false).statement
            return (
                sqlite3_stmt_status(statement.sqliteStatement, SQLITE_STMTSTATUS_RUN, 0),
                sqlite3_stmt_status(statement.sqliteStatement, SQLITE_STMTSTATUS_REPREPARE, 0)
            )
        }
        #expect(runs >= 10)
        #expect(reprepares == 0)
    }

    /// A request's SQL with its arguments, as a literal.
    func sql<T>(_ store: SQLiteJobStore, _ request: SQLRequest<T>) async throws -> SQL {
        try await store.databasePool.read { db in
            let statement = try request.makePreparedRequest(db, forSingleResult: false).statement
            return SQL(sql: statement.sql, arguments: statement.arguments)
        }
    }
}
