import Foundation
import Logging
import NIOCore
import Queue
import Synchronization

/// Builds prebuilt images: `code-runner-<base>` plus the user's setup script, run as root in a
/// confined container (`BuildSandboxSpec`: limits, few capabilities, the sandbox network),
/// then committed as the owner's image (`PrebuildKey.engineReference`).
///
/// The commit retags atomically, so a job running on the previous image is never broken and a
/// failed rebuild leaves the old image in place; the previous image is removed once no container
/// uses it. Builds of one image on this worker are serialised, and across workers through a
/// lease on the image's record.
final class PrebuildBuilder: Sendable {
    private let docker: DockerClient
    private let deploymentID: String
    /// A PEM bundle made available to the setup script (`PREBUILD_CA_BUNDLE`), so that `pip` or
    /// `curl` behind a TLS-intercepting proxy trust what the host trusts.
    private let caBundlePath: String?
    private let limits: BuildSandboxSpec.Limits
    private let logger: Logger
    private let busyImages = KeyedLocks<PrebuildKey>()
    /// Serialises builds of one image across workers (nil: this worker only, e.g. in tests).
    private let store: (any PrebuildStore)?
    private let workerID: String
    /// The worker's host, labelled on build containers.
    private let host: String

    /// The sandbox network the build container joins, with its egress policy.
    private let network: any SandboxNetwork

    init(
        docker: DockerClient,
        network: any SandboxNetwork,
        deploymentID: String,
        caBundlePath: String?,
        limits: BuildSandboxSpec.Limits,
        logger: Logger,
        store: (any PrebuildStore)? = nil,
        workerID: String = "builder",
        host: String = ServiceSettings.machineHostName
    ) {
        self.host = host
        self.docker = docker
        self.network = network
        self.deploymentID = deploymentID
        self.caBundlePath = caBundlePath
        self.limits = limits
        self.logger = logger
        self.store = store
        self.workerID = workerID
    }

    func build(_ request: PrebuildPayload) async -> PrebuildOutcome {
        await busyImages.withLock(request.key) {
            guard let store else { return await buildUnlocked(request) }
            // Wait (on change hints, bounded by the build timeout) until no other worker builds this image.
            let lease = Double(request.timeoutSeconds + 60)
            let deadline = ContinuousClock.now + .seconds(request.timeoutSeconds)
            var hints = store.changes().makeAsyncIterator()
            while true {
                do {
                    if try await store.acquirePrebuildLock(request.key, holder: workerID, seconds: lease) { break }
                } catch {
                    logger.warning(
                        "could not take the build lease; trying again on the next change",
                        metadata: ["tag": "\(request.tag)", "error": "\(error)"]
                    )
                }
                guard ContinuousClock.now < deadline else {
                    return .failure("another build of this image did not finish in time")
                }
                _ = await hints.next()
            }
            let outcome = await buildUnlocked(request)
            do {
                try await store.releasePrebuildLock(request.key, holder: workerID)
            } catch {
                logger.warning("could not release the build lease (it expires by itself)", metadata: ["tag": "\(request.tag)", "error": "\(error)"])
            }
            return outcome
        }
    }

    /// How a build container stopped.
    private enum Ending: Sendable {
        case exited(status: Int)
        case timedOut
        case layerTooLarge(bytes: Int64)
    }

    private func buildUnlocked(_ request: PrebuildPayload) async -> PrebuildOutcome {
        let base = ImageReference.runtimeImage(request.baseRuntime)
        let target = request.key.engineReference
        let baseImage: ImageInspect
        let containerID: String
        do {
            guard let inspected = try await docker.inspectImage(base) else {
                return .failure("Base image '\(base)' is not on this worker's engine. Build it with: make images")
            }
            baseImage = inspected
            do {
                try await network.prepare(deploymentID: deploymentID, runtime: nil)
            } catch {
                logger.error("prebuild refused: no sandbox network", metadata: ["tag": "\(request.tag)", "error": "\(error.logDetail)"])
                return .failure("The build could not be started: \(error.failure.detail)")
            }
            containerID = try await docker.createContainer(
                BuildSandboxSpec.container(base: base, limits: limits, deploymentID: deploymentID, workerID: workerID, host: host)
            )
        } catch {
            logger.error("prebuild could not start", metadata: ["tag": "\(request.tag)", "error": "\(error)"])
            return .failure("The build could not be started: \(Self.describe(error))")
        }
        do {
            let outcome = try await runAndCommit(request, in: containerID, base: baseImage, baseName: base, target: target)
            await removeContainer(containerID)
            return outcome
        } catch {
            await removeContainer(containerID)
            logger.error("prebuild failed", metadata: ["tag": "\(request.tag)", "error": "\(error)"])
            return .failure("The build failed: \(Self.describe(error))")
        }
    }

    private func runAndCommit(
        _ request: PrebuildPayload,
        in id: String,
        base: ImageInspect,
        baseName: String,
        target: String
    ) async throws -> PrebuildOutcome {
        let caBundle = caBundlePath.flatMap { FileManager.default.contents(atPath: $0) }.map { Array($0) }
        try await docker.putArchive(id, path: "/", archive: BuildSandboxSpec.inputArchive(script: request.setupScript, caBundle: caBundle))
        try await docker.startContainer(id)
        let ending = try await watch(id, timeoutSeconds: request.timeoutSeconds)
        let log = try await buildLog(id, cap: request.maxLogBytes)
        switch ending {
        case .timedOut:
            try await docker.killContainer(id)
            return .failure(Self.appending("build timed out after \(request.timeoutSeconds) s", to: log))
        case .layerTooLarge(let bytes):
            try await docker.killContainer(id)
            return .failure(Self.appending(layerTooLarge(bytes), to: log))
        case .exited(let status) where status != 0:
            let oomKilled = (try? await docker.inspectContainer(id).state.oomKilled) ?? false
            var note = "The setup script exited with status \(status)"
            if oomKilled {
                note += ": killed for using more than the build's memory limit (\(limits.memoryBytes / ByteSize.mebibyte) MiB, PREBUILD_MEMORY_MB)"
            }
            return .failure(Self.appending(note, to: log))
        case .exited:
            break
        }
        let layer = try await docker.writableLayerSize(id)
        if layer > limits.maxLayerBytes { return .failure(Self.appending(layerTooLarge(layer), to: log)) }
        let previous = try await docker.inspectImage(target)?.id
        let (repository, tag) = Self.split(target)
        var labels = base.config?.labels ?? [:]
        labels[SandboxSpec.deploymentLabel] = deploymentID
        labels["code-runner.prebuilt"] = request.tag
        labels["code-runner.base"] = baseName
        let config = ImageInspect.Configuration(
            user: base.config?.user,
            entrypoint: base.config?.entrypoint,
            command: base.config?.command,
            workingDirectory: base.config?.workingDirectory,
            labels: labels
        )
        let imageID = try await docker.commitContainer(id, repository: repository, tag: tag, config: config)
        if let previous, previous != imageID {
            do { try await docker.removeImageIfUnused(previous) } catch {
                logger.warning("could not remove the previous build of a prebuilt image", metadata: ["image": "\(previous)", "error": "\(error)"])
            }
        }
        let size = try await docker.imageSize(target) ?? 0
        logger.info("prebuilt image built", metadata: ["tag": "\(request.tag)", "image": "\(target)", "bytes": "\(size)", "layer_bytes": "\(layer)"])
        // what GET /prebuilds shows: the image's labels but the deployment's (an internal id)
        return PrebuildOutcome(
            succeeded: true,
            log: log,
            sizeBytes: size,
            layerSizeBytes: max(size - base.size, 0),
            labels: labels.filter { $0.key != SandboxSpec.deploymentLabel }
        )
    }

    /// Waits for the setup script to end, for its deadline, or for its layer to outgrow the cap
    /// (looked at every 5 s: the engine walks the layer to measure it), whichever comes first.
    private func watch(_ id: String, timeoutSeconds: Int) async throws -> Ending {
        try await withThrowingTaskGroup(of: Ending.self) { group in
            group.addTask { [docker] in
                // The engine answers a wait only when the container stops; a wait longer than the
                // HTTP client's read timeout is asked again.
                while true {
                    let asked = ContinuousClock.now
                    do {
                        return .exited(status: try await docker.waitContainer(id, timeout: .seconds(300)))
                    } catch DockerEngineError.unreachable(_) where ContinuousClock.now - asked > .seconds(200) {
                        continue
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(timeoutSeconds))
                return .timedOut
            }
            group.addTask { [docker, limits] in
                while true {
                    try await Task.sleep(for: .seconds(5))
                    let bytes = try await docker.writableLayerSize(id)
                    if bytes > limits.maxLayerBytes { return .layerTooLarge(bytes: bytes) }
                }
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw CancellationError() }
            return first
        }
    }

    /// The end of the build's output (both streams, in the order written), at most `cap` bytes.
    private func buildLog(_ id: String, cap: Int) async throws -> String {
        var decoder = StreamFrameDecoder()
        var bytes: [UInt8] = []
        for (_, payload) in try decoder.feed(try await docker.logs(id)) {
            bytes += payload.readableBytesView
        }
        guard bytes.count > cap else { return String(decoding: bytes, as: UTF8.self) }
        return "[build log truncated: the first \(bytes.count - cap) bytes are not kept]\n"
            + String(decoding: bytes.suffix(cap), as: UTF8.self)
    }

    private func layerTooLarge(_ bytes: Int64) -> String {
        "The setup script wrote \(bytes / ByteSize.mebibyte) MiB, more than the build's limit of "
            + "\(limits.maxLayerBytes / ByteSize.mebibyte) MiB (PREBUILD_MAX_LAYER_MB); the build was stopped"
    }

    func remove(_ key: PrebuildKey) async -> Bool {
        do {
            try await docker.removeImage(key.engineReference)
            return true
        } catch {
            logger.warning("prebuilt image removal failed", metadata: ["tag": "\(key.tag)", "error": "\(error)"])
            return false
        }
    }

    private func removeContainer(_ id: String) async {
        do { try await docker.removeContainer(id) } catch {
            logger.warning(
                "could not remove a build container (the orphan sweep will)",
                metadata: ["container": "\(id.prefix(12))", "error": "\(error)"]
            )
        }
    }

    /// The log with a closing line of ours.
    static func appending(_ note: String, to log: String) -> String {
        log.isEmpty || log.hasSuffix("\n") ? log + note : log + "\n" + note
    }

    /// `prebuilt-x:o12` → (`prebuilt-x`, `o12`); no tag → `latest`.
    static func split(_ reference: String) -> (repository: String, tag: String) {
        guard let colon = reference.lastIndex(of: ":") else { return (reference, "latest") }
        return (String(reference[..<colon]), String(reference[reference.index(after: colon)...]))
    }

    /// A sentence for the build log: the engine's own message, never a Swift type dump.
    static func describe(_ error: any Error) -> String {
        if let engine = error as? DockerEngineError { return engine.description }
        return "an internal error (see the worker's log)"
    }
}

/// One holder at a time per key (on this worker).
private actor KeyedLocks<Key: Hashable & Sendable> {
    private var busy: [Key: [CheckedContinuation<Void, Never>]] = [:]

    func withLock<T: Sendable>(_ key: Key, _ body: @Sendable () async -> T) async -> T {
        if busy[key] != nil {
            await withCheckedContinuation { busy[key, default: []].append($0) }
        } else {
            busy[key] = []
        }
        let result = await body()
        if var waiters = busy[key], !waiters.isEmpty {
            let next = waiters.removeFirst()
            busy[key] = waiters
            next.resume()
        } else {
            busy.removeValue(forKey: key)
        }
        return result
    }
}
