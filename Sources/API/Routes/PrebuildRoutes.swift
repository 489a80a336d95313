import Hummingbird

/// Prebuilt images (`/prebuild`, `/prebuilds`). This slice lists what the service has built —
/// nothing yet: building arrives with the prebuild jobs, and only images this service built will
/// ever be listed (identity is stored, not guessed from a `prebuilt-` name).
struct PrebuildRoutes: Sendable {
    let dependencies: AppDependencies

    func register(on router: Router<BasicRequestContext>) {
        router.get("/prebuilds") { request, _ in
            _ = try dependencies.authenticator.owner(of: request)
            return JSONResponse.make(body: ["prebuilds": [String]()])
        }
        router.get("/prebuilds/{tag}") { request, context -> Response in
            _ = try dependencies.authenticator.owner(of: request)
            throw Self.notFound(context.parameters.get("tag") ?? "")
        }
        router.delete("/prebuilds/{tag}") { request, context -> Response in
            _ = try dependencies.authenticator.owner(of: request)
            throw Self.notFound(context.parameters.get("tag") ?? "")
        }
        router.post("/prebuild") { request, _ -> Response in
            _ = try await RequestBody.json(from: request)
            _ = try dependencies.authenticator.owner(of: request)
            throw APIError(.notImplemented, "Prebuilt images are not supported by this version yet.")
        }
    }

    static func notFound(_ tag: String) -> APIError {
        let name = tag.hasPrefix("prebuilt-") ? tag : "prebuilt-\(tag)"
        return APIError(.notFound, "Prebuilt image '\(name)' not found.")
    }
}
