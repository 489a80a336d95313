import Synchronization

/// Bounds how long a caller waits for a database call.
///
/// postgres-nio's pool queues requests while it cannot connect (for up to a minute before its
/// circuit breaker opens), and a query on a connection whose peer vanished waits until TCP gives
/// up, which can be hours. The caller should rather hear "unavailable" in seconds: the API
/// answers 503 with `Retry-After`, a worker tries again later. So the operation runs in a task of
/// its own, and the caller resumes with `PostgresUnavailable` when `limit` passes first; the
/// operation itself is cancelled and left to finish in the background. Its result, if any, is
/// dropped, or handed to `lateSuccess` — a claim that lands late is given back at once, so its
/// jobs do not wait for their lease to expire. Every other write is fenced or idempotent, so
/// landing late is harmless.
enum Deadline {
    static func run<Value: Sendable>(
        within limit: Duration,
        _ what: @autoclosure () -> String,
        lateSuccess: (@Sendable (Value) async -> Void)? = nil,
        _ operation: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let description = what()
        let race = Race<Value>()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
            race.caller.withLock { $0 = continuation }
            let deadline = Task {
                try? await Task.sleep(for: limit)  // the deadline itself, not a synchronisation
                guard !Task.isCancelled, let caller = race.caller.withLock({ $0.take() }) else { return }
                race.work.withLock { $0?.cancel() }
                caller.resume(throwing: PostgresUnavailable("PostgreSQL did not answer within \(limit) (\(description))"))
            }
            let work = Task {
                let result = await Result(catching: { try await operation() })
                deadline.cancel()
                if let caller = race.caller.withLock({ $0.take() }) {
                    caller.resume(with: result)
                } else if case .success(let value) = result, let lateSuccess {
                    // The caller gave up: undo what nobody will use, in a task of its own (this one
                    // was cancelled by the deadline, and a cancelled task leases no connection).
                    await Task.detached { await lateSuccess(value) }.value
                }
            }
            race.work.withLock { $0 = work }
        }
    }

    /// Who resumes the caller: the operation or the deadline, whichever comes first.
    private final class Race<Value: Sendable>: Sendable {
        let caller = Mutex<CheckedContinuation<Value, any Error>?>(nil)
        let work = Mutex<Task<Void, Never>?>(nil)
    }
}

/// The PostgreSQL server cannot be used right now (unreachable, restarting, too slow); the API
/// answers 503 with `Retry-After`.
public struct PostgresUnavailable: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

extension Result where Failure == any Error {
    /// The outcome of an async throwing operation.
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
