import Foundation
import PostgresNIO
import Testing

@testable import Queue

/// The live output of running jobs on both stores (`OutputStore`): appends fenced on the run's
/// lease and stamped with the job's attempt, read back in order, and deleted with their job.
struct OutputStorageTests {
    /// Enqueues one run job and claims it.
    func runningJob(_ store: any JobStore, worker: String = "w") async throws -> ClaimedJob {
        let job = try #require(try await enqueueJobs(store, count: 1).first)
        let claimed = try await store.claim(worker: worker, limit: 1, leaseSeconds: 30)
        #expect(claimed.map(\.job.id) == [job.id])
        return try #require(claimed.first)
    }

    /// Every chunk of the job, in one read.
    func allOutput(_ store: any JobStore, of jobID: Int64) async throws -> [StoredOutputChunk] {
        try await store.output(of: jobID, after: 0, limit: 10_000)
    }

    /// How many chunk rows the database holds for these jobs, counted by SQL (not through the store).
    func storedRows(_ database: TestDatabase, of ids: [Int64]) async throws -> Int {
        let list = ids.map(String.init).joined(separator: ", ")
        let rows = try await database.rows("SELECT CAST(count(*) AS TEXT) FROM output_chunks WHERE job_id IN (\(list))")
        return try #require(rows.first?.first.flatMap { $0.flatMap(Int.init) })
    }

    @Test("chunks come back in the order they were appended, stamped with the job row's attempt", arguments: StoreKind.all)
    func appendAndRead(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let run = try await runningJob(store)
            #expect(
                try await store.appendOutput(
                    run.lease,
                    chunks: [
                        OutputChunk(channel: .stdout, offset: 0, text: "hello\n"),
                        OutputChunk(channel: .stderr, offset: 0, text: "oops"),
                        OutputChunk(channel: .stdout, offset: 6, text: "wor"),
                    ]
                )
            )
            // The attempt is read from the row at each append, not remembered from the claim.
            try await database.rows("UPDATE jobs SET attempts = 5 WHERE id = \(run.job.id)")
            #expect(try await store.appendOutput(run.lease, chunks: [OutputChunk(channel: .stdout, offset: 9, text: "ld")]))

            let stored = try await allOutput(store, of: run.job.id)
            #expect(stored.map(\.attempt) == [1, 1, 1, 5])
            #expect(stored.map(\.channel) == [.stdout, .stderr, .stdout, .stdout])
            #expect(stored.map(\.offset) == [0, 0, 6, 9])
            #expect(stored.map(\.text) == ["hello\n", "oops", "wor", "ld"])
            let sequences = stored.map(\.sequence)
            #expect(sequences == sequences.sorted() && Set(sequences).count == 4 && (sequences.first ?? 0) > 0, "\(sequences)")
        }
    }

    @Test("after= returns only later chunks and limit caps each read", arguments: StoreKind.all)
    func afterAndLimit(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            let run = try await runningJob(store)
            let texts = ["a", "bb", "ccc", "dddd", "eeeee"]
            var offset = 0
            for text in texts {
                #expect(try await store.appendOutput(run.lease, chunks: [OutputChunk(channel: .stdout, offset: offset, text: text)]))
                offset += text.utf8.count
            }
            let first = try await store.output(of: run.job.id, after: 0, limit: 2)
            #expect(first.map(\.text) == ["a", "bb"])
            let cursor = try #require(first.last?.sequence)
            let second = try await store.output(of: run.job.id, after: cursor, limit: 2)
            #expect(second.map(\.text) == ["ccc", "dddd"])
            let rest = try await store.output(of: run.job.id, after: try #require(second.last?.sequence), limit: 100)
            #expect(rest.map(\.text) == ["eeeee"])
            #expect(rest.map(\.offset) == [10])
            #expect(try await store.output(of: run.job.id, after: try #require(rest.last?.sequence), limit: 100).isEmpty)
            #expect(try await store.output(of: run.job.id, after: 0, limit: 0).isEmpty)
        }
    }

    @Test("a stale lease writes nothing: after the reaper gave the job to another claim, and after completion", arguments: StoreKind.all)
    func staleLeaseWritesNothing(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let first = try await runningJob(store)
            #expect(try await store.appendOutput(first.lease, chunks: [OutputChunk(channel: .stdout, offset: 0, text: "one\n")]))

            // The lease expires; the reaper requeues the job (an attempt is left) and it is claimed again.
            try await database.rows("UPDATE jobs SET lease_expires_at = 0 WHERE id = \(first.job.id)")
            #expect(try await store.reapExpiredLeases() == 1)
            #expect(!(try await store.appendOutput(first.lease, chunks: [OutputChunk(channel: .stdout, offset: 4, text: "late")])))
            let second = try #require(try await store.claim(worker: "v", limit: 1, leaseSeconds: 30).first)
            #expect(second.job.id == first.job.id && second.lease != first.lease)
            #expect(!(try await store.appendOutput(first.lease, chunks: [OutputChunk(channel: .stdout, offset: 4, text: "later")])))
            // An empty append answers whether the lease holds, for either lease.
            #expect(!(try await store.appendOutput(first.lease, chunks: [])))
            #expect(try await store.appendOutput(second.lease, chunks: []))

            #expect(try await store.appendOutput(second.lease, chunks: [OutputChunk(channel: .stdout, offset: 0, text: "two\n")]))
            #expect(try await store.complete(second.lease, result: Data("{}".utf8)))
            #expect(!(try await store.appendOutput(second.lease, chunks: [OutputChunk(channel: .stderr, offset: 0, text: "after")])))
            #expect(!(try await store.appendOutput(second.lease, chunks: [])))

            let stored = try await allOutput(store, of: first.job.id)
            #expect(stored.map(\.text) == ["one\n", "two\n"])
            #expect(stored.map(\.attempt) == [1, 2])
            #expect(try await storedRows(database, of: [first.job.id]) == 2)
        }
    }

    @Test("a cancelled job's lease writes nothing; chunks with empty text are not stored", arguments: StoreKind.all)
    func cancelledAndEmpty(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let run = try await runningJob(store)
            #expect(
                try await store.appendOutput(
                    run.lease,
                    chunks: [OutputChunk(channel: .stdout, offset: 0, text: ""), OutputChunk(channel: .stdout, offset: 0, text: "x")]
                )
            )
            #expect(try await store.appendOutput(run.lease, chunks: [OutputChunk(channel: .stderr, offset: 0, text: "")]))
            #expect(try await allOutput(store, of: run.job.id).map(\.text) == ["x"])
            guard case .cancelled = try await store.cancel(publicID: run.job.publicID, owner: "") else {
                throw TestFailure("the running job was not cancelled")
            }
            #expect(!(try await store.appendOutput(run.lease, chunks: [OutputChunk(channel: .stdout, offset: 1, text: "y")])))
            #expect(try await storedRows(database, of: [run.job.id]) == 1)
        }
    }

    @Test("an append run again stores nothing twice and still answers that the lease holds", arguments: StoreKind.all)
    func repeatedAppend(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let run = try await runningJob(store)
            let chunks = [OutputChunk(channel: .stdout, offset: 0, text: "abc"), OutputChunk(channel: .stderr, offset: 0, text: "e")]
            #expect(try await store.appendOutput(run.lease, chunks: chunks))
            #expect(try await store.appendOutput(run.lease, chunks: chunks))
            #expect(try await allOutput(store, of: run.job.id).map(\.text) == ["abc", "e"])
            #expect(try await storedRows(database, of: [run.job.id]) == 2)
        }
    }

    @Test("a released attempt's output goes with the release; the next claim reuses its number and stores afresh", arguments: StoreKind.all)
    func releasedAttemptIsDiscarded(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let first = try await runningJob(store)
            #expect(first.job.attempts == 1)
            #expect(try await store.appendOutput(first.lease, chunks: [OutputChunk(channel: .stdout, offset: 0, text: "abandoned")]))
            #expect(try await store.release(first.lease))
            #expect(try await storedRows(database, of: [first.job.id]) == 0)
            #expect(!(try await store.appendOutput(first.lease, chunks: [OutputChunk(channel: .stdout, offset: 9, text: "late")])))

            let second = try #require(try await store.claim(worker: "w", limit: 1, leaseSeconds: 30).first)
            #expect(second.job.attempts == 1)
            // Same attempt, channel and offset as the abandoned chunk: stored, not skipped as a repeat.
            #expect(try await store.appendOutput(second.lease, chunks: [OutputChunk(channel: .stdout, offset: 0, text: "fresh")]))
            let stored = try await allOutput(store, of: first.job.id)
            #expect(stored.map(\.text) == ["fresh"] && stored.map(\.attempt) == [1])
        }
    }

    @Test("one job's chunks never show in another's read", arguments: StoreKind.all)
    func jobsAreSeparate(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            try await enqueueJobs(store, count: 3)
            let claimed = try await store.claim(worker: "w", limit: 3, leaseSeconds: 30)
            #expect(claimed.count == 3)
            // Interleaved appends, so the sequences of the jobs alternate.
            for round in 0..<3 {
                for (index, run) in claimed.enumerated() {
                    let chunk = OutputChunk(channel: .stdout, offset: round, text: "\(index)")
                    #expect(try await store.appendOutput(run.lease, chunks: [chunk]))
                }
            }
            for (index, run) in claimed.enumerated() {
                let stored = try await allOutput(store, of: run.job.id)
                #expect(stored.map(\.text) == Array(repeating: "\(index)", count: 3))
                #expect(stored.map(\.offset) == [0, 1, 2])
            }
            #expect(try await allOutput(store, of: 999_999).isEmpty)
        }
    }

    @Test("deleting finished jobs deletes their chunks, and keeps those of jobs still running", arguments: StoreKind.all)
    func chunksGoWithTheirJobs(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            try await enqueueJobs(store, count: 3)
            let claimed = try await store.claim(worker: "w", limit: 3, leaseSeconds: 30)
            #expect(claimed.count == 3)
            for run in claimed {
                #expect(
                    try await store.appendOutput(
                        run.lease,
                        chunks: [OutputChunk(channel: .stdout, offset: 0, text: "out"), OutputChunk(channel: .stderr, offset: 0, text: "err")]
                    )
                )
            }
            let finished = Array(claimed.prefix(2))
            for run in finished { #expect(try await store.complete(run.lease, result: Data("{}".utf8))) }
            let ids = finished.map(\.job.id)
            try await database.rows(
                "UPDATE jobs SET finished_at = finished_at - 172800 WHERE id IN (\(ids.map(String.init).joined(separator: ", ")))"
            )
            #expect(try await storedRows(database, of: ids) == 4)
            #expect(try await store.deleteFinishedJobs(olderThanHours: 24, batch: 1) == 2)
            #expect(try await storedRows(database, of: ids) == 0)
            for id in ids { #expect(try await allOutput(store, of: id).isEmpty) }
            let running = try #require(claimed.last)
            #expect(try await allOutput(store, of: running.job.id).map(\.text) == ["out", "err"])
        }
    }

    @Test("a job is watched once a stream marks it, twice is once, a gone job is no error, and the mark goes with the job", arguments: StoreKind.all)
    func watchers(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let run = try await runningJob(store)
            #expect(try await store.isOutputWatched(run.job.id) == false)
            try await store.watchOutput(of: run.job.id)
            try await store.watchOutput(of: run.job.id)
            #expect(try await store.isOutputWatched(run.job.id))
            try await store.watchOutput(of: run.job.id + 1000)
            #expect(try await store.isOutputWatched(run.job.id + 1000) == false)

            #expect(try await store.complete(run.lease, result: Data("{}".utf8)))
            try await database.rows("UPDATE jobs SET finished_at = finished_at - 172800 WHERE id = \(run.job.id)")
            #expect(try await store.deleteFinishedJobs(olderThanHours: 24, batch: 10) == 1)
            let left = try await database.rows("SELECT CAST(count(*) AS TEXT) FROM output_watchers")
            #expect(left.first?.first.flatMap { $0 } == "0")
        }
    }

    @Test("newlines, unicode, NUL and a 64 KiB chunk round-trip exactly", arguments: StoreKind.all)
    func textRoundTrips(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            let run = try await runningJob(store)
            let lines = "line 1\nline 2\r\n\n\ttabbed\n"
            let unicode = "héllo wörld, 日本語, e\u{301}, 🇫🇷👩‍👩‍👧 'quoted' \"double\" \\ back"
            let nul = "before\u{0}after"
            // 64 KiB of two- and four-byte characters (whole characters only, as the worker cuts).
            let large = String(repeating: "é", count: 16_384) + String(repeating: "🌍", count: 8_192)
            #expect(large.utf8.count == 65_536)
            let chunks = [
                OutputChunk(channel: .stdout, offset: 0, text: lines),
                OutputChunk(channel: .stdout, offset: lines.utf8.count, text: unicode),
                OutputChunk(channel: .stderr, offset: 0, text: nul),
                OutputChunk(channel: .stdout, offset: lines.utf8.count + unicode.utf8.count, text: large),
            ]
            #expect(try await store.appendOutput(run.lease, chunks: chunks))
            let stored = try await allOutput(store, of: run.job.id)
            #expect(stored.count == 4)
            #expect(stored.map(\.text) == chunks.map(\.text))
            #expect(stored.map { Array($0.text.utf8) } == chunks.map { Array($0.text.utf8) })
            #expect(stored.map(\.offset) == chunks.map(\.offset))
            #expect(stored.map(\.channel) == chunks.map(\.channel))
        }
    }

    @Test("an append wakes the listeners of other processes with a notification", arguments: StoreKind.all.filter { $0 == .postgres })
    func appendNotifies(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let postgres = try #require(store as? PostgresJobStore)
            let run = try await runningJob(store)
            let channel = postgres.feed.channel
            try await withinTenSeconds(database) { connection in
                try await connection.listen(on: channel) { notifications in
                    var received = notifications.makeAsyncIterator()
                    // (Tries outside `#expect`: a closure whose only `try`s are in macros is not inferred as throwing.)
                    let appended = try await store.appendOutput(run.lease, chunks: [OutputChunk(channel: .stdout, offset: 0, text: "hi")])
                    #expect(appended)
                    let notification = try await received.next()
                    #expect(notification != nil)
                }
            }
        }
    }

    /// Runs `body` on a connection of its own, failing the test instead of hanging when a
    /// notification never comes.
    private func withinTenSeconds(_ database: TestDatabase, _ body: @escaping @Sendable (PostgresConnection) async throws -> Void) async throws {
        try await Deadline.run(within: .seconds(10), "the notification") {
            try await database.withConnection { connection in try await body(connection) }
        }
    }
}
