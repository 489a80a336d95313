extension CodeRunnerClient {
    /// Builds a prebuilt image and waits for the build (`POST /prebuild`).
    ///
    /// The build runs on a worker and may take minutes; its status can be followed meanwhile
    /// with ``prebuild(tag:)``. A setup script that fails throws
    /// ``CodeRunnerError/prebuildFailed(log:)``.
    public func createPrebuild(_ request: PrebuildRequest) async throws(CodeRunnerError) -> Prebuild {
        let answer = try await send(.POST, "/prebuild", body: request, timeout: .seconds(15 * 60))
        if answer.status == 400, case .invalidRequest(_, let message, _) = Self.error(from: answer),
            message.hasPrefix("Build failed: ")
        {
            throw .prebuildFailed(log: String(message.dropFirst("Build failed: ".count)))
        }
        guard answer.status == 202 else { return try expect(Prebuild.self, from: answer) }
        // The build outlived the service's wait: follow it until it ends.
        while true {
            let prebuild = try await prebuild(tag: request.tag)
            switch prebuild.status {
            case .ready, nil: return prebuild
            case .failed: throw .prebuildFailed(log: prebuild.buildLog ?? "")
            case .building:
                do { try await Task.sleep(for: .seconds(2)) } catch { throw .cancelled }
            }
        }
    }

    /// The prebuilt images this service built (`GET /prebuilds`).
    public func prebuilds() async throws(CodeRunnerError) -> [Prebuild] {
        try expect(PrebuildList.self, from: await send(.GET, "/prebuilds")).prebuilds
    }

    /// One prebuilt image with its status and build log (`GET /prebuilds/{tag}`);
    /// `tag` with or without its `prebuilt-` prefix.
    public func prebuild(tag: String) async throws(CodeRunnerError) -> Prebuild {
        try expect(Prebuild.self, from: await send(.GET, "/prebuilds/\(Self.segment(tag))"))
    }

    /// Removes a prebuilt image (`DELETE /prebuilds/{tag}`).
    public func deletePrebuild(tag: String) async throws(CodeRunnerError) {
        _ = try expect(JSONValue.self, from: await send(.DELETE, "/prebuilds/\(Self.segment(tag))"))
    }

    /// Removes prebuilt images neither built nor used for `maxAgeDays` days (the service's
    /// `CLEANUP_MAX_AGE_DAYS` when `nil`) (`POST /prebuilds/cleanup`).
    public func cleanupPrebuilds(maxAgeDays: Int? = nil) async throws(CodeRunnerError) -> PrebuildCleanup {
        let query = maxAgeDays.map { [("max_age_days", String($0))] } ?? []
        return try expect(PrebuildCleanup.self, from: await send(.POST, "/prebuilds/cleanup", query: query))
    }
}
