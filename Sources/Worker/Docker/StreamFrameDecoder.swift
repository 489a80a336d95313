import NIOCore

/// Which output stream a frame of Docker's multiplexed attach stream belongs to.
enum AttachStream: UInt8, Sendable {
    case stdin = 0
    case stdout = 1
    case stderr = 2
}

/// Splits Docker's multiplexed stream (`Tty: false`) into frames: an 8-byte header
/// `[stream, 0, 0, 0, size as UInt32 big-endian]`, then `size` bytes. Frames straddle chunk
/// boundaries freely, so the decoder keeps what it has not consumed yet.
struct StreamFrameDecoder {
    private var pending = ByteBuffer()

    /// Adds received bytes and returns every frame completed by them, in order.
    mutating func feed(_ chunk: ByteBuffer) throws -> [(AttachStream, ByteBuffer)] {
        var chunk = chunk
        pending.writeBuffer(&chunk)
        var frames: [(AttachStream, ByteBuffer)] = []
        while pending.readableBytes >= 8 {
            let start = pending.readerIndex
            guard let kind = pending.getInteger(at: start, as: UInt8.self),
                let size = pending.getInteger(at: start + 4, as: UInt32.self)
            else { break }
            guard let stream = AttachStream(rawValue: kind) else {
                throw DockerEngineError.malformedResponse("attach frame with stream byte \(kind)")
            }
            guard pending.readableBytes >= 8 + Int(size) else { break }
            pending.moveReaderIndex(forwardBy: 8)
            if let payload = pending.readSlice(length: Int(size)) {
                frames.append((stream, payload))
            }
        }
        pending.discardReadBytes()
        return frames
    }

    /// Bytes of an incomplete frame left at the end of the stream.
    var leftover: Int { pending.readableBytes }
}
