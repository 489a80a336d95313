import Foundation
import Queue
import ServiceLifecycle

/// Requests waiting for jobs to finish (`POST /run`, `GET /jobs/{id}?wait=`).
///
/// A waiter registers first and then checks the job once, so a completion that lands just
/// before or just after registration is never missed. Afterwards every database change hint
/// triggers one batched query over all waited-for jobs (`CompletionWatcher`).
actor CompletionWaiters {
    private let store: any JobStore
    private var waiters: [Int64: [UUID: CheckedContinuation<Job?, Never>]] = [:]

    init(store: any JobStore) {
        self.store = store
    }

    var watchedIDs: [Int64] { Array(waiters.keys) }

    /// The job once it has finished, or nil when `timeout` passed first.
    func wait(for jobID: Int64, timeout: Duration) async -> Job? {
        let token = UUID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                waiters[jobID, default: [:]][token] = continuation
                Task { await self.check([jobID]) }
                Task {
                    try? await Task.sleep(for: timeout)
                    self.resume(jobID, token: token, with: nil)
                }
            }
        } onCancel: {
            Task { await self.resume(jobID, token: token, with: nil) }
        }
    }

    /// Re-reads the given jobs (all watched ones by default) and wakes the waiters of those
    /// that finished.
    func check(_ ids: [Int64]? = nil) async {
        let targets = ids ?? watchedIDs
        guard !targets.isEmpty, let finished = try? await store.finishedJobs(among: targets) else { return }
        for job in finished {
            for token in waiters[job.id]?.keys.map({ $0 }) ?? [] {
                resume(job.id, token: token, with: job)
            }
        }
    }

    private func resume(_ jobID: Int64, token: UUID, with job: Job?) {
        guard let continuation = waiters[jobID]?.removeValue(forKey: token) else { return }
        if waiters[jobID]?.isEmpty == true { waiters.removeValue(forKey: jobID) }
        continuation.resume(returning: job)
    }
}

/// Wakes waiters on every database change hint, with a 1 s safety poll.
struct CompletionWatcher: Service {
    let store: any JobStore
    let waiters: CompletionWaiters

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in store.changes().cancelOnGracefulShutdown() { await waiters.check() }
            }
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    try await Task.sleep(for: .seconds(1))
                    await waiters.check()
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}

/// The API also reaps expired leases, so that jobs of a vanished worker are requeued even when
/// no other worker is alive to do it.
struct LeaseReaper: Service {
    let store: any JobStore

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            do { try await Task.sleep(for: .seconds(1)) } catch { return }
            _ = try? await store.reapExpiredLeases()
        }
    }
}
