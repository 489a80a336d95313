import Foundation
import Logging
import Queue
import Synchronization

/// Builds prebuilt images: `FROM code-runner-<base>` plus the user's setup script, run as root
/// with network during the build, under `PREBUILD_TIMEOUT`, with the build log kept (capped).
///
/// A build goes to a temporary tag and is retagged `prebuilt-<tag>` only when it succeeded, so a
/// job running on the previous image is never broken and a failed rebuild leaves the old image
/// in place. Builds of one tag on this worker are serialised.
final class PrebuildBuilder: Sendable {
    private let docker: DockerClient
    private let deploymentID: String
    /// A PEM bundle made available to the setup script (`PREBUILD_CA_BUNDLE`), so that `pip` or
    /// `curl` behind a TLS-intercepting proxy trust what the host trusts.
    private let caBundlePath: String?
    private let logger: Logger
    private let busyTags = TagLocks()
    /// Serialises builds of one tag across workers (nil: this worker only, e.g. in tests).
    private let store: (any JobStore)?
    private let workerID: String

    init(
        docker: DockerClient, deploymentID: String, caBundlePath: String?, logger: Logger,
        store: (any JobStore)? = nil, workerID: String = "builder"
    ) {
        self.docker = docker
        self.deploymentID = deploymentID
        self.caBundlePath = caBundlePath
        self.logger = logger
        self.store = store
        self.workerID = workerID
    }

    func build(_ request: PrebuildPayload) async -> PrebuildOutcome {
        await busyTags.withLock(request.tag) {
            guard let store else { return await buildUnlocked(request) }
            // Wait (on change hints, bounded by the build timeout) until no other worker builds this tag.
            let lease = Double(request.timeoutSeconds + 60)
            let deadline = ContinuousClock.now + .seconds(request.timeoutSeconds)
            var hints = store.changes().makeAsyncIterator()
            while (try? await store.acquirePrebuildLock(tag: request.tag, owner: workerID, seconds: lease)) != true {
                guard ContinuousClock.now < deadline else {
                    return PrebuildOutcome(succeeded: false, log: "another build of this tag did not finish in time", sizeBytes: 0, layerSizeBytes: 0)
                }
                _ = await hints.next()
            }
            let outcome = await buildUnlocked(request)
            try? await store.releasePrebuildLock(tag: request.tag, owner: workerID)
            return outcome
        }
    }

    private func buildUnlocked(_ request: PrebuildPayload) async -> PrebuildOutcome {
        let log = BuildLog(cap: request.maxLogBytes)
        let base = "code-runner-\(request.baseRuntime)"
        let target = "prebuilt-\(request.tag)"
        let temporary = "\(target)-build-\(UUID().uuidString.prefix(8).lowercased())"
        let context = buildContext(base: base, script: request.setupScript)
        let labels = [
            SandboxSpec.deploymentLabel: deploymentID, "code-runner.prebuilt": request.tag,
            "code-runner.base": base,
        ]
        let failure: String?
        do {
            failure = try await withThrowingTaskGroup(of: String?.self) { group in
                group.addTask { [docker] in
                    try await docker.buildImage(context: context, tag: temporary, labels: labels) { log.append($0) }
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(request.timeoutSeconds))
                    return "build timed out after \(request.timeoutSeconds) s"
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
        } catch {
            await cleanUpTemporary(temporary)
            let message = String(describing: error)
            log.append(message)
            return PrebuildOutcome(succeeded: false, log: log.text, sizeBytes: 0, layerSizeBytes: 0)
        }
        if let failure {
            if !log.text.contains(failure) { log.append(failure) }
            await cleanUpTemporary(temporary)
            return PrebuildOutcome(succeeded: false, log: log.text, sizeBytes: 0, layerSizeBytes: 0)
        }
        do {
            try await docker.tagImage(temporary, as: target)
            await cleanUpTemporary(temporary)
            let size = try await docker.imageSize(target) ?? 0
            let baseSize = try await docker.imageSize(base) ?? 0
            logger.info("prebuilt image built", metadata: ["tag": "\(target)", "bytes": "\(size)"])
            return PrebuildOutcome(succeeded: true, log: log.text, sizeBytes: size, layerSizeBytes: max(size - baseSize, 0))
        } catch {
            log.append(String(describing: error))
            await cleanUpTemporary(temporary)
            return PrebuildOutcome(succeeded: false, log: log.text, sizeBytes: 0, layerSizeBytes: 0)
        }
    }

    func remove(tag: String) async -> Bool {
        do {
            try await docker.removeImage("prebuilt-\(tag)")
            return true
        } catch {
            logger.warning("prebuilt image removal failed", metadata: ["tag": "\(tag)", "error": "\(error)"])
            return false
        }
    }

    private func cleanUpTemporary(_ reference: String) async {
        try? await docker.removeImage(reference)
    }

    /// Dockerfile + setup.sh (+ the CA bundle), as a tar build context.
    private func buildContext(base: String, script: String) -> [UInt8] {
        var dockerfile = "FROM \(base)\nUSER root\nCOPY setup.sh /tmp/code-runner-setup.sh\n"
        var archive = TarArchive()
        if let caBundlePath, let bundle = FileManager.default.contents(atPath: caBundlePath) {
            archive.addFile(path: "ca-bundle.pem", contents: Array(bundle))
            dockerfile += "COPY ca-bundle.pem /tmp/code-runner-ca.pem\n"
            dockerfile += "RUN PIP_CERT=/tmp/code-runner-ca.pem SSL_CERT_FILE=/tmp/code-runner-ca.pem REQUESTS_CA_BUNDLE=/tmp/code-runner-ca.pem CURL_CA_BUNDLE=/tmp/code-runner-ca.pem NODE_EXTRA_CA_CERTS=/tmp/code-runner-ca.pem "
            dockerfile += "sh /tmp/code-runner-setup.sh && rm -f /tmp/code-runner-setup.sh /tmp/code-runner-ca.pem\n"
        } else {
            dockerfile += "RUN sh /tmp/code-runner-setup.sh && rm -f /tmp/code-runner-setup.sh\n"
        }
        dockerfile += "USER 1000:1000\n"
        archive.addFile(path: "Dockerfile", contents: Array(dockerfile.utf8))
        archive.addFile(path: "setup.sh", contents: Array(script.utf8))
        return archive.finished()
    }
}

/// A build log kept up to a cap (the end is dropped, with a note).
private final class BuildLog: Sendable {
    private let cap: Int
    private let storage = Mutex((text: "", truncated: false))

    init(cap: Int) { self.cap = cap }

    func append(_ text: String) {
        storage.withLock { state in
            guard !state.truncated else { return }
            if state.text.utf8.count + text.utf8.count > cap {
                state.text += "\n[build log truncated]\n"
                state.truncated = true
            } else {
                state.text += text
            }
        }
    }

    var text: String { storage.withLock { $0.text } }
}

/// One build at a time per tag (on this worker).
private actor TagLocks {
    private var busy: [String: [CheckedContinuation<Void, Never>]] = [:]

    func withLock<T: Sendable>(_ tag: String, _ body: @Sendable () async -> T) async -> T {
        if busy[tag] != nil {
            await withCheckedContinuation { busy[tag, default: []].append($0) }
        } else {
            busy[tag] = []
        }
        let result = await body()
        if var waiters = busy[tag], !waiters.isEmpty {
            let next = waiters.removeFirst()
            busy[tag] = waiters
            next.resume()
        } else {
            busy.removeValue(forKey: tag)
        }
        return result
    }
}
