import Foundation
import NIOCore
import Synchronization

/// A container created, attached and started ahead of time with the default limits, its
/// entrypoint blocked reading the protocol header: it waits for exactly **one** job and is
/// removed after it (never reused).
final class WarmContainer: Sendable {
    typealias FrameSink = @Sendable (AttachStream, ByteBuffer) -> Bool

    let id: String
    let image: String
    /// The engine socket's identity from before the container was created: a run in it tells
    /// an engine restart since then from a container that ended by itself (`SandboxRunner`).
    let engineSocket: EngineSocketIdentity?
    private let inputs: AsyncStream<ByteBuffer?>
    private let inputContinuation: AsyncStream<ByteBuffer?>.Continuation
    private let frameSink = Mutex<FrameSink?>(nil)
    private let deliveredHook = Mutex<(@Sendable () -> Void)?>(nil)
    private let session = Mutex<Task<Void, Error>?>(nil)

    private init(id: String, image: String, engineSocket: EngineSocketIdentity?) {
        self.id = id
        self.image = image
        self.engineSocket = engineSocket
        (inputs, inputContinuation) = AsyncStream<ByteBuffer?>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Creates, attaches and starts a container from `config`; returns once it is running and
    /// waiting for its input.
    static func prepare(_ config: ContainerConfig, docker: DockerClient) async throws -> WarmContainer {
        let engineSocket = EngineSocketIdentity.current(path: docker.socketPath)
        let id = try await docker.createContainer(config)
        let container = WarmContainer(id: id, image: config.image, engineSocket: engineSocket)
        do {
            try await withCheckedThrowingContinuation { (started: CheckedContinuation<Void, Error>) in
                let startedOnce = Mutex<CheckedContinuation<Void, Error>?>(started)
                let task = Task {
                    do {
                        try await DockerAttachConnection(socketPath: docker.socketPath).run(
                            containerID: id,
                            awaitingInput: {
                                startedOnce.withLock {
                                    $0?.resume()
                                    $0 = nil
                                }
                                var iterator = container.inputs.makeAsyncIterator()
                                return await iterator.next() ?? nil
                            },
                            afterUpgrade: { try await docker.startContainer(id) },
                            inputDelivered: { container.deliveredHook.withLock { $0 }?() },
                            onFrame: { stream, payload in container.frameSink.withLock { $0 }?(stream, payload) ?? true }
                        )
                    } catch {
                        startedOnce.withLock {
                            $0?.resume(throwing: error)
                            $0 = nil
                        }
                        throw error
                    }
                    startedOnce.withLock {
                        $0?.resume(throwing: CancellationError())
                        $0 = nil
                    }
                }
                container.session.withLock { $0 = task }
            }
        } catch {
            try? await docker.removeContainer(id)
            throw error
        }
        return container
    }

    /// Delivers a job's input and streams its output to `onFrame` until the container ends.
    func run(input: ByteBuffer, onDelivered: @escaping @Sendable () -> Void, onFrame: @escaping FrameSink) async throws {
        frameSink.withLock { $0 = onFrame }
        deliveredHook.withLock { $0 = onDelivered }
        inputContinuation.yield(input)
        inputContinuation.finish()
        try await session.withLock { $0 }?.value
    }

    /// Gives up an unused container: its session ends (the caller removes the container).
    func abandon() {
        inputContinuation.yield(nil)
        inputContinuation.finish()
    }
}
