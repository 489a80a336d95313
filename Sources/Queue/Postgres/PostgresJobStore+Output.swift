import Foundation
import PostgresNIO

// The live output of running jobs on PostgreSQL (`OutputStore`; the statements are
// `PostgresOutputStatements`). Every call is bounded by the store's deadline (`rows`).
extension PostgresJobStore {
    /// One statement (fence and inserts, its own transaction) that carries the listeners' wake-up
    /// when it can, as a lone completion does (`announcing(in:)`). Run again after a lost answer
    /// (`reconnecting`), it finds its chunks stored and stores nothing twice.
    public func appendOutput(_ lease: Lease, chunks: [OutputChunk]) async throws -> Bool {
        let stored = chunks.filter { !$0.text.isEmpty }
        guard !stored.isEmpty else {
            // Nothing to write: a read, so nobody is woken for nothing.
            return try await rows(PostgresOutputStatements.holds(lease), "reading a lease").first?.decode(Bool.self) ?? false
        }
        return try await Self.announcing(in: feed) { channel in
            !(try await rows(PostgresOutputStatements.append(stored, under: lease, notifying: channel), "storing output")).isEmpty
        }
    }

    public func output(of jobID: Int64, after sequence: Int64, limit: Int) async throws -> [StoredOutputChunk] {
        guard limit > 0 else { return [] }
        return try await rows(PostgresOutputStatements.chunks(of: jobID, after: sequence, limit: limit), "reading output")
            .map(StoredOutputChunk.init(postgres:))
    }

    public func watchOutput(of jobID: Int64) async throws {
        _ = try await rows(PostgresOutputStatements.watch(jobID: jobID), "marking a job watched")
    }

    public func isOutputWatched(_ jobID: Int64) async throws -> Bool {
        try await rows(PostgresOutputStatements.isWatched(jobID: jobID), "reading whether a job is watched").first?.decode(Bool.self) ?? false
    }
}
