/// Separates the entrypoint's trailer from the program's stdout.
///
/// After the program ends, the entrypoint writes `@@code-runner:<nonce>@@ <status> <length>\n`
/// and the metadata to stdout (`runtimes/PROTOCOL.md`). The marker is searched across chunk
/// boundaries (the last `marker.count - 1` bytes are held back until more arrive), so it is found
/// even when the program's output was truncated long before.
struct TrailerScanner {
    /// What the program's exit left behind.
    struct Trailer: Equatable {
        var exitStatus: Int
        /// `nil` when no metadata was set.
        var metadata: [UInt8]?
        /// The metadata file was larger than the cap and was not sent.
        var metadataTooLarge: Bool
        /// The container's OOM-kill count when the program ended; nil when unknown (the
        /// worker then asks the engine).
        var oomKills: Int? = nil
    }

    private let marker: [UInt8]
    private let trailerCap: Int
    private var heldBack: [UInt8] = []
    private var trailerBytes: [UInt8]?

    init(nonce: String, metadataCap: Int) {
        marker = Array("@@code-runner:\(nonce)@@".utf8)
        trailerCap = metadataCap + 64
    }

    /// Feeds stdout bytes; returns the part that is the program's own output.
    mutating func feed(_ bytes: some Collection<UInt8>) -> [UInt8] {
        if trailerBytes != nil {
            appendTrailer(bytes)
            return []
        }
        let combined = heldBack + bytes
        if let range = combined.firstRange(of: marker) {
            heldBack = []
            trailerBytes = []
            appendTrailer(combined[range.upperBound...])
            return Array(combined[..<range.lowerBound])
        }
        let keep = min(marker.count - 1, combined.count)
        heldBack = Array(combined.suffix(keep))
        return Array(combined.dropLast(keep))
    }

    /// Call at the end of the stream: returns held-back output bytes (no marker came after them).
    mutating func finish() -> [UInt8] {
        defer { heldBack = [] }
        return trailerBytes == nil ? heldBack : []
    }

    /// Whether the marker has been seen (on stderr it is all there is: `end`).
    var markerSeen: Bool { trailerBytes != nil }

    /// The parsed trailer, or nil when the entrypoint never wrote one (killed, timed out).
    var trailer: Trailer? {
        guard let bytes = trailerBytes, let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let fields = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
        guard (2...3).contains(fields.count), let status = Int(fields[0]), let length = Int(fields[1]) else { return nil }
        let oomKills = fields.count == 3 ? Int(fields[2]).flatMap { $0 >= 0 ? $0 : nil } : nil
        let body = bytes[(newline + 1)...]
        switch length {
        case -2: return Trailer(exitStatus: status, metadata: nil, metadataTooLarge: true, oomKills: oomKills)
        case 0...:
            guard body.count >= length else { return Trailer(exitStatus: status, metadata: nil, metadataTooLarge: false, oomKills: oomKills) }
            return Trailer(exitStatus: status, metadata: Array(body.prefix(length)), metadataTooLarge: false, oomKills: oomKills)
        default: return Trailer(exitStatus: status, metadata: nil, metadataTooLarge: false, oomKills: oomKills)
        }
    }

    /// True once the whole trailer (header line and metadata) has arrived: the program has
    /// ended and nothing more is needed from the stream.
    var isComplete: Bool {
        guard let bytes = trailerBytes, let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return false }
        let fields = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
        guard fields.count >= 2, let length = Int(fields[1]) else { return false }
        return length <= 0 || bytes.count - (newline + 1) >= length
    }

    private mutating func appendTrailer(_ bytes: some Collection<UInt8>) {
        let room = trailerCap - (trailerBytes?.count ?? 0)
        if room > 0 { trailerBytes?.append(contentsOf: bytes.prefix(room)) }
    }
}
