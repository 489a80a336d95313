import Queue

/// A run's live output stored as the job's output chunks (`GET /jobs/{id}/events` reads them),
/// fenced on the run's lease: once the lease is gone the store refuses, and streaming stops.
/// Watched: a client opened the job's event stream (`OutputStore.watchOutput`).
struct StoredLiveOutput: LiveOutputSink {
    let store: any OutputStore
    let lease: Lease

    func send(_ chunks: [OutputChunk]) async throws -> Bool {
        try await store.appendOutput(lease, chunks: chunks)
    }

    func isWatched() async throws -> Bool {
        try await store.isOutputWatched(lease.jobID)
    }
}
