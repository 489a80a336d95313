/// A `text/event-stream` parser (the HTML standard's "event stream interpretation"), fed with
/// the body's bytes in whatever pieces they arrive.
///
/// Lines end with `\n`, `\r\n` or `\r` (a `\r\n` split across two pieces counts once). A line
/// is decoded as UTF-8 only once it is complete, so a character split across pieces survives;
/// invalid bytes become U+FFFD. Comment lines (`: keep-alive`) and unknown fields are ignored,
/// and an event that the stream ends in the middle of is never dispatched.
///
/// ```swift
/// var parser = EventStreamParser()
/// for try await buffer in body {
///     for event in try parser.feed(buffer) { handle(event) }
/// }
/// ```
struct EventStreamParser: Sendable {
    /// An event (its pending line and data) grew past ``maxEventBytes``.
    struct Overflow: Error, Equatable, CustomStringConvertible {
        var limit: Int
        var description: String { "an event of the stream is larger than \(limit) bytes" }
    }

    /// The most bytes one event (its data plus the line being read) may hold.
    let maxEventBytes: Int
    /// The `retry:` field's reconnection time in milliseconds, once the stream has sent one.
    private(set) var reconnectionTime: Int?

    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var eventType: [UInt8] = []
    private var lastEventID = ""
    /// The previous piece ended with `\r`: a `\n` first in the next one belongs to it.
    private var pendingLineFeed = false
    /// No line has ended yet: a byte order mark first in the stream is dropped.
    private var atStreamStart = true

    private static let lineFeed = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r")
    private static let colon = UInt8(ascii: ":")
    private static let space = UInt8(ascii: " ")
    private static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// - Parameter maxEventBytes: the most bytes one event may hold (64 MiB by default: the
    ///   biggest `result` the client accepts in a plain answer).
    init(maxEventBytes: Int = 64 << 20) {
        self.maxEventBytes = maxEventBytes
    }

    /// Reads the next piece of the body and returns the events it completed, in order.
    mutating func feed(_ bytes: some Collection<UInt8>) throws(Overflow) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        var index = bytes.startIndex
        while index != bytes.endIndex {
            if pendingLineFeed {
                pendingLineFeed = false
                if bytes[index] == Self.lineFeed {
                    index = bytes.index(after: index)
                    continue
                }
            }
            guard let end = bytes[index...].firstIndex(where: { $0 == Self.lineFeed || $0 == Self.carriageReturn }) else {
                try append(bytes[index...])
                break
            }
            try append(bytes[index..<end])
            pendingLineFeed = bytes[end] == Self.carriageReturn
            if let event = endLine() { events.append(event) }
            index = bytes.index(after: end)
        }
        return events
    }

    private mutating func append(_ bytes: some Collection<UInt8>) throws(Overflow) {
        guard line.count + data.count + bytes.count <= maxEventBytes else { throw Overflow(limit: maxEventBytes) }
        line.append(contentsOf: bytes)
    }

    /// Interprets the line just read; an empty line dispatches the event.
    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if atStreamStart {
            atStreamStart = false
            if line.starts(with: Self.byteOrderMark) { line.removeFirst(Self.byteOrderMark.count) }
        }
        guard !line.isEmpty else { return dispatch() }
        guard line[0] != Self.colon else { return nil }
        let name: ArraySlice<UInt8>
        var value: ArraySlice<UInt8>
        if let colon = line.firstIndex(of: Self.colon) {
            name = line[..<colon]
            value = line[(colon + 1)...]
            if value.first == Self.space { value = value.dropFirst() }
        } else {
            name = line[...]
            value = []
        }
        process(field: name, value: value)
        return nil
    }

    private mutating func process(field name: ArraySlice<UInt8>, value: ArraySlice<UInt8>) {
        switch String(decoding: name, as: UTF8.self) {
        case "event":
            eventType = Array(value)
        case "data":
            data.append(contentsOf: value)
            data.append(Self.lineFeed)
        case "id":
            if !value.contains(0) { lastEventID = String(decoding: value, as: UTF8.self) }
        case "retry":
            if !value.isEmpty, value.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
                reconnectionTime = Int(String(decoding: value, as: UTF8.self))
            }
        default:
            break
        }
    }

    /// The event gathered since the last one, if it has data; either way the next starts empty.
    private mutating func dispatch() -> ServerSentEvent? {
        defer {
            data.removeAll(keepingCapacity: true)
            eventType.removeAll()
        }
        guard !data.isEmpty else { return nil }
        let type = eventType.isEmpty ? "message" : String(decoding: eventType, as: UTF8.self)
        return ServerSentEvent(type: type, data: String(decoding: data.dropLast(), as: UTF8.self), id: lastEventID)
    }
}
