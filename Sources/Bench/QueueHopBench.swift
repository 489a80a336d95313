import ArgumentParser
import Foundation
import Logging
import Queue
import Synchronization

/// `code-runner-bench queue-hops` (part of `make bench`): the queue's two wake-ups, measured
/// between three stores opened on one database (a SQLite file, or a PostgreSQL database or
/// schema), as between the API and worker processes (each has its own change watcher: SQLite's
/// `DatabaseChangeWatcher`, PostgreSQL's `LISTEN` session and coalesced `NOTIFY`):
/// - enqueue → claim: from the call to `enqueue` until an idle worker, woken by its change
///   stream, holds the job;
/// - complete → waiting API: from the call to `complete` until a waiter, woken by its change
///   stream, has read the job as finished.
///
/// The worker and the waiter consume their hints continuously, as the real ones do: a hint left
/// over from the round's earlier write mostly costs them one empty look.
struct QueueHopBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue-hops",
        abstract: "Wake-up latencies of the queue (enqueue → claim, complete → waiting API)."
    )

    @Option(help: "A scratch SQLite database file, or a postgres:// URL.")
    var database: String

    @Option(help: "With a postgres:// URL: the schema to use (created when missing).")
    var schema: String?

    @Option(help: "Measured rounds.")
    var rounds = 1000

    @Option(help: "Write the samples (milliseconds) as JSON to this file.")
    var json: String?

    /// The samples of one run, in milliseconds.
    struct Latencies: Encodable {
        var enqueueToClaim: [Double] = []
        var completeToWaiter: [Double] = []
    }

    func run() async throws {
        let logger = Logger(label: "queue-hops")
        let stores = [
            try await JobStores.open(database: database, schema: schema, logger: logger),
            try await JobStores.open(database: database, schema: schema, logger: logger),
            try await JobStores.open(database: database, schema: schema, logger: logger),
        ]
        let latencies = try await Self.measure(producer: stores[0], worker: stores[1], waiter: stores[2], rounds: rounds)
        var lines = ["| queue wake-up | n | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|---|"]
        for (name, samples) in [("enqueue → claim", latencies.enqueueToClaim), ("complete → waiting API", latencies.completeToWaiter)] {
            lines.append(
                String(
                    format: "| %@ | %d | %.2f | %.2f | %.2f |",
                    name,
                    samples.count,
                    BenchReport.percentile(samples, 0.5),
                    BenchReport.percentile(samples, 0.95),
                    BenchReport.percentile(samples, 0.99)
                )
            )
        }
        print(lines.joined(separator: "\n"))
        if let json { try BenchReport.writeJSON(latencies, to: json) }
    }

    /// Measures `rounds` rounds: `producer` enqueues, `worker` claims and completes, `waiter`
    /// watches for the completion — three stores on one database, as three processes would be.
    static func measure(producer: any JobStore, worker: any JobStore, waiter: any JobStore, rounds: Int) async throws -> Latencies {
        let (claims, claimed) = AsyncStream<(ClaimedJob, ContinuousClock.Instant)>.makeStream()
        let (finishes, finished) = AsyncStream<ContinuousClock.Instant>.makeStream()
        let watchedJob = WatchedJob()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            let workerHints = worker.changes()
            let waiterHints = waiter.changes()
            group.addTask {
                for await _ in workerHints {
                    for job in try await worker.claim(worker: "bench", limit: 8, leaseSeconds: 60) {
                        claimed.yield((job, .now))
                    }
                }
            }
            group.addTask {
                for await _ in waiterHints {
                    guard let id = watchedJob.id.withLock({ $0 }), try await !waiter.finishedJobs(among: [id]).isEmpty else { continue }
                    watchedJob.id.withLock { $0 = nil }
                    finished.yield(.now)
                }
            }
            var latencies = Latencies()
            var claimedJobs = claims.makeAsyncIterator()
            var finishedJobs = finishes.makeAsyncIterator()
            for _ in 0..<rounds {
                let enqueued = ContinuousClock.now
                _ = try await producer.enqueue(NewJob(kind: .run, owner: "bench", payload: Data("{}".utf8)), maxQueueDepth: nil)
                guard let (job, claimedAt) = await claimedJobs.next() else { throw BenchFailure("the worker stopped claiming") }
                latencies.enqueueToClaim.append((claimedAt - enqueued).milliseconds)

                watchedJob.id.withLock { $0 = job.job.id }
                let completing = ContinuousClock.now
                guard try await worker.complete(job.lease, result: Data("{}".utf8)) else { throw BenchFailure("the lease was lost") }
                guard let finishedAt = await finishedJobs.next() else { throw BenchFailure("the waiter stopped") }
                latencies.completeToWaiter.append((finishedAt - completing).milliseconds)
            }
            group.cancelAll()
            return latencies
        }
    }
}

/// The job the waiter looks for, shared with the round that completes it.
private final class WatchedJob: Sendable {
    let id = Mutex<Int64?>(nil)
}
