import Foundation
import Synchronization

/// Hands one "the database changed" hint to every subscriber: the fan-out behind
/// `QueueDatabase.changes()` for both stores (SQLite's `DatabaseChangeWatcher`, PostgreSQL's
/// `PostgresChangeFeed`). Each subscriber's stream keeps at most one pending hint, so a slow
/// subscriber sees one hint for many changes, never a backlog.
public final class ChangeBroadcaster: Sendable {
    private let subscribers = Mutex<[UUID: AsyncStream<Void>.Continuation]>([:])

    public init() {}

    /// A new subscriber's stream; it ends its subscription when the stream is dropped.
    public func subscribe() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        subscribers.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            self?.subscribers.withLock { _ = $0.removeValue(forKey: id) }
        }
        return stream
    }

    /// Gives every subscriber a hint.
    public func broadcast() {
        let targets = subscribers.withLock { Array($0.values) }
        for continuation in targets { continuation.yield() }
    }
}
