import Foundation
import Queue

/// A fresh database file in its own temporary directory.
func temporaryDatabasePath() -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("queue-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory.appendingPathComponent("jobs.sqlite").path
}

/// The `code-runner-worker` binary built next to the test bundle.
func workerBinary() throws -> URL {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
        URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug"),
    ]
    for directory in candidates {
        let binary = directory.appendingPathComponent("code-runner-worker")
        if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
    }
    throw TestFailure("code-runner-worker not built; run `swift build --build-tests` first")
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A child process whose stdout is collected line by line.
final class ProbeProcess: @unchecked Sendable {
    let process = Process()
    private let output = Pipe()
    private let lock = NSLock()
    private var buffer = Data()
    private var lineWaiters: [(String, CheckedContinuation<String, Never>)] = []

    init(arguments: [String]) throws {
        process.executableURL = try workerBinary()
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        output.fileHandleForReading.readabilityHandler = { [weak self] handle in
            self?.append(handle.availableData)
        }
        try process.run()
    }

    private func append(_ data: Data) {
        lock.lock()
        buffer.append(data)
        let text = String(decoding: buffer, as: UTF8.self)
        var ready: [(CheckedContinuation<String, Never>, String)] = []
        lineWaiters.removeAll { prefix, continuation in
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return false }
            ready.append((continuation, String(line)))
            return true
        }
        lock.unlock()
        for (continuation, line) in ready { continuation.resume(returning: line) }
    }

    /// The first output line starting with `prefix`, once it has been printed.
    func line(startingWith prefix: String) async -> String {
        await withCheckedContinuation { continuation in
            lock.withLock { lineWaiters.append((prefix, continuation)) }
            append(Data())
        }
    }

    /// Waits for the process to exit; returns its status and every output line.
    func finish() async -> (status: Int32, lines: [String]) {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                self.process.waitUntilExit()
                continuation.resume()
            }
        }
        output.fileHandleForReading.readabilityHandler = nil
        let rest = output.fileHandleForReading.readDataToEndOfFile()
        let text = lock.withLock {
            buffer.append(rest)
            return String(decoding: buffer, as: UTF8.self)
        }
        return (process.terminationStatus, text.split(separator: "\n").map(String.init))
    }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
    }
}

/// Enqueues `count` run jobs with a trivial payload.
@discardableResult
func enqueueJobs(_ store: SQLiteJobStore, count: Int, owner: String = "") async throws -> [Job] {
    var jobs: [Job] = []
    for index in 0..<count {
        if case .created(let job) = try await store.enqueue(
            NewJob(kind: .run, owner: owner, payload: Data("{\"n\":\(index)}".utf8)), maxQueueDepth: nil)
        {
            jobs.append(job)
        }
    }
    return jobs
}
