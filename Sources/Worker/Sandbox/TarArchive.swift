/// Writes an uncompressed POSIX tar (ustar, with a pax extended header for names longer than
/// ustar's 100 bytes) of regular files — the work directory a run starts with. Mode 0644,
/// owner 1000, mtime 0; GNU tar creates the parent directories on extraction.
struct TarArchive {
    private(set) var bytes: [UInt8] = []

    mutating func addFile(path: String, contents: [UInt8]) {
        let name = Array(path.utf8)
        if name.count > 100 {
            let record = Self.paxRecord(key: "path", value: name)
            appendHeader(name: Array("PaxHeader/\(name.suffix(80).count)".utf8), size: record.count, type: UInt8(ascii: "x"))
            appendPadded(record)
            appendHeader(name: Array(name.suffix(100)), size: contents.count, type: UInt8(ascii: "0"))
        } else {
            appendHeader(name: name, size: contents.count, type: UInt8(ascii: "0"))
        }
        appendPadded(contents)
    }

    /// The archive with its two closing zero blocks.
    func finished() -> [UInt8] {
        bytes + [UInt8](repeating: 0, count: 1024)
    }

    private mutating func appendPadded(_ data: [UInt8]) {
        bytes.append(contentsOf: data)
        let remainder = data.count % 512
        if remainder != 0 { bytes.append(contentsOf: [UInt8](repeating: 0, count: 512 - remainder)) }
    }

    private mutating func appendHeader(name: [UInt8], size: Int, type: UInt8) {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ value: [UInt8], at offset: Int, width: Int) {
            for (index, byte) in value.prefix(width).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(name, at: 0, width: 100)
        put(octal(0o644, width: 8), at: 100, width: 8)
        put(octal(1000, width: 8), at: 108, width: 8)
        put(octal(1000, width: 8), at: 116, width: 8)
        put(octal(size, width: 12), at: 124, width: 12)
        put(octal(0, width: 12), at: 136, width: 12)
        put(Array(repeating: UInt8(ascii: " "), count: 8), at: 148, width: 8)
        header[156] = type
        put(Array("ustar\u{0}00".utf8), at: 257, width: 8)
        let checksum = header.reduce(0) { $0 + Int($1) }
        put(octal(checksum, width: 7) + [UInt8(ascii: " ")], at: 148, width: 8)
        bytes.append(contentsOf: header)
    }

    /// A pax record `"<len> path=<value>\n"`, where `<len>` counts the whole record.
    private static func paxRecord(key: String, value: [UInt8]) -> [UInt8] {
        let body = Array(" \(key)=".utf8) + value + [UInt8(ascii: "\n")]
        var length = body.count + 1
        while String(length).utf8.count + body.count != length { length = String(length).utf8.count + body.count }
        return Array(String(length).utf8) + body
    }
}
