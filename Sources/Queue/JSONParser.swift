/// A strict RFC 8259 JSON parser over UTF-8 bytes, producing `JSONValue`.
///
/// **Why not `JSONDecoder`**: decoding `JSONValue` through `Decodable` has to guess each value's
/// type with a `try?` per scalar type at every level; every failed guess builds a
/// `DecodingError` carrying the whole coding path, so the cost grows super-linearly with depth
/// (a 1 KB body nested 450 deep cost about a second of CPU, 1.6 MB kept a core busy for half an
/// hour). This parser reads every byte once: its cost is linear in the input's size, and it stops
/// at the first error (or at the depth limit) without looking further.
///
/// **Strictness** (each is a `Failure`, which the API answers as a 422 `json_invalid`):
/// trailing commas, comments, `NaN`/`Infinity`, leading zeros (`01`), single quotes,
/// unescaped control characters (U+0000–U+001F) in strings, invalid UTF-8 (overlong forms,
/// UTF-8-encoded surrogates, code points above U+10FFFF), a byte order mark, whitespace other
/// than space, tab, LF and CR, and anything but whitespace after the value. Python's `json`
/// (the seed's parser) accepts `NaN`/`Infinity`; we do not, since they have no JSON encoding to
/// store or send back.
///
/// **Lone surrogates** (`"\ud800"` not followed by a low-surrogate escape, or a low one alone)
/// are refused. Python keeps them in its `str`, Go and Rust replace them with U+FFFD, JavaScript
/// keeps them: the parsers a proxy in front may use do not agree on what such a string *is*, so
/// any replacement would let a proxy and this service act on different file names, environment
/// variables or code. Refusing means every request we act on reads the same everywhere.
///
/// **Duplicate keys**: the last occurrence wins, as in Python's `json` (and so pydantic), JavaScript
/// and Go, so a proxy in front sees the same request as the service.
///
/// **Nesting depth**: at most `maximumDepth` (64) arrays and objects inside one another; the
/// 65th opening bracket is a `Failure` ("JSON nesting deeper than 64 levels") found without
/// reading further. This bounds the recursion, and so the stack, whatever the input.
///
/// **Numbers**: an integer (no fraction, no exponent) that fits `Int64` is `.integer`; any other
/// number is `.number(Double)` (so `1.0` stays `.number`, which the API's pydantic-style
/// `int_from_float` rules rely on). A number whose magnitude overflows `Double` (`1e400`) is a
/// `Failure`, since infinity cannot be encoded again.
public struct JSONParser {
    /// How many arrays and objects may be nested inside one another.
    public static let maximumDepth = 64

    /// Why the text is not accepted, with Python-`json`-style wording where Python has one
    /// (`Expecting value`, `Expecting ',' delimiter`, …), and where.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong, e.g. `Expecting value` or `JSON nesting deeper than 64 levels`.
        public var message: String
        /// The offset, in bytes, of the first byte that could not be accepted.
        public var byteOffset: Int
        /// The same position counted in Unicode scalars (as Python's `JSONDecodeError.pos`
        /// counts characters), for the `loc` of a 422.
        public var characterOffset: Int

        public var description: String { "\(message): char \(characterOffset)" }
    }

    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0

    private init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Parses one JSON text (any value, surrounded only by whitespace).
    public static func parse(_ bytes: some Sequence<UInt8>) throws(Failure) -> JSONValue {
        var parser = JSONParser(Array(bytes))
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        if parser.index < parser.bytes.count { throw parser.failure("Extra data") }
        return value
    }

    // MARK: - values

    private mutating func parseValue() throws(Failure) -> JSONValue {
        guard let byte = peek() else { throw failure("Expecting value") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try parseLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try parseLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try parseLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw failure("Expecting value")
        }
    }

    private mutating func parseLiteral(_ word: StaticString, _ value: JSONValue) throws(Failure) -> JSONValue {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw failure("Expecting value") }
        let matches = word.withUTF8Buffer { expected in
            expected.indices.allSatisfy { bytes[index + $0] == expected[$0] }
        }
        guard matches else { throw failure("Expecting value") }
        index += count
        return value
    }

    private mutating func enterContainer() throws(Failure) {
        depth += 1
        if depth > Self.maximumDepth { throw failure("JSON nesting deeper than \(Self.maximumDepth) levels") }
        index += 1  // the opening bracket
    }

    private mutating func parseArray() throws(Failure) -> JSONValue {
        try enterContainer()
        defer { depth -= 1 }
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","):
                let comma = index
                index += 1
                skipWhitespace()
                if peek() == UInt8(ascii: "]") { throw failure("Illegal trailing comma before end of array", at: comma) }
            case UInt8(ascii: "]"):
                index += 1
                return .array(elements)
            default:
                throw failure("Expecting ',' delimiter")
            }
        }
    }

    private mutating func parseObject() throws(Failure) -> JSONValue {
        try enterContainer()
        defer { depth -= 1 }
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw failure("Expecting property name enclosed in double quotes") }
            let key = try parseString()
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else { throw failure("Expecting ':' delimiter") }
            index += 1
            skipWhitespace()
            // The last occurrence of a key wins (see the type's documentation).
            members[key] = try parseValue()
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","):
                let comma = index
                index += 1
                skipWhitespace()
                if peek() == UInt8(ascii: "}") { throw failure("Illegal trailing comma before end of object", at: comma) }
            case UInt8(ascii: "}"):
                index += 1
                return .object(members)
            default:
                throw failure("Expecting ',' delimiter")
            }
        }
    }

    // MARK: - numbers

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, read the way Python's scanner reads it:
    /// the fraction and the exponent are taken only when complete, so `01` and `1.` stop after
    /// the `0`/`1` and the next byte is then refused by the caller (`Extra data`,
    /// `Expecting ',' delimiter`).
    private mutating func parseNumber() throws(Failure) -> JSONValue {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let first = peek(), isDigit(first) else { throw failure("Expecting value", at: start) }
        index += 1
        if first != UInt8(ascii: "0") {
            while let byte = peek(), isDigit(byte) { index += 1 }
        }
        var isInteger = true
        if peek() == UInt8(ascii: "."), let next = peek(offset: 1), isDigit(next) {
            isInteger = false
            index += 2
            while let byte = peek(), isDigit(byte) { index += 1 }
        }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            var offset = 1
            if let sign = peek(offset: 1), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { offset = 2 }
            if let digit = peek(offset: offset), isDigit(digit) {
                isInteger = false
                index += offset + 1
                while let byte = peek(), isDigit(byte) { index += 1 }
            }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if isInteger, let value = Int64(text) { return .integer(value) }
        guard let value = Double(text), value.isFinite else { throw failure("Number out of range", at: start) }
        return .number(value)
    }

    // MARK: - strings

    /// A string starting at the current `"`; validates UTF-8 and escapes as it copies.
    private mutating func parseString() throws(Failure) -> String {
        let quote = index
        index += 1
        var runStart = index
        var decoded: [UInt8] = []
        var escaped = false
        while true {
            guard let byte = peek() else { throw failure("Unterminated string starting at", at: quote) }
            switch byte {
            case UInt8(ascii: "\""):
                let text: String
                if escaped {
                    decoded.append(contentsOf: bytes[runStart..<index])
                    text = String(decoding: decoded, as: UTF8.self)
                } else {
                    text = String(decoding: bytes[runStart..<index], as: UTF8.self)
                }
                index += 1
                return text
            case UInt8(ascii: "\\"):
                decoded.append(contentsOf: bytes[runStart..<index])
                escaped = true
                try parseEscape(into: &decoded)
                runStart = index
            case 0x00..<0x20:
                throw failure("Invalid control character at")
            case 0x20..<0x80:
                index += 1
            default:
                index += try utf8SequenceLength()
            }
        }
    }

    /// One escape sequence starting at the current `\`, appended to `output` as UTF-8.
    private mutating func parseEscape(into output: inout [UInt8]) throws(Failure) {
        let start = index
        guard let kind = peek(offset: 1) else { throw failure("Unterminated string starting at", at: start) }
        let simple: UInt8? =
            switch kind {
            case UInt8(ascii: "\""): UInt8(ascii: "\"")
            case UInt8(ascii: "\\"): UInt8(ascii: "\\")
            case UInt8(ascii: "/"): UInt8(ascii: "/")
            case UInt8(ascii: "b"): 0x08
            case UInt8(ascii: "f"): 0x0C
            case UInt8(ascii: "n"): 0x0A
            case UInt8(ascii: "r"): 0x0D
            case UInt8(ascii: "t"): 0x09
            default: nil
            }
        if let simple {
            output.append(simple)
            index += 2
            return
        }
        guard kind == UInt8(ascii: "u") else { throw failure("Invalid \\escape", at: start) }
        let unit = try hexUnit(at: start)
        index += 6
        let scalar: Unicode.Scalar?
        switch unit {
        case 0xD800..<0xDC00:
            guard peek() == UInt8(ascii: "\\"), peek(offset: 1) == UInt8(ascii: "u") else {
                throw failure("Lone surrogate \\u\(hex(unit)) in string", at: start)
            }
            let low = try hexUnit(at: index)
            guard (0xDC00..<0xE000).contains(low) else { throw failure("Lone surrogate \\u\(hex(unit)) in string", at: start) }
            index += 6
            scalar = Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
        case 0xDC00..<0xE000:
            throw failure("Lone surrogate \\u\(hex(unit)) in string", at: start)
        default:
            scalar = Unicode.Scalar(unit)
        }
        guard let scalar else { throw failure("Invalid \\uXXXX escape", at: start) }
        UTF8.encode(scalar) { output.append($0) }
    }

    /// The four hex digits of the `\uXXXX` escape starting at `start`.
    private func hexUnit(at start: Int) throws(Failure) -> UInt32 {
        guard start + 6 <= bytes.count else { throw failure("Invalid \\uXXXX escape", at: start) }
        var value: UInt32 = 0
        for offset in 2..<6 {
            let byte = bytes[start + offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("Invalid \\uXXXX escape", at: start)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    private func hex(_ unit: UInt32) -> String {
        let digits = String(unit, radix: 16)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// The length of the well-formed UTF-8 sequence (Unicode 15, table 3-7) of a non-ASCII
    /// character starting at the current byte.
    private func utf8SequenceLength() throws(Failure) -> Int {
        let lead = bytes[index]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            secondRange = 0x80...0x9F  // not a UTF-8-encoded surrogate
        case 0xF0:
            length = 4
            secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            secondRange = 0x80...0x8F  // not above U+10FFFF
        default: throw failure("Invalid UTF-8 byte at")
        }
        guard index + length <= bytes.count else { throw failure("Invalid UTF-8 byte at") }
        guard secondRange.contains(bytes[index + 1]) else { throw failure("Invalid UTF-8 byte at", at: index + 1) }
        for offset in 2..<length where !(0x80...0xBF).contains(bytes[index + offset]) {
            throw failure("Invalid UTF-8 byte at", at: index + offset)
        }
        return length
    }

    // MARK: - bytes

    private func peek(offset: Int = 0) -> UInt8? {
        index + offset < bytes.count ? bytes[index + offset] : nil
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    private func failure(_ message: String, at offset: Int? = nil) -> Failure {
        let byteOffset = min(offset ?? index, bytes.count)
        // Unicode scalars before the offset: every byte that is not a UTF-8 continuation byte.
        let characters = bytes[..<byteOffset].reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
        return Failure(message: message, byteOffset: byteOffset, characterOffset: characters)
    }
}
