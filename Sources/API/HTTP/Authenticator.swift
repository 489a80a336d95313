import HTTPTypes
import Hummingbird
import Queue

/// The seed's authentication (section 3), applied to every route but `/`, `/health` and
/// `/openapi.json`: `X-API-Key` first, then `Authorization: Bearer`, looked up by their SHA-256
/// in the `KeyRegistry` (so non-ASCII values are a 401/403, never a 500, and no comparison
/// touches a key). `X-API-Key` takes the keys file's keys and `CODE_RUNNER_API_KEYS`; a bearer
/// token, the keys file's keys and `AUTH_TOKEN`.
///
/// The answer is the calling key (`APIKey`): its name, its limits and the *owner* fingerprint
/// its jobs belong to, stored as a SHA-256 so no credential is written to the database.
struct Authenticator: Sendable {
    static let notAuthenticated = "Not authenticated. Provide X-API-Key header or Authorization Bearer token."

    let registry: KeyRegistry

    var isEnabled: Bool { registry.isEnabled }

    /// The owner of the request, or the 401/403 the seed answers.
    func owner(of request: Request) throws(APIError) -> String {
        try caller(of: request).owner
    }

    /// The key of the request (`APIKey.anonymous` when auth is off), or the 401/403 the seed answers.
    func caller(of request: Request) throws(APIError) -> APIKey {
        guard isEnabled else { return .anonymous }
        let key = request.headers[.apiKey].flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        if let key, let found = registry.apiKey(key) { return found }
        if let authorization = request.headers[.authorization] {
            let prefix = Array("Bearer ".utf8)
            let value = Array(authorization.utf8)
            if value.starts(with: prefix), let found = registry.bearer(Array(value.dropFirst(prefix.count))) { return found }
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
