import Foundation
import GRDB
import Synchronization

/// Turns commits by any process into in-process hints.
///
/// SQLite has no cross-process notification, and GRDB's observation only sees its own
/// process's writes. A dedicated read-only connection compares `PRAGMA data_version` (which
/// changes whenever another connection commits) and signals every subscriber when it moved.
/// It looks when the `-wal` file is written (inotify: no cost while idle), then for a few
/// milliseconds — the write event can precede the commit's index update by a hair — and in any
/// case every `safetyInterval`. This is the wake-up path for new jobs (→ idle workers) and
/// finished jobs (→ waiting API requests).
final class DatabaseChangeWatcher: Sendable {
    private let connection: DatabaseQueue
    private let safetyInterval: Duration
    private let subscribers = ChangeBroadcaster()
    private let pollTask = Mutex<Task<Void, Never>?>(nil)
    private let writes: AsyncStream<Void>
    private let writeSignal: AsyncStream<Void>.Continuation
    private let monitor: FileWriteMonitor?

    init(path: String, safetyInterval: Duration) throws {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        configuration.label = "change-watcher"
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.safetyInterval = safetyInterval
        (writes, writeSignal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let file = URL(fileURLWithPath: path)
        let signal = writeSignal
        monitor = FileWriteMonitor(
            directory: file.deletingLastPathComponent().path,
            names: [file.lastPathComponent, file.lastPathComponent + "-wal"],
            onWrite: { signal.yield() }
        )
    }

    /// A stream that yields (coalesced) whenever the database changed.
    func subscribe() -> AsyncStream<Void> {
        let stream = subscribers.subscribe()
        startIfNeeded()
        return stream
    }

    /// Starts the watch with the version as of now, before `subscribe` returns: a commit made
    /// after that is a change even when it lands before the watching task first runs (under
    /// load it can run late; with the baseline read there, such a commit was missed and the
    /// subscriber waited for the next one).
    private func startIfNeeded() {
        pollTask.withLock { task in
            guard task == nil else { return }
            let baseline = currentVersion()
            task = Task.detached { [weak self] in await self?.watch(from: baseline) }
        }
    }

    /// Pauses between the looks after a write event: short at first (the commit is usually
    /// visible within tens of microseconds of its WAL write), then 1 ms, ≈ 10 ms in all. Each look
    /// is one `PRAGMA data_version`, a few microseconds.
    static let pausesBetweenLooks: [Duration] =
        [50, 100, 200, 400, 800].map { Duration.microseconds($0) }
        + Array(repeating: .milliseconds(1), count: 8)

    private func currentVersion() -> Int? {
        try? connection.inDatabase { db in
            try Int.fetchOne(db.cachedStatement(sql: "PRAGMA data_version"))
        }
    }

    /// Looks at `data_version` after every write event and safety tick (both arrive on one
    /// stream, so nothing races a cancelled wait).
    private func watch(from baseline: Int?) async {
        var last = baseline
        let ticker = Task { [writeSignal, safetyInterval, monitor] in
            let interval = monitor == nil ? Duration.milliseconds(2) : safetyInterval
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                writeSignal.yield()
            }
        }
        defer { ticker.cancel() }
        let pauses = monitor == nil ? [] : Self.pausesBetweenLooks
        for await _ in writes {
            // A few quick looks: the commit becomes visible right after its WAL write.
            for attempt in 0...pauses.count {
                let version = currentVersion()
                if version != last {
                    last = version
                    subscribers.broadcast()
                    break
                }
                if attempt < pauses.count { try? await Task.sleep(for: pauses[attempt]) }
            }
        }
    }

    deinit {
        pollTask.withLock { $0?.cancel() }
        writeSignal.finish()
    }
}
