import Foundation

/// How response bodies are written, by the API (every answer) and by a webhook delivery (the
/// job's JSON): compact, `/` unescaped — one encoder, so a delivery is byte for byte what
/// `GET /jobs/{id}` would say.
public enum ResponseJSON {
    public static func encode(_ body: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return try encoder.encode(body)
    }
}
