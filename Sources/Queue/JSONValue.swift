import Foundation

/// Any JSON value, kept as parsed so that it can be stored and sent back unchanged
/// (program metadata may be an object, an array, a string, a number, a boolean or null).
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Decodes a value this service encoded itself (stored payloads and results). Not for
    /// untrusted text: `Decoder` cannot tell a value's type without guessing, and every wrong
    /// guess (a `try?` per scalar type at each level) builds an error carrying the coding path,
    /// so with `JSONDecoder` the cost grows with depth × size. Use `parse(_:)` for input.
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses JSON text with `JSONParser` (strict RFC 8259, linear in the size, at most
    /// `JSONParser.maximumDepth` levels, the last of duplicate keys wins); `nil` when it is not
    /// accepted. Use `JSONParser.parse(_:)` to learn why.
    ///
    /// This is the way to read untrusted JSON (request bodies, program metadata): the
    /// `Decodable` conformance is for values this service encoded itself.
    public static func parse(_ data: Data) -> JSONValue? {
        try? JSONParser.parse(data)
    }
}
