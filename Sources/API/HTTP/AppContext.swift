import Foundation
import Hummingbird
import Queue

/// What every route needs.
struct AppDependencies: Sendable {
    var store: any JobStore
    var settings: ServiceSettings
    var catalog: RuntimeCatalog
    var waiters: CompletionWaiters
    var authenticator: Authenticator

    /// Workers count as alive while their last heartbeat is younger than one lease.
    func liveWorkers() async throws -> [WorkerStatus] {
        try await store.liveWorkers(within: settings.leaseSeconds)
    }

    /// Authenticates the request, *then* reads and parses its JSON body: the one way a route
    /// reads a body, so that no route can get the order wrong. An anonymous or wrongly
    /// authenticated client gets its 401/403 without the body being read, so it cannot make
    /// the API spend CPU or memory on it (security review, issue 22).
    func authenticatedBody(of request: Request) async throws -> (owner: String, body: JSONValue) {
        let (key, body) = try await authenticatedRequest(of: request)
        return (key.owner, body)
    }

    /// `authenticatedBody(of:)` with the calling key itself (its name and limits).
    func authenticatedRequest(of request: Request) async throws -> (key: APIKey, body: JSONValue) {
        let key = try authenticator.caller(of: request)
        return (key, try await RequestBody.json(from: request))
    }
}

/// Request-body handling shared by the JSON routes.
enum RequestBody {
    /// The whole body is limited to 8 MiB; more is a 413 before parsing.
    static let limit = 8 * 1024 * 1024

    /// Reads and parses the body as JSON: 413 above `limit`, the seed's 422 `missing` for an
    /// empty body and 422 `json_invalid` for text `JSONParser` refuses (strict RFC 8259, at most
    /// `JSONParser.maximumDepth` levels of nesting, the last of duplicate keys wins), with the
    /// position in `loc` and the reason in `ctx.error` as Python's `json` words it.
    ///
    /// Call it only after authentication (`AppDependencies.authenticatedBody(of:)` does both):
    /// unlike the seed, which parsed before authenticating (a malformed body without
    /// credentials was a 422 there), an unauthenticated request is a 401/403 whatever its body.
    static func json(from request: Request) async throws -> JSONValue {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(.contentTooLarge, "Request body exceeds the limit.")
        }
        guard buffer.readableBytes > 0 else {
            throw APIError.validation([ValidationIssue(type: "missing", loc: ["body"], msg: "Field required", input: .null)])
        }
        do {
            return try JSONParser.parse(buffer.readableBytesView)
        } catch {
            throw APIError.validation([
                ValidationIssue(
                    type: "json_invalid",
                    loc: ["body", .index(error.characterOffset)],
                    msg: "JSON decode error",
                    input: .object([:]),
                    ctx: ["error": .string(error.message)]
                )
            ])
        }
    }
}
