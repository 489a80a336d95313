import Foundation
import Logging
import Queue
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

    /// When the image list was last read and the engine's image count then.
    struct ImageListing: Sendable {
        var readAt: ContinuousClock.Instant
        var engineImageCount: Int

        /// Whether the list must be read again: the engine's image count moved, or the list is
        /// `maximumAge` old.
        func isStale(engineImageCount count: Int, at now: ContinuousClock.Instant, maximumAge: Duration) -> Bool {
            count != engineImageCount || now - readAt >= maximumAge
        }
    }

    /// The image list is read again at least this often, even if the image count stayed the
    /// same (a `docker tag` onto an existing image does not change it).
    static let imageListingMaximumAge: Duration = .seconds(30)

    private let docker: DockerClient
    private let logger: Logger
    private let current = Mutex(Snapshot())
    private let reportedOnce = Mutex(false)
    private let lastListing = Mutex<ImageListing?>(nil)

    init(docker: DockerClient, logger: Logger) {
        self.docker = docker
        self.logger = logger
    }

    var snapshot: Snapshot { current.withLock { $0 } }

    /// Records that a run could not reach the engine: no claims until a refresh succeeds.
    func markUnreachable(_ reason: String) {
        let wasConnected = current.withLock { state in
            defer {
                state.connected = false
                state.error = reason
            }
            return state.connected
        }
        if wasConnected { logger.error("Docker engine unreachable; not claiming jobs until it answers", metadata: ["error": "\(reason)"]) }
    }

    /// Asks the engine for its version and images; logs when reachability changes.
    ///
    /// Listing images costs the engine time in proportion to their number, so the list is read
    /// only when the engine's image count changed (a build, a removal, a load) or the list is
    /// older than `imageListingMaximumAge`; every other refresh is one cheap `/info`.
    @discardableResult
    func refresh() async -> Snapshot {
        var next = Snapshot()
        if !FileManager.default.fileExists(atPath: docker.socketPath) {
            next.error = "Docker socket not found at \(docker.socketPath)"
        } else {
            do {
                let info = try await docker.info()
                let previous = current.withLock { $0 }
                let listing = lastListing.withLock { $0 }
                var images = previous.images
                let stale = listing?.isStale(engineImageCount: info.imageCount, at: .now, maximumAge: Self.imageListingMaximumAge) ?? true
                if !previous.connected || stale {
                    let readAt = ContinuousClock.now
                    images = try await docker.imageTags(prefixes: ImageReference.servicePrefixes).sorted()
                    lastListing.withLock { $0 = ImageListing(readAt: readAt, engineImageCount: info.imageCount) }
                }
                next = Snapshot(connected: true, version: info.serverVersion, error: nil, images: images)
            } catch let error as DockerEngineError {
                // `/health` shows this: a sentence, never a Swift error value; the log has the rest.
                next.error = error.message
                logger.debug("engine check failed", metadata: ["error": "\(error)"])
            } catch {
                next.error = "the Docker engine check failed"
                logger.warning("engine check failed", metadata: ["error": "\(error)"])
            }
        }
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
