import Foundation
import NIOCore
import PostgresNIO

/// Every statement of the `output_chunks` table on PostgreSQL, by name: the twins of
/// `OutputStatements` (whose documentation describes the table), written for concurrent writers.
///
/// What differs, and why:
/// - `append` is one statement (its own transaction, one round trip): the fence reads the job's
///   row `FOR SHARE`, so a cancel, a completion or the reaper committing at the same moment
///   either waits for the append's commit or, having committed first, leaves no row to fence on
///   (PostgreSQL re-checks the `WHERE` on the newest version of a row it waited for). The chunks
///   go in as arrays, one element per chunk, numbered by `WITH ORDINALITY` so their `seq`s
///   follow the caller's order.
/// - Values are bound (`\(value)` becomes `$n`), states are literals, as in
///   `PostgresJobStatements`.
enum PostgresOutputStatements {
    /// Whether the job still runs under `lease` (an append of nothing; read only).
    static func holds(_ lease: Lease) -> PostgresQuery {
        """
        SELECT EXISTS(SELECT 1 FROM jobs WHERE id = \(lease.jobID) AND lease_token = \(lease.token)
            AND state = \(unescaped: PostgresJobStatements.literal(.running)))
        """
    }

    /// Stores `chunks`, in order, under the job's current attempt if it runs under `lease`,
    /// skipping any the attempt already has at the same channel and offset (an append run again
    /// after a lost answer). One row, with how many chunks were stored, when the lease held; no
    /// row (and nothing stored) when it did not.
    /// - Parameter channel: the change feed's channel when the statement carries the wake-up
    ///   (`PostgresJobStatements.notifyColumn`; it is sent only when the lease held).
    static func append(_ chunks: [OutputChunk], under lease: Lease, notifying channel: String? = nil) -> PostgresQuery {
        let streams = chunks.map(\.channel.rawValue)
        let offsets = chunks.map(\.offset)
        let texts = chunks.map { ByteBuffer(bytes: $0.text.utf8) }
        return """
            WITH fence AS MATERIALIZED (
                SELECT id, attempts FROM jobs
                WHERE id = \(lease.jobID) AND lease_token = \(lease.token) AND state = \(unescaped: PostgresJobStatements.literal(.running))
                FOR SHARE),
            stored AS (
                INSERT INTO output_chunks (job_id, attempt, stream, byte_offset, data)
                SELECT fence.id, fence.attempts, chunk.stream, chunk.byte_offset, chunk.data
                FROM fence CROSS JOIN unnest(\(streams)::text[], \(offsets)::bigint[], \(texts)::bytea[])
                    WITH ORDINALITY AS chunk(stream, byte_offset, data, position)
                ORDER BY chunk.position
                ON CONFLICT (job_id, attempt, stream, byte_offset) DO NOTHING
                RETURNING seq)
            SELECT (SELECT count(*) FROM stored)\(unescaped: PostgresJobStatements.notifyColumn(channel)) FROM fence
            """
    }

    /// Deletes the chunks of the attempt a `release` gave back (see `OutputStatements`'), as a
    /// statement of its own after the release's in the same transaction: its snapshot is taken
    /// once the release holds the job's row, so it also sees a chunk whose append committed
    /// while the release waited for that row (a statement's snapshot is taken as it starts).
    static func discardReleased(jobID: Int64) -> PostgresQuery {
        """
        DELETE FROM output_chunks
        WHERE job_id = \(jobID) AND attempt > (SELECT attempts FROM jobs WHERE id = \(jobID))
        """
    }

    /// Marks job `jobID` as watched (see `OutputStatements.watch`).
    static func watch(jobID: Int64) -> PostgresQuery {
        "INSERT INTO output_watchers (job_id) SELECT id FROM jobs WHERE id = \(jobID) ON CONFLICT DO NOTHING"
    }

    /// Whether a client has opened job `jobID`'s event stream.
    static func isWatched(jobID: Int64) -> PostgresQuery {
        "SELECT EXISTS (SELECT 1 FROM output_watchers WHERE job_id = \(jobID))"
    }

    /// Up to `limit` of the job's chunks after `sequence`, in the order of `seq`.
    static func chunks(of jobID: Int64, after sequence: Int64, limit: Int) -> PostgresQuery {
        """
        SELECT seq, attempt, stream, byte_offset, data FROM output_chunks
        WHERE job_id = \(jobID) AND seq > \(sequence) ORDER BY seq LIMIT \(limit)
        """
    }
}

extension StoredOutputChunk {
    /// An `output_chunks` row (`seq, attempt, stream, byte_offset, data`); throws on a stream this
    /// build does not know or text that is not UTF-8.
    init(postgres row: PostgresRow) throws {
        let (sequence, attempt, stream, offset, bytes) = try row.decode((Int64, Int, String, Int, Data).self)
        guard let channel = OutputChannel(rawValue: stream) else {
            throw PostgresUnreadableRow("output chunk \(sequence) has an unknown stream \(stream)")
        }
        guard let text = String(data: bytes, encoding: .utf8) else {
            throw PostgresUnreadableRow("output chunk \(sequence) is not UTF-8 text")
        }
        self.init(sequence: sequence, attempt: attempt, channel: channel, offset: offset, text: text)
    }
}
