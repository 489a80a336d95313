import NIOCore

/// The engine calls a run makes (`SandboxRunner`, `ContainerRemover`), and nothing more: small
/// enough to fake. `DockerClient` is the real engine; `Tests/WorkerTests/ScriptedEngine.swift`
/// plays runs from a script, so the run path's decisions (trailer, deadline, flood, a container
/// that ended without a trailer, an engine that went away) are unit-tested without Docker.
protocol ContainerEngine: Sendable {
    /// Creates `spec`'s network unless it exists.
    func ensureNetwork(_ spec: NetworkCreate) async throws
    /// Creates a container; its id.
    func createContainer(_ config: ContainerConfig) async throws -> String
    /// Attaches to the container, starts it, writes `input` to its stdin and half-closes it,
    /// calls `inputDelivered`, then hands every output frame to `onFrame` until the stream ends
    /// (the container exited or was killed) or `onFrame` answers false. An I/O error on the
    /// stream is thrown; its clean end returns.
    func attachAndStart(
        _ id: String,
        input: ByteBuffer,
        inputDelivered: @escaping @Sendable () -> Void,
        onFrame: @escaping @Sendable (AttachStream, ByteBuffer) -> Bool
    ) async throws
    func killContainer(_ id: String) async throws
    /// Blocks until the container is not running (at most `timeout`); its exit status.
    func waitContainer(_ id: String, timeout: TimeAmount) async throws -> Int
    func inspectContainer(_ id: String) async throws -> ContainerInspect
    func removeContainer(_ id: String) async throws
    /// The engine socket's identity now: it changes when the engine restarts.
    func socketIdentity() -> EngineSocketIdentity?
}

extension DockerClient: ContainerEngine {
    func attachAndStart(
        _ id: String,
        input: ByteBuffer,
        inputDelivered: @escaping @Sendable () -> Void,
        onFrame: @escaping @Sendable (AttachStream, ByteBuffer) -> Bool
    ) async throws {
        try await DockerAttachConnection(socketPath: socketPath).run(
            containerID: id,
            input: input,
            afterUpgrade: { try await startContainer(id) },
            inputDelivered: inputDelivered,
            onFrame: onFrame
        )
    }

    func socketIdentity() -> EngineSocketIdentity? { EngineSocketIdentity.current(path: socketPath) }
}
