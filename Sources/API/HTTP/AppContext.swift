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
}

/// Request-body handling shared by the JSON routes.
enum RequestBody {
    /// The whole body is limited to 8 MiB; more is a 413 before parsing.
    static let limit = 8 * 1024 * 1024

    /// Reads and parses the body as JSON, with the seed's 422 for malformed or empty bodies
    /// (checked before authentication, as the seed does).
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
        guard let value = JSONValue.parse(Data(buffer.readableBytesView)) else {
            throw APIError.validation([ValidationIssue(
                type: "json_invalid", loc: ["body", .index(0)], msg: "JSON decode error", input: .object([:]),
                ctx: ["error": .string("Expecting value")])])
        }
        return value
    }
}

extension Double {
    /// Unix seconds as an ISO 8601 UTC timestamp with milliseconds.
    var iso8601: String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: self))
    }
}
