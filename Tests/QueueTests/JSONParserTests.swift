import Foundation
import Queue
import Testing

/// `JSONParser`: strict RFC 8259, linear, depth-limited, last duplicate key wins.
struct JSONParserTests {
    func parse(_ text: String) throws(JSONParser.Failure) -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    /// The failure `text` is refused with (recorded as a test issue when it is accepted).
    func failure(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> JSONParser.Failure? {
        do {
            let value = try JSONParser.parse(bytes)
            Issue.record("accepted as \(value)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    func failure(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> JSONParser.Failure? {
        failure(Array(text.utf8), sourceLocation: sourceLocation)
    }

    @Test func validDocuments() throws {
        #expect(try parse("null") == .null)
        #expect(try parse(" true ") == .bool(true))
        #expect(try parse("false") == .bool(false))
        #expect(try parse(#""hé""#) == .string("hé"))
        #expect(try parse("[]") == .array([]))
        #expect(try parse("{}") == .object([:]))
        #expect(try parse(" \t\r\n[ 1 , -2.5 , \"x\" , null ]\n") == .array([.integer(1), .number(-2.5), .string("x"), .null]))
        let document =
            #"{"code": "print(1)", "files": {"a.py": "x = 1\n"}, "timeout": 3, "cpus": 0.5, "allow_network": false, "nested": [[{"k": [true, null]}]]}"#
        #expect(
            try parse(document)
                == .object([
                    "code": .string("print(1)"), "files": .object(["a.py": .string("x = 1\n")]), "timeout": .integer(3),
                    "cpus": .number(0.5), "allow_network": .bool(false),
                    "nested": .array([.array([.object(["k": .array([.bool(true), .null])])])]),
                ])
        )
    }

    @Test func roundTripsThroughTheEncoder() throws {
        let value = JSONValue.object([
            "s": .string("quote \" backslash \\ tab \t nul \u{0} é 😀"), "i": .integer(-42), "d": .number(0.25),
            "a": .array([.null, .bool(true), .object(["x": .array([])])]),
        ])
        let encoded = try JSONEncoder().encode(value)
        #expect(try JSONParser.parse(encoded) == value)
        #expect(JSONValue.parse(encoded) == value)
    }

    @Test func numbers() throws {
        #expect(try parse("0") == .integer(0))
        #expect(try parse("-0") == .integer(0))
        #expect(try parse("9223372036854775807") == .integer(.max))
        #expect(try parse("-9223372036854775808") == .integer(.min))
        #expect(try parse("9223372036854775808") == .number(9_223_372_036_854_775_808))
        #expect(try parse("1.0") == .number(1))
        #expect(try parse("1e2") == .number(100))
        #expect(try parse("1E+2") == .number(100))
        #expect(try parse("25e-1") == .number(2.5))
        #expect(try parse("1e-400") == .number(0))
        #expect(failure("1e400")?.message == "Number out of range")
        #expect(failure("-1e400")?.message == "Number out of range")
    }

    @Test func strings() throws {
        #expect(try parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{8}\u{C}\n\r\t"))
        #expect(try parse(#""\u00e9\u0000\uD83D\uDE00""#) == .string("é\u{0}😀"))
        #expect(try parse(#""a\u0041b""#) == .string("aAb"))
        #expect(try parse("\"日本語 😀\"") == .string("日本語 😀"))
        // U+10FFFF, the largest scalar, in UTF-8 and as an escaped pair
        #expect(try JSONParser.parse([0x22, 0xF4, 0x8F, 0xBF, 0xBF, 0x22]) == .string("\u{10FFFF}"))
        #expect(try parse(#""\uDBFF\uDFFF""#) == .string("\u{10FFFF}"))
    }

    @Test(arguments: [
        // (text, Python-style reason)
        (#"{"code": "x",}"#, "Illegal trailing comma before end of object"),
        ("[1,]", "Illegal trailing comma before end of array"),
        ("[1 2]", "Expecting ',' delimiter"),
        (#"{"a" 1}"#, "Expecting ':' delimiter"),
        (#"{"a": 1 "b": 2}"#, "Expecting ',' delimiter"),
        ("{a: 1}", "Expecting property name enclosed in double quotes"),
        ("{'a': 1}", "Expecting property name enclosed in double quotes"),
        ("['a']", "Expecting value"),
        ("[1] // comment", "Extra data"),
        ("/* comment */ [1]", "Expecting value"),
        ("[1, /* c */ 2]", "Expecting value"),
        ("NaN", "Expecting value"),
        ("Infinity", "Expecting value"),
        ("-Infinity", "Expecting value"),
        ("[NaN]", "Expecting value"),
        ("01", "Extra data"),
        ("[01]", "Expecting ',' delimiter"),
        ("-01", "Extra data"),
        ("1.", "Extra data"),
        (".5", "Expecting value"),
        ("+1", "Expecting value"),
        ("1e", "Extra data"),
        ("-", "Expecting value"),
        ("0x10", "Extra data"),
        ("tru", "Expecting value"),
        ("nul", "Expecting value"),
        ("True", "Expecting value"),
        ("", "Expecting value"),
        ("   ", "Expecting value"),
        ("{}{}", "Extra data"),
        ("{} x", "Extra data"),
        ("[", "Expecting value"),
        ("[1", "Expecting ',' delimiter"),
        (#"{"a": 1"#, "Expecting ',' delimiter"),
        (#"{"a""#, "Expecting ':' delimiter"),
        (#""abc"#, "Unterminated string starting at"),
        (#""a\"#, "Unterminated string starting at"),
        ("\"a\tb\"", "Invalid control character at"),
        ("\"a\nb\"", "Invalid control character at"),
        ("\"a\u{0}b\"", "Invalid control character at"),
        (#""\x41""#, #"Invalid \escape"#),
        (#""\'""#, #"Invalid \escape"#),
        (#""\u12""#, #"Invalid \uXXXX escape"#),
        (#""\u12G4""#, #"Invalid \uXXXX escape"#),
        (#""\uD800""#, #"Lone surrogate \ud800 in string"#),
        (#""\uD800x""#, #"Lone surrogate \ud800 in string"#),
        (#""\uD800\u0041""#, #"Lone surrogate \ud800 in string"#),
        (#""\uDC00""#, #"Lone surrogate \udc00 in string"#),
        (#""\uDFFF\uD800""#, #"Lone surrogate \udfff in string"#),
        ("\u{FEFF}{}", "Expecting value"),
        ("\u{A0}1", "Expecting value"),
        ("\u{C}1", "Expecting value"),
    ])
    func refused(text: String, reason: String) {
        #expect(failure(text)?.message == reason)
    }

    @Test(
        arguments: [
            [0x22, 0xFF, 0x22],  // never valid in UTF-8
            [0x22, 0x80, 0x22],  // continuation byte alone
            [0x22, 0xC0, 0xAF, 0x22],  // overlong "/"
            [0x22, 0xE0, 0x80, 0xAF, 0x22],  // overlong "/" in three bytes
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // U+D800 encoded in UTF-8
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
            [0x22, 0xE6, 0x97, 0x22],  // truncated three-byte sequence
            [0x22, 0xE6, 0x97],  // truncated at the end of the input
        ] as [[UInt8]]
    )
    func invalidUTF8(bytes: [UInt8]) {
        #expect(failure(bytes)?.message == "Invalid UTF-8 byte at")
    }

    @Test func invalidUTF8OutsideStrings() {
        #expect(failure([0x5B, 0xC3, 0xA9, 0x5D])?.message == "Expecting value")
    }

    @Test func positionsAreInCharacters() throws {
        let refused = try #require(failure(#"{"é": 1,}"#))
        #expect(refused.byteOffset == 8)
        #expect(refused.characterOffset == 7)
        #expect(failure("[1, 2] x")?.characterOffset == 7)
        #expect(failure(#"{"code": "x",}"#)?.characterOffset == 12)
    }

    @Test func duplicateKeysLastWins() throws {
        #expect(try parse(#"{"code":"print(1)","code":"print(2)"}"#) == .object(["code": .string("print(2)")]))
        #expect(try parse(#"{"a": {"x": 1}, "b": 2, "a": [3]}"#) == .object(["a": .array([.integer(3)]), "b": .integer(2)]))
        // a key spelled with an escape is the same key
        #expect(try parse(#"{"code": "1", "\u0063ode": "2"}"#) == .object(["code": .string("2")]))
    }

    func nested(_ depth: Int, open: String = "[", close: String = "]", inner: String = "") -> String {
        String(repeating: open, count: depth) + inner + String(repeating: close, count: depth)
    }

    @Test func depthLimitBoundary() throws {
        #expect(JSONParser.maximumDepth == 64)
        var arrays = JSONValue.integer(1)
        for _ in 0..<64 { arrays = .array([arrays]) }
        #expect(try parse(nested(64, inner: "1")) == arrays)
        let deepArrays = try #require(failure(nested(65, inner: "1")))
        #expect(deepArrays.message == "JSON nesting deeper than 64 levels")
        #expect(deepArrays.byteOffset == 64)

        let objects64 = String(repeating: #"{"a":"#, count: 64) + "1" + String(repeating: "}", count: 64)
        #expect(throws: Never.self) { try parse(objects64) }
        let objects65 = String(repeating: #"{"a":"#, count: 65) + "1" + String(repeating: "}", count: 65)
        #expect(failure(objects65)?.message == "JSON nesting deeper than 64 levels")
        // mixed, and the depth counted is the depth at one point, not the number of containers
        #expect(throws: Never.self) { try parse(nested(32, open: #"{"a":["#, close: "]}")) }
        #expect(failure(nested(33, open: #"{"a":["#, close: "]}", inner: "1"))?.message == "JSON nesting deeper than 64 levels")
        let siblings = "[" + Array(repeating: nested(63), count: 100).joined(separator: ",") + "]"
        #expect(throws: Never.self) { try parse(siblings) }
        #expect(JSONValue.parse(Data(nested(65).utf8)) == nil)
    }

    @Test func hugeDeepDocumentIsRefusedAtTheLimit() throws {
        // 1.6 MB of opening brackets: refused at the 65th, without reading the rest
        let bytes = [UInt8](repeating: UInt8(ascii: "["), count: 1_600_000)
        let refused = try #require(failure(bytes))
        #expect(refused.message == "JSON nesting deeper than 64 levels")
        #expect(refused.byteOffset == 64)
        let objects = Array(String(repeating: #"{"a":"#, count: 320_000).utf8)
        #expect(failure(objects)?.byteOffset == 64 * 5)
    }

    @Test func hugeWideDocumentsParse() throws {
        let count = 800_000
        let wide = "[" + Array(repeating: "1", count: count).joined(separator: ",") + "]"
        #expect(wide.utf8.count > 1_600_000)
        guard case .array(let elements) = try parse(wide) else {
            Issue.record("not an array")
            return
        }
        #expect(elements.count == count)
        #expect(elements.allSatisfy { $0 == .integer(1) })

        let keys = "{" + (0..<100_000).map { #""k\#($0)": "v""# }.joined(separator: ",") + "}"
        guard case .object(let members) = try parse(keys) else {
            Issue.record("not an object")
            return
        }
        #expect(members.count == 100_000)
        #expect(members["k99999"] == .string("v"))

        let string = "\"" + String(repeating: "é\\n", count: 400_000) + "\""
        #expect(try parse(string) == .string(String(repeating: "é\n", count: 400_000)))
    }
}
