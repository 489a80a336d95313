import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A client of the Code Runner HTTP API.
///
/// ```swift
/// let client = CodeRunnerClient(baseURL: "http://127.0.0.1:8000", apiKey: "k1")
/// let result = try await client.run(RunRequest(runtime: .python, code: "print(6 * 7)"))
/// print(result.stdout)  // 42
/// ```
///
/// Every call throws a ``CodeRunnerError``. The client holds no state besides its
/// configuration and can be shared between tasks.
public struct CodeRunnerClient: Sendable {
    /// The service's address, e.g. `http://127.0.0.1:8000` (without a trailing slash).
    public let baseURL: String
    /// The credential, sent both as `X-API-Key` (checked against the service's
    /// `CODE_RUNNER_API_KEYS`) and as `Authorization: Bearer` (its `AUTH_TOKEN`), so either works.
    public let apiKey: String?
    /// How long an ordinary call may take. Calls that wait for a run or a build allow for
    /// the run's timeout or the build limit on top.
    public var requestTimeout: Duration
    let httpClient: HTTPClient

    /// A client of the service at `baseURL`.
    /// - Parameters:
    ///   - baseURL: the service's address, e.g. `http://127.0.0.1:8000`.
    ///   - apiKey: an API key (or the `AUTH_TOKEN`), or `nil` for a service without authentication.
    ///   - httpClient: the HTTP client to use; the shared one by default (never shut down).
    ///   - requestTimeout: the time limit of calls that do not wait for a job.
    public init(
        baseURL: String,
        apiKey: String? = nil,
        httpClient: HTTPClient = .shared,
        requestTimeout: Duration = .seconds(60)
    ) {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
        self.apiKey = apiKey.flatMap { $0.isEmpty ? nil : $0 }
        self.httpClient = httpClient
        self.requestTimeout = requestTimeout
    }

    /// A status code, headers and the whole body of an answer.
    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]

        var isSuccess: Bool { (200..<300).contains(status) }
    }

    /// Answers larger than this are refused (two 1 MiB outputs, escaped, fit easily).
    static let maxAnswerBytes = 64 << 20

    /// Sends one request and collects its answer; transport problems become errors, HTTP error
    /// statuses do not (see ``expect(_:from:)``).
    func send(
        _ method: HTTPMethod,
        _ path: String,
        query: [(String, String)] = [],
        body: (any Encodable)? = nil,
        headers extra: [(String, String)] = [],
        timeout: Duration? = nil
    ) async throws(CodeRunnerError) -> Answer {
        let request = try httpRequest(method, path, query: query, body: body, headers: extra)
        do {
            let response = try await httpClient.execute(request, timeout: Self.timeAmount(timeout ?? requestTimeout))
            let buffer = try await response.body.collect(upTo: Self.maxAnswerBytes)
            return Answer(status: Int(response.status.code), headers: response.headers, body: Array(buffer.readableBytesView))
        } catch is CancellationError {
            throw .cancelled
        } catch {
            if Task.isCancelled { throw .cancelled }
            throw .transport("\(method.rawValue) \(path): \(error)")
        }
    }

    /// A request to the service with the credential, `Accept` and the JSON of `body`.
    func httpRequest(
        _ method: HTTPMethod,
        _ path: String,
        query: [(String, String)] = [],
        body: (any Encodable)? = nil,
        headers extra: [(String, String)] = [],
        accept: String = "application/json"
    ) throws(CodeRunnerError) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: baseURL + path + Self.queryString(query))
        request.method = method
        request.headers.add(name: "Accept", value: accept)
        if let apiKey {
            request.headers.add(name: "X-API-Key", value: apiKey)
            request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        }
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        if let body {
            let data: Data
            do { data = try JSONEncoder().encode(body) } catch { throw .decoding("cannot encode the request: \(error)") }
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
        }
        return request
    }

    /// Decodes a successful answer as `T`; an error status becomes its ``CodeRunnerError``.
    func expect<T: Decodable>(_ type: T.Type, from answer: Answer) throws(CodeRunnerError) -> T {
        guard answer.isSuccess else { throw Self.error(from: answer) }
        do {
            return try JSONDecoderFactory.make().decode(T.self, from: Data(answer.body))
        } catch {
            throw .decoding("\(T.self): \(error)")
        }
    }

    static func error(from answer: Answer) -> CodeRunnerError {
        CodeRunnerError.from(status: answer.status, body: answer.body, retryAfter: answer.headers.first(name: "Retry-After"))
    }

    /// A path segment with everything but unreserved characters percent-encoded.
    static func segment(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    static func queryString(_ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return "" }
        return "?" + query.map { "\(segment($0.0))=\(segment($0.1))" }.joined(separator: "&")
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
