import Foundation
import GRDB

// The live output of running jobs on SQLite (`OutputStore`; the statements are `OutputStatements`).
extension SQLiteJobStore {
    /// The fence and the inserts in one `BEGIN IMMEDIATE` transaction, so the job cannot leave
    /// `running` between them. Its commit wakes the listeners of every process, as any write does.
    public func appendOutput(_ lease: Lease, chunks: [OutputChunk]) async throws -> Bool {
        let stored = chunks.filter { !$0.text.isEmpty }
        guard !stored.isEmpty else {
            // Nothing to write: a read, so nobody is woken for nothing.
            return try await databasePool.read { db in try OutputStatements.attempt(holding: lease).fetchOne(db) != nil }
        }
        return try await databasePool.write { db in
            guard let attempt = try OutputStatements.attempt(holding: lease).fetchOne(db) else { return false }
            for chunk in stored {
                try db.executeCached(OutputStatements.append(chunk, of: lease.jobID, attempt: attempt))
            }
            return true
        }
    }

    public func output(of jobID: Int64, after sequence: Int64, limit: Int) async throws -> [StoredOutputChunk] {
        guard limit > 0 else { return [] }
        return try await databasePool.read { db in
            try OutputStatements.chunks(of: jobID, after: sequence, limit: limit).fetchAll(db).map(StoredOutputChunk.init(row:))
        }
    }

    public func watchOutput(of jobID: Int64) async throws {
        try await databasePool.write { db in try db.execute(literal: OutputStatements.watch(jobID: jobID)) }
    }

    public func isOutputWatched(_ jobID: Int64) async throws -> Bool {
        try await databasePool.read { db in try OutputStatements.isWatched(jobID: jobID).fetchOne(db) ?? false }
    }
}
