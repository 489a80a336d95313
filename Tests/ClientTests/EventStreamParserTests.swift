import Foundation
import Testing

@testable import CodeRunnerClient

/// The `text/event-stream` parser on its own: bytes in, events out, in pieces of any size.
struct EventStreamParserTests {
    /// The contract's example stream, shortened (`GET /jobs/{id}/events`).
    static let example = """
        event: status
        id: 0:0:0
        data: {"job_id":"j","status":"queued"}

        : keep-alive

        event: stdout
        id: 1:6:0
        data: {"attempt":1,"offset":0,"text":"hello\\n"}


        """

    static let exampleEvents = [
        ServerSentEvent(type: "status", data: #"{"job_id":"j","status":"queued"}"#, id: "0:0:0"),
        ServerSentEvent(type: "stdout", data: #"{"attempt":1,"offset":0,"text":"hello\n"}"#, id: "1:6:0"),
    ]

    /// The events of `pieces`, fed one after the other to one parser.
    func parse(_ pieces: [[UInt8]], maxEventBytes: Int = 1 << 20) throws -> [ServerSentEvent] {
        var parser = EventStreamParser(maxEventBytes: maxEventBytes)
        var events: [ServerSentEvent] = []
        for piece in pieces { events += try parser.feed(piece) }
        return events
    }

    func parse(_ text: String, maxEventBytes: Int = 1 << 20) throws -> [ServerSentEvent] {
        try parse([Array(text.utf8)], maxEventBytes: maxEventBytes)
    }

    /// `text`'s bytes one at a time.
    func bytewise(_ text: String) -> [[UInt8]] {
        text.utf8.map { [$0] }
    }

    @Test("the contract's events: type, id and data; comments and extra blank lines dispatch nothing")
    func contractExample() throws {
        #expect(try parse(Self.example) == Self.exampleEvents)
    }

    @Test("\\r\\n and \\r end lines as \\n does")
    func lineEndings() throws {
        let crlf = Self.example.replacingOccurrences(of: "\n", with: "\r\n")
        let cr = Self.example.replacingOccurrences(of: "\n", with: "\r")
        #expect(try parse(crlf) == Self.exampleEvents)
        #expect(try parse(cr) == Self.exampleEvents)
        #expect(try parse(bytewise(crlf)) == Self.exampleEvents)
    }

    @Test("a \\r\\n split between two pieces ends one line, not two")
    func splitCarriageReturnLineFeed() throws {
        let events = try parse([Array("data: a\r".utf8), Array("\ndata: b\r".utf8), Array("\n\r".utf8), Array("\n".utf8)])
        #expect(events == [ServerSentEvent(data: "a\nb")])
    }

    @Test("the same events whatever the pieces: one byte at a time, or cut anywhere")
    func piecesOfAnySize() throws {
        let bytes = Array(Self.example.utf8)
        #expect(try parse(bytewise(Self.example)) == Self.exampleEvents)
        for cut in 0...bytes.count {
            #expect(try parse([Array(bytes[..<cut]), Array(bytes[cut...])]) == Self.exampleEvents, "cut at \(cut)")
        }
    }

    @Test("a character split across pieces arrives whole, at every split point")
    func splitUTF8() throws {
        let text = "data: é € 😀 ok\n\n"
        let bytes = Array(text.utf8)
        #expect(try parse(bytewise(text)) == [ServerSentEvent(data: "é € 😀 ok")])
        for cut in 0...bytes.count {
            #expect(try parse([Array(bytes[..<cut]), Array(bytes[cut...])]) == [ServerSentEvent(data: "é € 😀 ok")])
        }
    }

    @Test("invalid UTF-8 becomes U+FFFD")
    func invalidUTF8() throws {
        let events = try parse([Array("data: a".utf8) + [0xFF, 0xC3] + Array("\n\n".utf8)])
        #expect(events == [ServerSentEvent(data: "a\u{FFFD}\u{FFFD}")])
    }

    @Test("data lines join with \\n; one leading space is dropped; `data` alone adds an empty line")
    func dataLines() throws {
        #expect(try parse("data: one\ndata:two\ndata:  three\ndata\ndata: \n\n") == [ServerSentEvent(data: "one\ntwo\n three\n\n")])
        #expect(try parse("data\n\n") == [ServerSentEvent(data: "")])
        #expect(try parse("data: a\n data: b\n\n") == [ServerSentEvent(data: "a")], "' data' is another field")
    }

    @Test("an event without data, and comments, dispatch nothing; the type does not carry over")
    func nothingToDispatch() throws {
        #expect(try parse(": keep-alive\n\n:\n\nevent: status\nid: 4\n\n").isEmpty)
        let events = try parse("event: status\n\ndata: x\n\nevent: stdout\ndata: y\n\nevent\ndata: z\n\n")
        #expect(events.map(\.type) == ["message", "stdout", "message"])
    }

    @Test("the id carries over to later events until another id; an empty one clears it, one with NUL is ignored")
    func lastEventID() throws {
        let events = try parse("id: 1:0:0\ndata: a\n\ndata: b\n\nid: 2:3:0\ndata: c\n\nid: x\u{0}y\ndata: d\n\nid\ndata: e\n\n")
        #expect(events.map(\.id) == ["1:0:0", "1:0:0", "2:3:0", "2:3:0", ""])
    }

    @Test("unknown fields are ignored; retry sets the reconnection time when it is all digits")
    func otherFields() throws {
        var parser = EventStreamParser()
        let events = try parser.feed(Array("foo: bar\nretry: 1500\nretry: 2s\nretry:\ndata: x\n\n".utf8))
        #expect(events == [ServerSentEvent(data: "x")])
        #expect(parser.reconnectionTime == 1500)
    }

    @Test("an event the stream ends in is not dispatched")
    func incompleteEvent() throws {
        #expect(try parse("data: whole\n\ndata: cut\n").map(\.data) == ["whole"])
        #expect(try parse("data: no line end").isEmpty)
    }

    @Test("a byte order mark first in the stream is dropped, even split; elsewhere it is kept")
    func byteOrderMark() throws {
        #expect(try parse([[0xEF], [0xBB, 0xBF] + Array("data: x\n\n".utf8)]) == [ServerSentEvent(data: "x")])
        #expect(try parse("data: a\n\n\u{FEFF}data: b\n\n") == [ServerSentEvent(data: "a")], "a BOM later makes an unknown field")
    }

    @Test("an event larger than the limit throws Overflow, whether in one line or many")
    func overflow() throws {
        #expect(throws: EventStreamParser.Overflow(limit: 16)) { try parse("data: 0123456789abcdef\n\n", maxEventBytes: 16) }
        #expect(throws: EventStreamParser.Overflow(limit: 16)) { try parse(bytewise("data: 0123456789abcdef"), maxEventBytes: 16) }
        #expect(throws: EventStreamParser.Overflow(limit: 16)) { try parse("data: 01234\ndata: 56789\ndata: x\n\n", maxEventBytes: 16) }
        #expect(try parse("data: 0123456789\n\n", maxEventBytes: 16) == [ServerSentEvent(data: "0123456789")])
    }
}
