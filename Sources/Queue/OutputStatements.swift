import Foundation
import GRDB

/// Every statement of the `output_chunks` table, by name (as `JobStatements` for `jobs`, whose
/// conventions these follow: values interpolated, states as literals). `SQLiteJobStore`'s
/// `OutputStore` methods put them together; `PostgresOutputStatements` are their twins.
///
/// ## The table
/// One row per chunk a worker appended (`OutputChunk`): `seq` is the order of appends
/// (`AUTOINCREMENT`, so a number is never handed out twice, even after the newest rows were
/// deleted: a reader's cursor stays valid), `attempt` the job's attempt at the time, `stream`
/// the channel, `byte_offset` where the text begins in that attempt's stream (UTF-8 bytes), and
/// `data` the text's UTF-8 bytes. `data` is a `BLOB`, not `TEXT`: GRDB binds and reads text as
/// C strings, which would cut a program's output at its first NUL byte; bytes round-trip exactly.
///
/// Rows belong to their job (`REFERENCES jobs(id) ON DELETE CASCADE`; GRDB turns SQLite's
/// foreign keys on for every connection), so `JobStatements.deleteFinished` takes them along.
/// `output_chunks_once`, unique on (job, attempt, stream, offset), makes an append that is run
/// again store nothing twice.
enum OutputStatements {
    /// Cached. The job's current attempt (`jobs.attempts`), if it is running under `lease`: the
    /// fence of `append`, read in the same transaction.
    static func attempt(holding lease: Lease) -> SQLRequest<Int> {
        SQLRequest(
            literal: """
                SELECT attempts FROM jobs WHERE id = \(lease.jobID) AND lease_token = \(lease.token) AND state = \(state: .running)
                """,
            cached: true
        )
    }

    /// Stores one chunk of job `jobID`'s `attempt` (the caller has checked the lease, in the same
    /// transaction, with `attempt(holding:)`); nothing when that attempt already has a chunk at the
    /// same channel and offset.
    static func append(_ chunk: OutputChunk, of jobID: Int64, attempt: Int) -> SQL {
        """
        INSERT INTO output_chunks (job_id, attempt, stream, byte_offset, data)
        VALUES (\(jobID), \(attempt), \(chunk.channel.rawValue), \(chunk.offset), \(Data(chunk.text.utf8)))
        ON CONFLICT (job_id, attempt, stream, byte_offset) DO NOTHING
        """
    }

    /// Cached. Up to `limit` of the job's chunks after `sequence`, in the order of `seq` (the
    /// `output_chunks_by_job` index: only the rows returned are read).
    static func chunks(of jobID: Int64, after sequence: Int64, limit: Int) -> SQLRequest<Row> {
        SQLRequest(
            literal: """
                SELECT seq, attempt, stream, byte_offset, data FROM output_chunks
                WHERE job_id = \(jobID) AND seq > \(sequence) ORDER BY seq LIMIT \(limit)
                """,
            cached: true
        )
    }

    /// Marks job `jobID` as watched (a client opened its event stream); nothing when it is
    /// already, or when the job is gone.
    static func watch(jobID: Int64) -> SQL {
        "INSERT INTO output_watchers (job_id) SELECT id FROM jobs WHERE id = \(jobID) ON CONFLICT DO NOTHING"
    }

    /// Cached. Whether a client has opened job `jobID`'s event stream.
    static func isWatched(jobID: Int64) -> SQLRequest<Bool> {
        SQLRequest(literal: "SELECT EXISTS (SELECT 1 FROM output_watchers WHERE job_id = \(jobID))", cached: true)
    }

    /// Deletes the chunks of the attempt a `release` gave back, in its transaction: the release
    /// lowered `jobs.attempts`, so the next claim runs under the same attempt number again, and
    /// its output must not meet the abandoned run's.
    static func discardReleased(jobID: Int64) -> SQL {
        """
        DELETE FROM output_chunks
        WHERE job_id = \(jobID) AND attempt > (SELECT attempts FROM jobs WHERE id = \(jobID))
        """
    }
}

extension StoredOutputChunk {
    /// An `output_chunks` row (`seq, attempt, stream, byte_offset, data`); throws on a stream this
    /// build does not know or text that is not UTF-8.
    init(row: Row) throws {
        let sequence: Int64 = row["seq"]
        guard let channel = OutputChannel(rawValue: row["stream"]) else {
            throw DatabaseError(message: "output chunk \(sequence) has an unknown stream")
        }
        let bytes: Data = row["data"]
        guard let text = String(data: bytes, encoding: .utf8) else {
            throw DatabaseError(message: "output chunk \(sequence) is not UTF-8 text")
        }
        self.init(sequence: sequence, attempt: row["attempt"], channel: channel, offset: row["byte_offset"], text: text)
    }
}
