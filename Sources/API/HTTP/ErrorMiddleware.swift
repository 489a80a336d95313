import Hummingbird
import Logging
import Queue

/// Turns every error into the contract's JSON shape: handled errors keep their status and
/// `detail`; an unknown path is 404 `Not Found`, a known path with the wrong method 405
/// `Method Not Allowed`; anything unexpected is a 500 with a JSON `detail`, never a stack trace.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The route templates this service serves (`{x}` matches one path segment).
    let knownPaths: [String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response
        } catch let error as HTTPError {
            switch error.status {
            case .notFound where isKnown(request.uri.path):
                return APIError(.methodNotAllowed, "Method Not Allowed").response
            case .notFound:
                return APIError(.notFound, "Not Found").response
            case .contentTooLarge:
                return APIError(.contentTooLarge, "Request body exceeds the limit.").response
            default:
                return APIError(error.status, error.body ?? error.status.reasonPhrase).response
            }
        } catch where StorageFailure.reason(for: error) != nil {
            let reason = StorageFailure.reason(for: error) ?? "unavailable"
            context.logger.error("job database unavailable", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return APIError(.serviceUnavailable, "The job database is unavailable: \(reason). Retry later.", headers: [.retryAfter: "5"]).response
        } catch {
            // The client gets a reference to the log line, never the Swift error value itself.
            let reference = String(UInt32.random(in: .min ... .max), radix: 16)
            context.logger.error("unexpected error", metadata: ["error": "\(error)", "path": "\(request.uri.path)", "reference": "\(reference)"])
            return APIError(.internalServerError, "An unexpected error occurred (reference \(reference) in the API's log).").response
        }
    }

    private func isKnown(_ path: String) -> Bool {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        return knownPaths.contains { template in
            let parts = template.split(separator: "/", omittingEmptySubsequences: true)
            guard parts.count == segments.count else { return false }
            return zip(parts, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }
    }
}
