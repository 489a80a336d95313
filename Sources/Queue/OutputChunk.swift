import Foundation

/// Which of a run's output streams a chunk of text belongs to.
public enum OutputChannel: String, Sendable, Codable {
    case stdout
    case stderr
}

/// A piece of a running job's output, as its worker appends it while the program runs
/// (`OutputStore.appendOutput`); `GET /jobs/{id}/events` streams the stored chunks.
public struct OutputChunk: Sendable, Equatable {
    public var channel: OutputChannel
    /// Where `text` begins within the attempt's stream of this channel, in UTF-8 bytes: the
    /// chunk covers bytes `offset ..< offset + text.utf8.count`. The worker cuts chunks at
    /// character boundaries, so each is whole text.
    public var offset: Int
    public var text: String

    public init(channel: OutputChannel, offset: Int, text: String) {
        self.channel = channel
        self.offset = offset
        self.text = text
    }
}

/// An output chunk as the store keeps it: in the order it was appended (`sequence`, increasing
/// across every job of the database), with the attempt of the job whose run wrote it.
public struct StoredOutputChunk: Sendable, Equatable {
    /// The chunk's position in the store (`output_chunks.seq`): a reader passes the last one it
    /// has to `OutputStore.output(of:after:limit:)` to get only what came after.
    public var sequence: Int64
    /// The job's attempt (`jobs.attempts` when the chunk was appended). Chunks of an earlier
    /// attempt than the job's current one are void: that run was lost or retried, and the new
    /// attempt's output starts again at offset 0.
    public var attempt: Int
    public var channel: OutputChannel
    /// As `OutputChunk.offset`: UTF-8 bytes into this attempt's stream of `channel`.
    public var offset: Int
    public var text: String

    public init(sequence: Int64, attempt: Int, channel: OutputChannel, offset: Int, text: String) {
        self.sequence = sequence
        self.attempt = attempt
        self.channel = channel
        self.offset = offset
        self.text = text
    }
}
