import Foundation
import Hummingbird
import Queue

/// One entry of a 422 answer, in the seed's (pydantic's) shape.
struct ValidationIssue: Encodable, Sendable, Equatable, Error {
    var type: String
    var loc: [LocationPart]
    var msg: String
    var input: JSONValue?
    var ctx: [String: JSONValue]?

    init(type: String, loc: [LocationPart], msg: String, input: JSONValue? = nil, ctx: [String: JSONValue]? = nil) {
        self.type = type
        self.loc = loc
        self.msg = msg
        self.input = input
        self.ctx = ctx
    }
}

/// A path element of a validation issue's `loc`: a field name or an index/offset.
enum LocationPart: Encodable, Sendable, Equatable, ExpressibleByStringLiteral {
    case key(String)
    case index(Int)

    init(stringLiteral value: String) { self = .key(value) }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .key(let key): try container.encode(key)
        case .index(let index): try container.encode(index)
        }
    }
}

/// A handled error: answered as `{"detail": "<string>"}` (or the 422 list) with its status.
struct APIError: Error, Sendable {
    var status: HTTPResponse.Status
    var detail: Detail
    var headers: HTTPFields = [:]

    enum Detail: Sendable {
        case message(String)
        case issues([ValidationIssue])
    }

    init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.detail = .message(message)
        self.headers = headers
    }

    static func validation(_ issues: [ValidationIssue]) -> APIError {
        var error = APIError(.unprocessableContent, "")
        error.detail = .issues(issues)
        return error
    }

    var response: Response {
        var body: [String: AnyEncodable] = [:]
        switch detail {
        case .message(let message): body["detail"] = AnyEncodable(message)
        case .issues(let issues): body["detail"] = AnyEncodable(issues)
        }
        var response = JSONResponse.make(status: status, body: body)
        for field in headers { response.headers.append(field) }
        return response
    }
}

/// Type erasure so that mixed values can go into one JSON object.
struct AnyEncodable: Encodable, Sendable {
    private let encodeValue: @Sendable (Encoder) throws -> Void

    init<T: Encodable & Sendable>(_ value: T) {
        encodeValue = { try value.encode(to: $0) }
    }

    func encode(to encoder: Encoder) throws { try encodeValue(encoder) }
}

/// Builds `application/json` responses.
enum JSONResponse {
    static func make<T: Encodable>(status: HTTPResponse.Status = .ok, body: T, headers: HTTPFields = [:]) -> Response {
        let data = (try? ResponseJSON.encode(body)) ?? Data(#"{"detail":"response encoding failed"}"#.utf8)
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
