import HTTPTypes
import Hummingbird
import Queue

/// The seed's authentication (section 3), applied to every route but `/`, `/health` and
/// `/openapi.json`: `X-API-Key` first, then `Authorization: Bearer <AUTH_TOKEN>`, with
/// constant-time comparisons over bytes (so non-ASCII values are a 401/403, never a 500).
///
/// The answer is the caller's *owner* fingerprint: jobs belong to the credential that created
/// them, stored as a SHA-256 so no credential is written to the database.
struct Authenticator: Sendable {
    static let notAuthenticated = "Not authenticated. Provide X-API-Key header or Authorization Bearer token."

    private let apiKeys: [[UInt8]]
    private let bearerToken: [UInt8]?

    init(apiKeys: [String], authToken: String?) {
        self.apiKeys = apiKeys.map { Array($0.utf8) }
        self.bearerToken = authToken.map { Array($0.utf8) }
    }

    var isEnabled: Bool { !apiKeys.isEmpty || bearerToken != nil }

    /// The owner of the request, or the 401/403 the seed answers.
    func owner(of request: Request) throws(APIError) -> String {
        guard isEnabled else { return "" }
        let key = request.headers[.apiKey].flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        if let key, apiKeys.contains(where: { Self.constantTimeEquals($0, key) }) {
            return "key:" + SHA256.hexDigest(key)
        }
        if let token = bearerToken, let authorization = request.headers[.authorization] {
            let prefix = Array("Bearer ".utf8)
            let value = Array(authorization.utf8)
            if value.starts(with: prefix), Self.constantTimeEquals(Array(value.dropFirst(prefix.count)), token) {
                return "token:" + SHA256.hexDigest(token)
            }
        }
        if key != nil { throw APIError(.forbidden, "Invalid API Key") }
        throw APIError(.unauthorized, Self.notAuthenticated, headers: [.wwwAuthenticate: "Bearer"])
    }

    /// Compares without an early exit on the first differing byte.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}

extension HTTPField.Name {
    static let apiKey = HTTPField.Name("X-API-Key")!
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
}
