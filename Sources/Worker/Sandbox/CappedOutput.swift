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
}
