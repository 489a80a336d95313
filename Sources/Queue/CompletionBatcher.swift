import Foundation

/// Group commit for results: completions that arrive while one is being written are written
/// together, in the next single transaction (SQLite: one `BEGIN IMMEDIATE`; PostgreSQL: one
/// `BEGIN`…`COMMIT`), each still fenced on its own lease. A lone completion costs one actor hop
/// more than a direct write; under load, N completions cost one lock acquisition and one commit
/// instead of N — on SQLite the write lock is what several worker processes contend for.
///
/// The writes run in a task of their own, so a caller's cancellation never abandons a batch
/// (GRDB refuses to start work in a cancelled task).
actor CompletionBatcher {
    private struct Pending {
        let lease: Lease
        let result: Data
        let continuation: CheckedContinuation<Bool, any Error>
    }

    /// Writes one batch in one transaction; per item, whether its result was stored.
    typealias Write = @Sendable ([(lease: Lease, result: Data)]) async throws -> [Bool]

    private let write: Write
    private var pending: [Pending] = []
    private var flushing = false

    init(write: @escaping Write) {
        self.write = write
    }

    /// Stores `result` as the job's outcome if `lease` is still current; false otherwise.
    func complete(_ lease: Lease, result: Data) async throws -> Bool {
        try await withCheckedThrowingContinuation { continuation in
            pending.append(Pending(lease: lease, result: result, continuation: continuation))
            guard !flushing else { return }
            flushing = true
            Task { await flush() }
        }
    }

    /// Writes batches until nothing is pending.
    private func flush() async {
        while !pending.isEmpty {
            let batch = pending
            pending = []
            do {
                let stored = try await write(batch.map { ($0.lease, $0.result) })
                for (item, wasStored) in zip(batch, stored) { item.continuation.resume(returning: wasStored) }
            } catch {
                for item in batch { item.continuation.resume(throwing: error) }
            }
        }
        flushing = false
    }
}
