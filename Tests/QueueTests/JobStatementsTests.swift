import Foundation
import GRDB
import GRDBSQLite
import Testing

@testable import Queue

/// Facts of SQLite's `JobStatements`: states are literals, the statements naming a state are
/// served by the partial index of that state, the claim is never re-prepared. (What a lease
/// leaves behind on each transition holds for both stores: `LeaseTransitionTests`.)
struct JobStatementsTests {
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
            ("jobs_fair", try await sql(store, JobStatements.claim(worker: "w", limit: 8, leaseSeconds: 30))),
            ("jobs_fair", try await sql(store, JobStatements.claimCapped(worker: "w", limit: 8, leaseSeconds: 30))),
            ("jobs_fair", try await sql(store, JobStatements.anyClaimable())),
            ("jobs_fair", try await sql(store, JobStatements.count(.queued))),
            ("jobs_fair_by_owner", try await sql(store, JobStatements.fairTime(of: NewJob(kind: .run, owner: "o", payload: Data())))),
            ("jobs_fair_by_owner", try await sql(store, JobStatements.queuedCount(owner: "o", upTo: 5))),
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
