import Foundation

extension JobEvent {
    /// The job event a server-sent event stands for, or `nil` when this client does not know its
    /// type or status value (a newer service may send more; such events are skipped).
    /// - Throws: ``CodeRunnerError/decoding(_:)`` when a known event's data is not its JSON.
    static func decoded(from event: ServerSentEvent) throws(CodeRunnerError) -> JobEvent? {
        let kind: Kind
        switch event.type {
        case "status":
            let stage = try decode(StatusName.self, event)
            guard JobStatusUpdate.Status(rawValue: stage.status) != nil else { return nil }
            kind = .status(try decode(JobStatusUpdate.self, event))
        case OutputChannel.stdout.rawValue, OutputChannel.stderr.rawValue:
            guard let channel = OutputChannel(rawValue: event.type) else { return nil }
            let payload = try decode(OutputPayload.self, event)
            kind = .output(OutputChunk(channel: channel, attempt: payload.attempt, offset: payload.offset, text: payload.text))
        case "result":
            kind = .result(try decode(Job.self, event))
        default:
            return nil
        }
        return JobEvent(id: event.id, kind: kind)
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ event: ServerSentEvent) throws(CodeRunnerError) -> T {
        do {
            return try JSONDecoderFactory.make().decode(T.self, from: Data(event.data.utf8))
        } catch {
            throw .decoding("the \(event.type) event \(event.id.isEmpty ? "" : "'\(event.id)' ")is not \(T.self): \(error)")
        }
    }
}

/// Just the `status` of a status event, to skip values this client does not know.
private struct StatusName: Decodable {
    var status: String
}

/// The data of a `stdout` or `stderr` event.
private struct OutputPayload: Decodable {
    var attempt: Int
    var offset: Int
    var text: String
}
