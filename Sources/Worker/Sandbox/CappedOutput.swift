/// One output stream of a run, kept up to a byte cap: the rest is counted and dropped.
struct CappedOutput {
    let cap: Int
    private(set) var kept: [UInt8] = []
    /// Every byte the program wrote to this stream, kept or not.
    private(set) var total = 0

    init(cap: Int) {
        self.cap = cap
    }

    var truncated: Bool { total > kept.count }

    mutating func append(_ bytes: some Collection<UInt8>) {
        total += bytes.count
        let room = cap - kept.count
        if room > 0 { kept.append(contentsOf: bytes.prefix(room)) }
    }

    /// The kept bytes as text; invalid UTF-8 becomes U+FFFD.
    var text: String { String(decoding: kept, as: UTF8.self) }

    /// The kept text followed by `note`, in at most `cap` UTF-8 bytes, the hard cap a client
    /// sees: the program's text is cut, at a character boundary, to make room for the note
    /// (and for U+FFFD, which takes 3 bytes where an invalid byte took 1). `truncated` is true
    /// when anything the program wrote is missing.
    func text(endingWith note: String) -> (text: String, truncated: Bool) {
        let decoded = text
        let budget = cap - note.utf8.count
        if decoded.utf8.count <= budget { return (decoded + note, truncated) }
        guard budget > 0 else { return (Self.prefix(of: note, bytes: cap), total > 0) }
        return (Self.prefix(of: decoded, bytes: budget) + note, true)
    }

    /// The longest prefix of `text` of at most `bytes` UTF-8 bytes that ends on a character.
    static func prefix(of text: String, bytes: Int) -> String {
        var used = 0
        var end = text.startIndex
        for character in text {
            used += character.utf8.count
            guard used <= bytes else { break }
            end = text.index(after: end)
        }
        return String(text[..<end])
    }
}
