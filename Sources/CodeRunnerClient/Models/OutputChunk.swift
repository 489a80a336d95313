/// Which of the program's output streams.
public enum OutputChannel: String, Sendable, Codable, CaseIterable {
    case stdout, stderr
}

/// A piece of a program's output as a job's stream delivers it (a `stdout` or `stderr` event).
///
/// Each attempt's output starts at offset 0; after a retry (``JobStatusUpdate/isRetry``) the
/// earlier attempt's chunks are void. The pieces of one attempt and channel join up: a chunk's
/// ``offset`` is the previous one's ``endOffset``.
public struct OutputChunk: Sendable, Equatable {
    public var channel: OutputChannel
    /// The attempt that wrote it (from 1).
    public var attempt: Int
    /// Where ``text`` starts in the attempt's output on ``channel``, in UTF-8 bytes.
    public var offset: Int
    public var text: String

    /// Where ``text`` ends in the attempt's output on ``channel``, in UTF-8 bytes.
    public var endOffset: Int { offset + text.utf8.count }

    public init(channel: OutputChannel, attempt: Int, offset: Int, text: String) {
        self.channel = channel
        self.attempt = attempt
        self.offset = offset
        self.text = text
    }
}
