import Foundation
import Queue
import Testing

/// The worker executable as a process.
@Suite(.serialized)
struct WorkerProcessTests {
    func workerBinary() throws -> URL {
        for directory in [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug"),
        ] {
            let binary = directory.appendingPathComponent("code-runner-worker")
            if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
        }
        throw CancellationError()
    }

    /// Waits (on change hints, bounded) until `condition` holds for the live workers.
    func waitForWorkers(_ store: SQLiteJobStore, within seconds: Double, _ condition: ([WorkerStatus]) -> Bool) async throws -> [WorkerStatus] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var hints = store.changes().makeAsyncIterator()
        while ContinuousClock.now < deadline {
            let workers = try await store.liveWorkers(within: 30)
            if condition(workers) { return workers }
            _ = await hints.next()
        }
        return try await store.liveWorkers(within: 30)
    }

    @Test("without a reachable Docker engine the worker starts, reports it, claims nothing, and stops cleanly on SIGTERM")
    func startsWithoutDocker() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("worker-nodocker-\(UUID())")
        let database = directory.appendingPathComponent("jobs.sqlite").path
        let store = try SQLiteJobStore(path: database)
        try await store.enqueue(NewJob(kind: .run, owner: "", payload: Data("{}".utf8)), maxQueueDepth: nil)

        let process = Process()
        process.executableURL = try workerBinary()
        process.arguments = ["--worker-id", "no-docker"]
        process.environment = ProcessInfo.processInfo.environment.merging([
            "DATABASE_PATH": database, "DOCKER_SOCKET": directory.appendingPathComponent("missing.sock").path,
            "LEASE_SECONDS": "3",
        ]) { $1 }
        process.standardError = FileHandle.nullDevice
        try process.run()

        let workers = try await waitForWorkers(store, within: 20) { $0.contains { $0.id == "no-docker" } }
        let status = try #require(workers.first { $0.id == "no-docker" })
        #expect(status.dockerConnected == false)
        #expect(status.dockerError?.isEmpty == false)
        #expect(process.isRunning)
        #expect(try await store.counts() == QueueCounts(queued: 1, running: 0))

        process.terminate()  // SIGTERM
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                process.waitUntilExit()
                continuation.resume()
            }
        }
        #expect(process.terminationStatus == 0)
        #expect(try await store.liveWorkers(within: 30).isEmpty)
    }
}
