import Foundation

/// Everything that can go wrong talking to Code Runner. Service answers are mapped by status;
/// `detail` strings are kept as the service wrote them.
public enum CodeRunnerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 401 or 403: no API key, or one the service does not accept.
    case unauthorized(String)
    /// 404: unknown (or another credential's) job, unknown image or prebuilt tag.
    case notFound(String)
    /// 400, 413 or 422: the service refused the request. `issues` holds the field errors of a 422.
    case invalidRequest(status: Int, message: String, issues: [ValidationIssue])
    /// 409: the job already finished, was cancelled, or an idempotency key was reused.
    case conflict(String)
    /// 429: the queue is full; retry after the given number of seconds.
    case rateLimited(retryAfter: Int?, message: String)
    /// 503: no live worker, or a prebuilt image could not be rebuilt.
    case serviceUnavailable(String)
    /// A prebuilt image's setup script failed; the build log.
    case prebuildFailed(log: String)
    /// Any other error status.
    case server(status: Int, message: String)
    /// `wait(id:timeout:)` gave up before the job ended.
    case timedOut(jobID: String)
    /// The service could not be reached or the connection broke.
    case transport(String)
    /// The answer was not what the API describes.
    case decoding(String)
    /// The calling task was cancelled.
    case cancelled

    /// One field error of a 422 answer.
    public struct ValidationIssue: Sendable, Equatable, Codable {
        /// Where: `["body", "timeout"]`.
        public var location: [String]
        public var message: String
        public var type: String?

        enum CodingKeys: String, CodingKey {
            case location = "loc"
            case message = "msg"
            case type
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            message = try container.decode(String.self, forKey: .message)
            type = try container.decodeIfPresent(String.self, forKey: .type)
            let parts = try container.decodeIfPresent([JSONValue].self, forKey: .location) ?? []
            location = parts.map { part in
                switch part {
                case .string(let text): text
                case .number(let number): String(Int(number))
                default: "?"
                }
            }
        }
    }

    public var description: String {
        switch self {
        case .unauthorized(let message): "unauthorized: \(message)"
        case .notFound(let message): "not found: \(message)"
        case .invalidRequest(_, let message, let issues):
            issues.isEmpty
                ? "invalid request: \(message)"
                : "invalid request: "
                    + issues.map { "\($0.location.filter { $0 != "body" }.joined(separator: ".")): \($0.message)" }.joined(separator: "; ")
        case .conflict(let message): "conflict: \(message)"
        case .rateLimited(let retryAfter, let message):
            "rate limited: \(message)" + (retryAfter.map { " (retry after \($0) s)" } ?? "")
        case .serviceUnavailable(let message): "service unavailable: \(message)"
        case .prebuildFailed(let log): "prebuild failed:\n\(log)"
        case .server(let status, let message): "server error \(status): \(message)"
        case .timedOut(let id): "job \(id) did not finish in time"
        case .transport(let message): "cannot reach the service: \(message)"
        case .decoding(let message): "unexpected answer from the service: \(message)"
        case .cancelled: "cancelled"
        }
    }

    /// The error a service answer with `status` and JSON `body` stands for.
    static func from(status: Int, body: [UInt8], retryAfter: String?) -> CodeRunnerError {
        var message = String(decoding: body, as: UTF8.self)
        var issues: [ValidationIssue] = []
        if let detail = try? JSONDecoderFactory.make().decode(DetailBody.self, from: Data(body)) {
            switch detail.detail {
            case .message(let text): message = text
            case .issues(let list):
                issues = list
                message = list.map(\.message).joined(separator: "; ")
            }
        }
        return from(status: status, message: message, issues: issues, retryAfter: retryAfter.flatMap { Int($0) })
    }

    /// The error a status and detail stand for (also used for a failed job's `error`).
    static func from(status: Int, message: String, issues: [ValidationIssue] = [], retryAfter: Int? = nil) -> CodeRunnerError {
        switch status {
        case 401, 403: .unauthorized(message)
        case 404: .notFound(message)
        case 400, 413, 422: .invalidRequest(status: status, message: message, issues: issues)
        case 409: .conflict(message)
        case 429: .rateLimited(retryAfter: retryAfter, message: message)
        case 503: .serviceUnavailable(message)
        default: .server(status: status, message: message)
        }
    }
}

/// `{"detail": "..."}` or `{"detail": [issues]}`.
private struct DetailBody: Decodable {
    enum Detail {
        case message(String)
        case issues([CodeRunnerError.ValidationIssue])
    }

    var detail: Detail

    enum CodingKeys: String, CodingKey { case detail }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let text = try? container.decode(String.self, forKey: .detail) {
            detail = .message(text)
        } else {
            detail = .issues(try container.decode([CodeRunnerError.ValidationIssue].self, forKey: .detail))
        }
    }
}

/// The decoder used for every answer.
enum JSONDecoderFactory {
    static func make() -> JSONDecoder { JSONDecoder() }
}
