import NIOCore
import Synchronization

@testable import Worker

/// A `ContainerEngine` that plays one scripted container per run, without Docker: what the
/// program writes (given the run's nonce, read from the input's header line), how the stream
/// ends, what the engine then reports. It records the calls the run made.
final class ScriptedEngine: ContainerEngine {
    /// How the attach stream ends after the scripted output.
    enum StreamEnd: Sendable {
        /// The container exited: a clean end of stream.
        case exits
        /// The program runs until the worker kills the container (deadline, flood).
        case runsUntilKilled
        /// The connection fails (not a clean end).
        case breaks
    }

    struct Script: Sendable {
        /// The output frames, built from the run's nonce.
        var output: @Sendable (_ nonce: String) -> [(AttachStream, String)]
        var end: StreamEnd = .exits
        /// What `inspect` says after the end.
        var exitCode = 0
        var status = "exited"
        var oomKilled = false
        /// The engine restarted while the container ran (its socket's identity changes).
        var engineRestarts = false
        /// `create` fails with this.
        var createError: DockerEngineError?
        /// The first `create` fails with this, the next ones succeed.
        var firstCreateError: DockerEngineError?
    }

    /// The trailer the image's supervisor writes (`runtimes/PROTOCOL.md`).
    static func trailer(nonce: String, exit: Int, metadata: String = "", oomKills: Int = 0) -> String {
        "@@code-runner:\(nonce)@@ \(exit) \(metadata.utf8.count) \(oomKills)\n\(metadata)"
    }

    private struct State {
        var calls: [String] = []
        var killed = false
        var killWaiters: [CheckedContinuation<Void, Never>] = []
        var socket = EngineSocketIdentity(device: 1, inode: 1, changedSeconds: 1, changedNanoseconds: 0)
    }

    private let script: Script
    private let state = Mutex(State())

    init(_ script: Script) { self.script = script }

    /// The engine calls the run made, in order (`create`, `attach`, `kill`, `wait`, …).
    var calls: [String] { state.withLock { $0.calls } }

    private func record(_ call: String) { state.withLock { $0.calls.append(call) } }

    func ensureNetwork(_ spec: NetworkCreate) async throws { record("network \(spec.name)") }

    func createContainer(_ config: ContainerConfig) async throws -> String {
        record("create")
        if let error = script.createError { throw error }
        if let error = script.firstCreateError, calls.filter({ $0 == "create" }).count == 1 { throw error }
        return "container-1"
    }

    func attachAndStart(
        _ id: String,
        input: ByteBuffer,
        inputDelivered: @escaping @Sendable () -> Void,
        onFrame: @escaping @Sendable (AttachStream, ByteBuffer) -> Bool
    ) async throws {
        record("attach")
        let header = input.getString(at: input.readerIndex, length: min(input.readableBytes, 64)) ?? ""
        let nonce = header.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        inputDelivered()
        if script.engineRestarts {
            state.withLock { $0.socket.inode += 1 }
        }
        for (stream, text) in script.output(nonce) {
            guard onFrame(stream, ByteBuffer(string: text)) else { return }
        }
        switch script.end {
        case .exits: return
        case .breaks: throw ScriptedStreamError()
        case .runsUntilKilled:
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if state.killed { return true }
                    state.killWaiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    func killContainer(_ id: String) async throws {
        record("kill")
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.killed = true
            defer { state.killWaiters = [] }
            return state.killWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func waitContainer(_ id: String, timeout: TimeAmount) async throws -> Int {
        record("wait")
        return script.exitCode
    }

    func inspectContainer(_ id: String) async throws -> ContainerInspect {
        record("inspect")
        let killed = state.withLock { $0.killed }
        return ContainerInspect(
            id: id,
            state: .init(status: script.status, running: false, oomKilled: script.oomKilled, exitCode: killed ? 137 : script.exitCode),
            writableLayerBytes: nil
        )
    }

    func removeContainer(_ id: String) async throws { record("remove") }

    func socketIdentity() -> EngineSocketIdentity? { state.withLock { $0.socket } }
}

struct ScriptedStreamError: Error {}
