import ArgumentParser
import Foundation
import Logging
import Queue

/// `code-runner-bench queue-probe`: drives the queue with a no-op executor, without Docker.
/// Used by the multi-process queue tests and by the queue benchmark: several probe processes
/// claim from one database (a SQLite file or a PostgreSQL schema) and print what they did, one line per job.
struct QueueProbe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue-probe",
        abstract: "Claim and complete jobs with a no-op executor (tests, benchmarks)."
    )

    @Option(help: "The SQLite database file, or a postgres:// URL.")
    var database: String

    @Option(help: "With a postgres:// URL: the schema to use (created when missing).")
    var schema: String?

    @Option(help: "This probe's worker id.")
    var workerID = "probe-\(ProcessInfo.processInfo.processIdentifier)"

    @Option(help: "Jobs claimed per batch.")
    var batch = 1

    @Option(help: "Lease length in seconds.")
    var leaseSeconds = 30.0

    @Flag(help: "Claim one job, print it, then hold it without completing (until killed).")
    var hold = false

    @Flag(help: "Wait for jobs on change hints until the queue stays empty for --idle-ms.")
    var follow = false

    @Option(help: "With --follow: stop after this many milliseconds without a claimable job.")
    var idleMs = 500

    @Option(help: "Instead of claiming: tick the scheduler for this many milliseconds.")
    var schedulerMs: Int?

    @Option(help: "With --scheduler-ms: the cleanup schedule's interval in milliseconds.")
    var intervalMs = 50

    @Option(help: "Instead of claiming: enqueue this many no-op jobs and exit.")
    var enqueue: Int?

    @Flag(
        help:
            "Print no line per job; at the end, print 'timing <first> <last> <jobs>' (seconds since 1970, from the first call to the last job's end) to stderr."
    )
    var timing = false

    func run() async throws {
        let store = try await JobStores.open(database: database, schema: schema, logger: Logger(label: "queue-probe"))
        if let enqueue {
            let first = Date()
            for _ in 0..<enqueue {
                _ = try await store.enqueue(NewJob(kind: .run, owner: "probe", payload: Data("{}".utf8)), maxQueueDepth: nil)
            }
            reportTiming(first: first, last: Date(), jobs: enqueue)
            emit("enqueued \(enqueue)")
            return
        }
        if let schedulerMs {
            try await store.declareSchedule("cleanup", every: Double(intervalMs) / 1000, firstDelay: 0)
            let end = ContinuousClock.now + .milliseconds(schedulerMs)
            var fired = 0
            while ContinuousClock.now < end {
                fired += try await store.fireDueSchedules(kinds: ["cleanup": .cleanup])
                try await Task.sleep(for: .milliseconds(1))  // the scheduler's tick
            }
            emit("fired \(fired)")
            return
        }
        if hold {
            while true {
                if let claimed = try await store.claim(worker: workerID, limit: 1, leaseSeconds: leaseSeconds).first {
                    emit("held \(claimed.job.publicID) attempt \(claimed.job.attempts)")
                    for await _ in store.changes() {}  // until killed
                    return
                }
                for await _ in store.changes() { break }
            }
        }
        var completed = 0
        var lastWork = ContinuousClock.now
        var firstClaim: Date?
        var lastCompletion = Date()
        while true {
            let claiming = Date()
            let claimed = try await store.claim(worker: workerID, limit: batch, leaseSeconds: leaseSeconds)
            if firstClaim == nil, !claimed.isEmpty { firstClaim = claiming }
            // The claimed jobs finish at once, as a worker's slots do under load.
            try await withThrowingTaskGroup(of: (ClaimedJob, Bool).self) { group in
                for job in claimed {
                    group.addTask { (job, try await store.complete(job.lease, result: Data("{}".utf8))) }
                }
                for try await (job, stored) in group {
                    if !timing { emit("\(stored ? "completed" : "rejected") \(job.job.publicID) attempt \(job.job.attempts)") }
                    completed += 1
                }
            }
            if !claimed.isEmpty {
                lastWork = .now
                lastCompletion = Date()
                continue
            }
            guard follow, ContinuousClock.now - lastWork < .milliseconds(idleMs) else { break }
            // Expired leases of killed probes go back to the queue; then wait for a change hint,
            // with a 100 ms safety poll (an expiring lease commits nothing, so no hint comes).
            _ = try await store.reapExpiredLeases()
            await withTaskGroup(of: Void.self) { group in
                group.addTask { for await _ in store.changes() { return } }
                group.addTask { try? await Task.sleep(for: .milliseconds(100)) }
                await group.next()
                group.cancelAll()
            }
        }
        reportTiming(first: firstClaim ?? lastCompletion, last: lastCompletion, jobs: completed)
        FileHandle.standardError.write(Data("\(workerID): \(completed) jobs\n".utf8))
    }

    /// With `--timing`: one line for the benchmark, which combines the probes' lines (the first
    /// start to the last end): process start-up and connecting are not part of the figure.
    private func reportTiming(first: Date, last: Date, jobs: Int) {
        guard timing else { return }
        let line = String(format: "timing %.6f %.6f %d\n", first.timeIntervalSince1970, last.timeIntervalSince1970, jobs)
        FileHandle.standardError.write(Data(line.utf8))
    }
}

/// Writes a line to stdout at once (no buffering: a test may kill the process right after).
private func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
