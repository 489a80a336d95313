import Foundation
import Queue

/// A fresh database file in its own temporary directory.
func temporaryDatabasePath() -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("queue-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory.appendingPathComponent("jobs.sqlite").path
}

/// The `code-runner-worker` binary built next to the test bundle.
func benchBinary() throws -> URL {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
        URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug"),
    ]
    for directory in candidates {
        let binary = directory.appendingPathComponent("code-runner-bench")
        if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
    }
    throw TestFailure("code-runner-bench not built; run `swift build --build-tests` first")
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
    /// Set by the reader once the pipe reached its end: every byte is in `buffer`.
    private var reachedEnd = false
    private var endWaiters: [CheckedContinuation<Void, Never>] = []

    init(arguments: [String]) throws {
        process.executableURL = try benchBinary()
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // One blocking reader: a read returns data or, at the pipe's end only, nothing. So every
        // byte is appended before the end is marked.
        let handle = output.fileHandleForReading
        DispatchQueue.global().async { [self] in
            while case let data = handle.availableData, !data.isEmpty { append(data) }
            markEnd()
        }
    }

    private func markEnd() {
        let waiters = lock.withLock {
            reachedEnd = true
            defer { endWaiters = [] }
            return endWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the child's output has ended (it exited, or closed its stdout).
    private func outputEnded() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ended = lock.withLock {
                if !reachedEnd { endWaiters.append(continuation) }
                return reachedEnd
            }
            if ended { continuation.resume() }
        }
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

    /// Waits for the process's output to end and the process to exit; returns its exit status
    /// and every output line.
    ///
    /// The child is reaped here with `waitpid`, not by `Process.waitUntilExit`: with many
    /// probes exiting at the same moment, Foundation on Linux has been seen to leave one
    /// unreaped, and `waitUntilExit` then never returns. A watchdog bounds the whole wait at
    /// `limit` (status -1, so the test fails instead of the run hanging).
    func finish(within limit: Duration = .seconds(120)) async -> (status: Int32, lines: [String]) {
        let status = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            let once = OnceFlag()
            let pid = process.processIdentifier
            Task {
                await outputEnded()
                DispatchQueue.global().async {
                    let status =
                        Self.reap(pid)
                        ?? {
                            // Foundation reaped it first: then it knows the status
                            self.process.waitUntilExit()
                            return self.process.terminationStatus
                        }()
                    if once.claim() { continuation.resume(returning: status) }
                }
            }
            Task {
                try? await Task.sleep(for: limit)  // a watchdog, not a synchronisation
                if once.claim() { continuation.resume(returning: -1) }
            }
        }
        if status == -1 {
            kill()
        } else {
            // The reader has stopped; it may have stopped early (a read interrupted by a signal,
            // such as the other probe's SIGCHLD, returns no data as the end does): the child
            // has exited, so whatever it wrote is still in the pipe and this read ends.
            let rest = output.fileHandleForReading.readDataToEndOfFile()
            if !rest.isEmpty { lock.withLock { buffer.append(rest) } }
        }
        let text = lock.withLock { String(decoding: buffer, as: UTF8.self) }
        return (status, text.split(separator: "\n").map(String.init))
    }

    /// Waits for `pid` and returns its exit status (128 + the signal's number when killed, as a
    /// shell says), or nil when it is not our child any more.
    private static func reap(_ pid: pid_t) -> Int32? {
        var raw: Int32 = 0
        var reaped: pid_t
        repeat { reaped = waitpid(pid, &raw, 0) } while reaped == -1 && errno == EINTR
        guard reaped == pid else { return nil }
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
    }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
    }
}

/// True for the first caller of `claim()` only.
final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var claimed = false

    func claim() -> Bool {
        lock.withLock {
            defer { claimed = true }
            return !claimed
        }
    }
}

/// Enqueues `count` run jobs with a trivial payload.
@discardableResult
func enqueueJobs(_ store: any JobStore, count: Int, owner: String = "") async throws -> [Job] {
    var jobs: [Job] = []
    for index in 0..<count {
        if case .created(let job) = try await store.enqueue(
            NewJob(kind: .run, owner: owner, payload: Data("{\"n\":\(index)}".utf8)),
            maxQueueDepth: nil
        ) {
            jobs.append(job)
        }
    }
    return jobs
}
