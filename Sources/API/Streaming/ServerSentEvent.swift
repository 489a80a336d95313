import Foundation
import Logging
import NIOCore

/// One event of `text/event-stream`: a name, an id, and one line of compact JSON as its data
/// (JSON escapes line breaks, so a single `data:` line always carries it whole).
struct ServerSentEvent: Equatable, Sendable {
    var name: String
    var id: EventCursor
    var data: Data

    /// The event's wire text, ended by its blank line.
    var encoded: ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("event: \(name)\nid: \(id)\ndata: ")
        buffer.writeBytes(data)
        buffer.writeString("\n\n")
        return buffer
    }

    /// A comment line that keeps proxies from closing a quiet stream.
    static let keepAlive = ByteBuffer(string: ": keep-alive\n\n")
}

/// The JSON bodies of the events (`status`, `stdout`/`stderr`).
enum StreamEventBody {
    struct Status: Encodable {
        var jobID: String
        var status: String
        var attempt: Int?
        var retry: Bool?
        var state: String?

        enum CodingKeys: String, CodingKey {
            case jobID = "job_id"
            case status, attempt, retry, state
        }
    }

    struct Output: Encodable {
        var attempt: Int
        var offset: Int
        var text: String
    }

    /// Keys sorted, so every event of a kind reads the same way.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func json(_ body: some Encodable) -> Data {
        do {
            return try encoder.encode(body)
        } catch {
            // plain structs of strings and numbers: cannot fail; an empty object keeps the stream valid
            Logger(label: "code-runner.api").error("an event body could not be encoded", metadata: ["error": "\(error)"])
            return Data("{}".utf8)
        }
    }
}
