/// How much of one output stream has been sent live (`GET /jobs/{id}/events`): the kept bytes
/// up to `bytes`, which were `textBytes` UTF-8 bytes of text once decoded.
///
/// A plain value, so the slicing is unit-tested without I/O. Text is cut only at the end of a
/// complete UTF-8 sequence, so every chunk decodes the same way the whole output does at the
/// end (`CappedOutput.text`): a chunk's `offset` is a byte offset in the result's text.
struct LiveOutputCursor: Equatable {
    private(set) var bytes = 0
    private(set) var textBytes = 0

    /// The text kept since the last call, and its offset; nil when there is none yet (or the
    /// only new bytes are the start of an unfinished character).
    mutating func take(from kept: [UInt8]) -> (offset: Int, text: String)? {
        let end = Self.completeLength(of: kept)
        guard end > bytes else { return nil }
        let text = String(decoding: kept[bytes..<end], as: UTF8.self)
        let offset = textBytes
        bytes = end
        textBytes += text.utf8.count
        return (offset, text)
    }

    /// The length of `bytes` without a trailing unfinished UTF-8 sequence: a lead byte among
    /// the last three whose sequence is longer than what follows it is held back (its
    /// continuation bytes are still on their way). Invalid bytes are not held back: they
    /// decode as U+FFFD, as they will at the end.
    static func completeLength(of bytes: [UInt8]) -> Int {
        let lowest = max(0, bytes.count - 3)
        var index = bytes.count - 1
        while index >= lowest {
            let byte = bytes[index]
            if byte & 0xC0 != 0x80 {
                let needed = byte >= 0xF0 && byte <= 0xF4 ? 4 : byte >= 0xE0 && byte < 0xF0 ? 3 : byte >= 0xC2 && byte < 0xE0 ? 2 : 1
                return bytes.count - index < needed ? index : bytes.count
            }
            index -= 1
        }
        return bytes.count
    }
}
