import Foundation
import Hummingbird
import Logging
import Queue

/// `GET /jobs/{id}/files/{path}`: one output file of a finished job, with its media type. Same
/// visibility as `GET /jobs/{id}`: another credential's job is the same 404 as an unknown id.
///
/// The file is the program's bytes, served from this API's origin: a type that a browser would
/// run (HTML, SVG, ...) must not become script of this origin. So every answer has
/// `X-Content-Type-Options: nosniff` and `Content-Security-Policy: sandbox`, and only the kinds
/// `MediaType.isInlineSafe` lists are `inline`; the rest are attachments.
struct JobFileRoutes: Sendable {
    let dependencies: AppDependencies
    private static let logger = Logger(label: "code-runner.api")

    func register(on router: Router<BasicRequestContext>) {
        router.get("/jobs/{id}/files/**") { request, context in
            try await file(
                request,
                id: context.parameters.get("id") ?? "",
                path: context.parameters.getCatchAll().map { $0.removingPercentEncoding ?? String($0) }.joined(separator: "/")
            )
        }
    }

    func file(_ request: Request, id: String, path: String) async throws -> Response {
        let owner = try dependencies.authenticator.owner(of: request)
        guard let job = try await dependencies.store.job(publicID: id, owner: owner) else { throw JobRoutes.notFound(id) }
        guard job.state == .completed, let data = job.result else {
            throw APIError(.notFound, "Job '\(id)' has no files: it is \(job.state.rawValue), not completed.")
        }
        let result: RunResult
        do {
            result = try JSONDecoder().decode(RunResult.self, from: data)
        } catch {
            Self.logger.error("a completed job's result is unreadable", metadata: ["job": "\(id)", "error": "\(error)"])
            throw APIError(.internalServerError, "Job '\(id)' has an unreadable result.")
        }
        guard let file = result.files?.first(where: { $0.path == path }) else {
            throw APIError(.notFound, "Job '\(id)' has no output file '\(path)'.")
        }
        let name = file.path.split(separator: "/").last.map(String.init) ?? file.path
        let disposition = MediaType.isInlineSafe(file.mediaType) ? "inline" : "attachment"
        var headers: HTTPFields = [:]
        headers[.contentType] = file.mediaType
        headers[.contentDisposition] = "\(disposition); filename*=UTF-8''\(Self.percentEncoded(name))"
        headers[.xContentTypeOptions] = "nosniff"
        headers[.contentSecurityPolicy] = "sandbox; default-src 'none'"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: file.content)))
    }

    /// RFC 5987's encoding of a file name for `filename*`: unreserved characters as they are.
    static func percentEncoded(_ name: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return name.addingPercentEncoding(withAllowedCharacters: allowed) ?? "file"
    }
}
