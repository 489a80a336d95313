import Hummingbird
import Logging
import Queue

/// Turns every error into the contract's JSON shape: handled errors keep their status and
/// `detail` (among them `UnmatchedRouteMiddleware`'s 404 `Not Found` and 405 `Method Not
/// Allowed`); a bare `HTTPError` keeps its status; anything unexpected is a 500 with a JSON
/// `detail`, never a stack trace. Added before every route, so it wraps them all.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response
        } catch let error as HTTPError {
            switch error.status {
            case .notFound:
                return APIError(.notFound, "Not Found").response
            case .contentTooLarge:
                return APIError(.contentTooLarge, "Request body exceeds the limit.").response
            default:
                return APIError(error.status, error.body ?? error.status.reasonPhrase).response
            }
        } catch  where StorageFailure.reason(for: error) != nil {
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
}

/// Answers a request that no route matched: 405 `Method Not Allowed` when a route serves its
/// path with another method, else 404 `Not Found` (both as `APIError`s, which
/// `ErrorMiddleware` renders).
///
/// The routes are the router's own table (`Router.routes`), so there is no second list to keep
/// up to date. The table is complete only once every route is registered, so this middleware is
/// added last: Hummingbird wraps a route in the middlewares added *before* it, and its
/// not-found responder in all of them, so requests that matched a route never pass through here.
/// A path matches a template segment by segment with Hummingbird's own element matching
/// (`RouterPath.Element ~=`; empty segments ignored, as the router ignores them): `{x}` and `*`
/// are any one segment, `**` the rest of the path.
struct UnmatchedRouteMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Each distinct path template of the router, whatever its methods.
    let paths: [RouterPath]

    init(routes: [Router<Context>.RouteDescription]) {
        var seen = Set<String>()
        paths = routes.map(\.path).filter { seen.insert($0.description).inserted }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            throw servesPath(request.uri.path)
                ? APIError(.methodNotAllowed, "Method Not Allowed") : APIError(.notFound, "Not Found")
        }
    }

    /// Whether some route's template matches `path`, whatever the method.
    func servesPath(_ path: String) -> Bool {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        return paths.contains { Self.template($0, matches: segments[...]) }
    }

    private static func template(_ template: RouterPath, matches segments: ArraySlice<Substring>) -> Bool {
        var remaining = segments
        for element in template.components {
            if element == RouterPath.Element.recursiveWildcard { return true }
            guard let segment = remaining.popFirst(), element ~= segment else { return false }
        }
        return remaining.isEmpty
    }
}
