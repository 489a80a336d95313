import Foundation
import GRDB
import Synchronization

/// Turns commits by any process into in-process hints.
///
/// A dedicated read-only connection polls `PRAGMA data_version` (which changes whenever another
/// connection commits) every `interval` — a prepared statement, a few microseconds per poll — and
/// signals every subscriber when it moved. SQLite has no cross-process notification, and GRDB's
/// observation only sees its own process's writes, so this is the wake-up path for new jobs
/// (→ idle workers) and finished jobs (→ waiting API requests).
final class DatabaseChangeWatcher: Sendable {
    private let connection: DatabaseQueue
    private let interval: Duration
    private let subscribers = Mutex<[UUID: AsyncStream<Void>.Continuation]>([:])
    private let pollTask = Mutex<Task<Void, Never>?>(nil)

    init(path: String, interval: Duration) throws {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        configuration.label = "change-watcher"
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.interval = interval
    }

    /// A stream that yields (coalesced) whenever the database changed.
    func subscribe() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        subscribers.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            self?.subscribers.withLock { _ = $0.removeValue(forKey: id) }
        }
        startIfNeeded()
        return stream
    }

    private func startIfNeeded() {
        pollTask.withLock { task in
            guard task == nil else { return }
            task = Task.detached { [weak self] in await self?.poll() }
        }
    }

    private func currentVersion() -> Int? {
        try? connection.inDatabase { db in
            try Int.fetchOne(db.cachedStatement(sql: "PRAGMA data_version"))
        }
    }

    private func poll() async {
        var last = currentVersion()
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            let version = currentVersion()
            if version != last {
                last = version
                let targets = subscribers.withLock { Array($0.values) }
                for continuation in targets { continuation.yield() }
            }
        }
    }

    deinit {
        pollTask.withLock { $0?.cancel() }
    }
}
