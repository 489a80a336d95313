import Logging
import NIOCore
import Synchronization

/// Removes finished containers in the background (a forced remove costs 5–30 ms that no client
/// should wait for) and lets the worker wait for the removals still under way when it stops.
final class ContainerRemover: Sendable {
    private let docker: any ContainerEngine
    private let logger: Logger
    private let pending = Mutex<[String: Task<Void, Never>]>([:])

    init(docker: any ContainerEngine, logger: Logger) {
        self.docker = docker
        self.logger = logger
    }

    /// How long a container may take to end by itself before it is removed by force.
    static let graceBeforeKill: TimeAmount = .seconds(2)

    func remove(_ containerID: String) {
        let task = Task { [self] in
            do {
                // A run is answered from its trailer, a few milliseconds before the container has
                // ended. Removing it then would make the engine kill it first (more engine work
                // per run); it ends by itself right away, unless something in it lingers.
                _ = try? await docker.waitContainer(containerID, timeout: Self.graceBeforeKill)
                try await docker.removeContainer(containerID)
            } catch {
                logger.warning(
                    "container removal failed; the orphan sweep will retry",
                    metadata: ["container": "\(containerID.prefix(12))", "error": "\(error)"]
                )
            }
            _ = self.pending.withLock { $0.removeValue(forKey: containerID) }
        }
        pending.withLock { $0[containerID] = task }
    }

    /// Waits for every removal under way.
    func drain() async {
        let tasks = pending.withLock { Array($0.values) }
        for task in tasks { await task.value }
    }
}
