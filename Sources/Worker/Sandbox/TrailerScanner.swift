import Queue

/// Separates the entrypoint's trailer from the program's stdout.
///
/// After the program ends, the entrypoint writes `@@code-runner:<nonce>@@ <status> <length>
/// <oom_kills>\n` and the metadata to stdout, or, when the run asked for output files,
/// `... <oom_kills> <files_length> <files> <cut>\n`, the metadata, then the files section
/// (`runtimes/PROTOCOL.md`). The marker is searched across chunk
/// boundaries (a suffix that could begin the marker is held back until more arrive), so it is found
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
        /// The output files, in path order (nil: the run asked for none).
        var files: [RawFile]? = nil
        /// Whether the supervisor left a matching file out (the caps).
        var filesCut = false
    }

    /// One output file as the supervisor sent it: the path's bytes (not yet known to be UTF-8)
    /// and the content.
    struct RawFile: Equatable {
        var path: [UInt8]
        var content: [UInt8]
    }

    private let marker: [UInt8]
    private let trailerCap: Int
    private var heldBack: [UInt8] = []
    private var trailerBytes: [UInt8]?

    /// - Parameter filesCap: the most bytes the files section may take (0: no files asked for).
    init(nonce: String, metadataCap: Int, filesCap: Int = 0) {
        marker = Array("@@code-runner:\(nonce)@@".utf8)
        trailerCap = metadataCap + 128 + filesCap
    }

    /// The bytes the files section of a run asking for `request` can take: the content cap,
    /// plus each file's line and path.
    static func filesCap(for request: OutputFilesRequest?) -> Int {
        guard let request else { return 0 }
        return request.maxBytes + request.maxFiles * (4096 + 48)
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
        let keep = heldBackLength(of: combined)
        heldBack = Array(combined.suffix(keep))
        return Array(combined.dropLast(keep))
    }

    /// How many of `bytes`' last bytes could begin the marker: the longest suffix that is a
    /// proper prefix of it. Only those wait for more input, so output reaches a live stream as
    /// soon as it is written (`"hello\n"` is never a marker's start).
    private func heldBackLength(of bytes: [UInt8]) -> Int {
        var length = min(marker.count - 1, bytes.count)
        while length > 0 {
            if bytes.suffix(length).elementsEqual(marker.prefix(length)) { return length }
            length -= 1
        }
        return 0
    }

    /// Call at the end of the stream: returns held-back output bytes (no marker came after them).
    mutating func finish() -> [UInt8] {
        defer { heldBack = [] }
        return trailerBytes == nil ? heldBack : []
    }

    /// Whether the marker has been seen (on stderr it is all there is: `end`).
    var markerSeen: Bool { trailerBytes != nil }

    /// The trailer's first line, split: status, metadata length, and the optional fields.
    private struct Line {
        var status: Int
        var metadataLength: Int
        var oomKills: Int?
        /// The files section's length, count and cut flag; nil without output files.
        var files: (length: Int, count: Int, cut: Bool)?
        /// Where the body (metadata, then files) starts in the trailer's bytes.
        var bodyStart: Int

        init?(_ bytes: [UInt8]) {
            guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            let fields = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
            guard [2, 3, 6].contains(fields.count), let status = Int(fields[0]), let length = Int(fields[1]) else { return nil }
            self.status = status
            metadataLength = length
            oomKills = fields.count >= 3 ? Int(fields[2]).flatMap { $0 >= 0 ? $0 : nil } : nil
            if fields.count == 6 {
                guard let length = Int(fields[3]), length >= 0, let count = Int(fields[4]), count >= 0 else { return nil }
                files = (length, count, fields[5] != "0")
            }
            bodyStart = newline + 1
        }

        /// The body's length: the metadata (none for -1 and -2) and the files section.
        var bodyLength: Int { max(0, metadataLength) + (files?.length ?? 0) }
    }

    /// The parsed trailer, or nil when the entrypoint never wrote one (killed, timed out).
    var trailer: Trailer? {
        guard let bytes = trailerBytes, let line = Line(bytes) else { return nil }
        let body = bytes[line.bodyStart...]
        var trailer = Trailer(exitStatus: line.status, metadata: nil, metadataTooLarge: line.metadataLength == -2, oomKills: line.oomKills)
        if line.metadataLength >= 0, body.count >= line.metadataLength {
            trailer.metadata = Array(body.prefix(line.metadataLength))
        }
        if let files = line.files {
            let section = body.dropFirst(max(0, line.metadataLength)).prefix(files.length)
            let parsed = Self.files(in: section)
            trailer.files = parsed
            // a section that did not arrive whole (or does not parse) lost files too
            trailer.filesCut = files.cut || section.count < files.length || parsed.count != files.count
        }
        return trailer
    }

    /// The files of a section: per file `<path_length> <size>\n`, the path, the content. Stops
    /// at the first malformed or incomplete entry.
    static func files(in section: ArraySlice<UInt8>) -> [RawFile] {
        var files: [RawFile] = []
        var rest = section
        while !rest.isEmpty {
            guard let newline = rest.firstIndex(of: UInt8(ascii: "\n")) else { break }
            let fields = String(decoding: rest[..<newline], as: UTF8.self).split(separator: " ")
            guard fields.count == 2, let pathLength = Int(fields[0]), let size = Int(fields[1]), pathLength > 0, size >= 0 else { break }
            let start = newline + 1
            guard rest.endIndex - start >= pathLength + size else { break }
            let pathEnd = start + pathLength
            files.append(RawFile(path: Array(rest[start..<pathEnd]), content: Array(rest[pathEnd..<(pathEnd + size)])))
            rest = rest[(pathEnd + size)...]
        }
        return files
    }

    /// True once the whole trailer (its line, the metadata and the files) has arrived: the
    /// program has ended and nothing more is needed from the stream.
    var isComplete: Bool {
        guard let bytes = trailerBytes, let line = Line(bytes) else { return false }
        return bytes.count - line.bodyStart >= line.bodyLength
    }

    private mutating func appendTrailer(_ bytes: some Collection<UInt8>) {
        let room = trailerCap - (trailerBytes?.count ?? 0)
        if room > 0 { trailerBytes?.append(contentsOf: bytes.prefix(room)) }
    }
}
