import Foundation
import Logging
import Synchronization

/// What the worker knows about its Docker engine: reachable or not, its version, and which of
/// this service's images it holds. Refreshed periodically; a worker starts and keeps running
/// without an engine, reports it, and claims nothing until the engine answers.
final class EngineMonitor: Sendable {
    struct Snapshot: Sendable {
        var connected = false
        var version: String?
        var error: String? = "not checked yet"
        var images: [String] = []
    }

    private let docker: DockerClient
    private let logger: Logger
    private let current = Mutex(Snapshot())
    private let reportedOnce = Mutex(false)

    init(docker: DockerClient, logger: Logger) {
        self.docker = docker
        self.logger = logger
    }

    var snapshot: Snapshot { current.withLock { $0 } }

    /// Records that a run could not reach the engine: no claims until a refresh succeeds.
    func markUnreachable(_ reason: String) {
        let wasConnected = current.withLock { state in
            defer { state.connected = false; state.error = reason }
            return state.connected
        }
        if wasConnected { logger.error("Docker engine unreachable; not claiming jobs until it answers", metadata: ["error": "\(reason)"]) }
    }

    /// Asks the engine for its version and images; logs when reachability changes.
    @discardableResult
    func refresh() async -> Snapshot {
        var next = Snapshot()
        if !FileManager.default.fileExists(atPath: docker.socketPath) {
            next.error = "Docker socket not found at \(docker.socketPath)"
        } else { do {
            let version = try await docker.version()
            let images = try await docker.imageTags(prefix: "code-runner-")
                + docker.imageTags(prefix: "prebuilt-")
            next = Snapshot(connected: true, version: version.Version, error: nil, images: images.sorted())
        } catch {
            next.error = String(describing: error)
        } }
        let previous = current.withLock { state in
            defer { state = next }
            return state
        }
        let first = reportedOnce.withLock { reported in
            defer { reported = true }
            return !reported
        }
        if first || previous.connected != next.connected {
            if next.connected {
                logger.info("Docker engine reachable", metadata: ["version": "\(next.version ?? "?")", "images": "\(next.images.count)"])
            } else {
                logger.error("Docker engine unreachable; not claiming jobs until it answers", metadata: ["error": "\(next.error ?? "")"])
            }
        }
        return next
    }
}
