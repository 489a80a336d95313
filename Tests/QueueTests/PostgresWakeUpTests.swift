import Foundation
import Logging
import PostgresNIO
import Testing

@testable import Queue

/// The writes others wait for wake them on PostgreSQL: an enqueue and a lone completion carry
/// their `NOTIFY` in their own statement when none is in flight (`NotifyCoalescer`), and the
/// notification reaches a `LISTEN` session of another connection, not only the 1 s poll.
struct PostgresWakeUpTests {
    @Test("an enqueue and a lone completion each reach a listener as a notification", arguments: StoreKind.all.filter { $0 == .postgres })
    func writesNotify(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let postgres = try #require(store as? PostgresJobStore)
            let channel = postgres.feed.channel
            try await withinTenSeconds(database) { connection in
                try await connection.listen(on: channel) { notifications in
                    var received = notifications.makeAsyncIterator()
                    _ = try await store.enqueue(NewJob(kind: .run, owner: "o", payload: Data("{}".utf8)), maxQueueDepth: nil)
                    #expect(try await received.next() != nil)
                    let claimed = try #require(try await store.claim(worker: "w", limit: 1, leaseSeconds: 30).first)
                    #expect(try await store.complete(claimed.lease, result: Data("{}".utf8)))
                    #expect(try await received.next() != nil)
                }
            }
        }
    }

    @Test("the statements' own NOTIFY: delivered at their commit, only when they change a row", arguments: StoreKind.all.filter { $0 == .postgres })
    func statementsNotify(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let postgres = try #require(store as? PostgresJobStore)
            let channel = "code_runner_statement_test"
            let job = NewJob(kind: .run, owner: "o", payload: Data("{}".utf8), uniqueKey: "once")
            try await withinTenSeconds(database) { connection in
                try await connection.listen(on: channel) { notifications in
                    var received = notifications.makeAsyncIterator()
                    let inserted = try await postgres.rows(PostgresJobStatements.enqueue(job, notifying: channel), "enqueueing")
                    #expect(inserted.count == 1)
                    // A repeat of the unique key inserts nothing and so notifies nothing: the
                    // next notification is the completion's below, whose payload tells it apart.
                    #expect(try await postgres.rows(PostgresJobStatements.enqueue(job, notifying: channel), "enqueueing").isEmpty)
                    #expect(try await received.next()?.payload == "")
                    let claimed = try #require(try await store.claim(worker: "w", limit: 1, leaseSeconds: 30).first)
                    _ = try await postgres.rows(
                        "SELECT pg_notify(\(channel), 'marker')",
                        "a marker notification"
                    )
                    #expect(try await received.next()?.payload == "marker")
                    let completed = try await postgres.rows(
                        PostgresJobStatements.complete(claimed.lease, result: Data("{}".utf8), notifying: channel),
                        "completing"
                    )
                    #expect(completed.count == 1)
                    #expect(try await received.next()?.payload == "")
                }
            }
        }
    }

    /// Runs `body` on a connection of its own, failing the test instead of hanging when a
    /// notification never comes.
    private func withinTenSeconds(_ database: TestDatabase, _ body: @escaping @Sendable (PostgresConnection) async throws -> Void) async throws {
        try await Deadline.run(within: .seconds(10), "the notifications") {
            try await database.withConnection { connection in try await body(connection) }
        }
    }
}
