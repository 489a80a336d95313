extension CodeRunnerClient {
    /// Whether the service can run code, its live workers and queue (`GET /health`, no key needed).
    public func health() async throws(CodeRunnerError) -> Health {
        try expect(Health.self, from: await send(.GET, "/health"))
    }

    /// The runtimes the service offers and whether each can run now (`GET /runtimes`).
    public func runtimes() async throws(CodeRunnerError) -> [RuntimeInfo] {
        try expect(RuntimeList.self, from: await send(.GET, "/runtimes")).images
    }
}
