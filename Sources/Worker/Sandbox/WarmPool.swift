import Foundation
import Logging
import Queue

/// Per worker, `POOL_SIZE` warm containers for each runtime image in use, so that a run skips
/// container creation and start (the cold floor, ≈ 150 ms here).
///
/// - Only runs that match the pool's container exactly are served warm: no network, the default
///   disk size and pids limit. Memory and CPU that differ are changed on the running container
///   (`POST /containers/{id}/update`) before the code is delivered; the run's `environment`
///   travels in the protocol header (`RunInput`), which a judge run's has no room for.
///   Everything else takes the cold path.
/// - With `prestart`, the containers start the runtime's interpreter ahead (the supervisor's
///   `--prestart`, `runtimes/PROTOCOL.md`), so a run with the default command skips its start-up.
/// - Every warm container serves one job and is removed after it; none is ever reused.
/// - Refills run in the background and stop while the worker is saturated, so the pool never
///   costs throughput (container churn is the machine's ceiling, not latency).
actor WarmPool {
    private let docker: DockerClient
    private let size: Int
    private let template: RunPayload
    private let identity: RunIdentity
    private let ociRuntime: String?
    /// Whether the containers pre-start their runtime's interpreter (`POOL_PRESTART`).
    private let prestart: Bool
    private let logger: Logger
    /// Whether there is capacity to spare for refilling right now.
    private let mayRefill: @Sendable () async -> Bool
    private var idle: [String: [WarmContainer]] = [:]
    private var inUse: Set<String> = []
    private var refills: [String: Task<Void, Never>] = [:]
    private var stopped = false

    /// The job label of warm containers (they are created before their job is known).
    static let jobLabel = "pool"
    /// The supervisor's argument that makes it pre-start the interpreter.
    static let prestartArgument = "--prestart"

    /// - Parameter template: a payload with the default limits every warm container is made with.
    init(
        docker: DockerClient,
        size: Int,
        template: RunPayload,
        identity: RunIdentity,
        ociRuntime: String?,
        prestart: Bool = true,
        logger: Logger,
        mayRefill: @escaping @Sendable () async -> Bool
    ) {
        self.docker = docker
        self.size = size
        self.template = template
        var poolIdentity = identity
        poolIdentity.jobID = Self.jobLabel
        self.identity = poolIdentity
        self.ociRuntime = ociRuntime
        self.prestart = prestart
        self.logger = logger
        self.mayRefill = mayRefill
    }

    /// Whether a run can use a warm container at all.
    nonisolated func accepts(_ payload: RunPayload) -> Bool {
        size > 0 && !payload.isNetworked && (payload.environment.isEmpty || payload.judge == nil) && payload.prebuild == nil
            && payload.diskBytes == template.diskBytes && payload.pidsLimit == template.pidsLimit
            && ImageReference.runtime(ofImage: payload.image) != nil
    }

    /// A warm container for this run, adjusted to its memory and CPU, or nil (cold path).
    /// Marks the image as in use, so the pool keeps containers of it from now on.
    func take(for payload: RunPayload) async -> WarmContainer? {
        guard accepts(payload), !stopped else { return nil }
        inUse.insert(payload.image)
        defer { scheduleRefill(payload.image) }
        guard var containers = idle[payload.image], !containers.isEmpty else { return nil }
        let container = containers.removeFirst()
        idle[payload.image] = containers
        let nanoCPUs = SandboxSpec.nanoCPUs(for: payload)
        if payload.memoryBytes != template.memoryBytes || nanoCPUs != SandboxSpec.nanoCPUs(for: template)
            || payload.cpuShares != template.cpuShares
        {
            do {
                try await docker.updateContainer(
                    container.id,
                    memory: payload.memoryBytes,
                    nanoCPUs: nanoCPUs,
                    cpuShares: payload.cpuShares
                )
            } catch {
                logger.info("warm container could not be adjusted; cold path", metadata: ["error": "\(error)"])
                discard(container)
                return nil
            }
        }
        return container
    }

    /// Starts keeping warm containers of `image` (e.g. the default runtime at worker start).
    func warmUp(_ image: String) {
        guard size > 0 else { return }
        inUse.insert(image)
        scheduleRefill(image)
    }

    /// Removes every idle container and stops refilling (worker shutdown).
    func drain() async {
        stopped = true
        for task in refills.values { await task.value }
        let all = idle.values.flatMap { $0 }
        idle = [:]
        for container in all {
            container.abandon()
            try? await docker.removeContainer(container.id)
        }
    }

    var idleCount: Int { idle.values.reduce(0) { $0 + $1.count } }

    private func scheduleRefill(_ image: String) {
        guard refills[image] == nil, !stopped else { return }
        refills[image] = Task { await refill(image) }
    }

    private func refill(_ image: String) async {
        defer { refills[image] = nil }
        while !stopped, (idle[image]?.count ?? 0) < size, await mayRefill() {
            var payload = template
            payload.image = image
            let config = SandboxSpec.container(
                for: payload,
                jobID: identity.jobID,
                workerID: identity.workerID,
                deploymentID: identity.deploymentID,
                host: identity.host,
                runtime: ociRuntime,
                command: prestart ? [Self.prestartArgument] : nil
            )
            do {
                let container = try await WarmContainer.prepare(config, docker: docker)
                if stopped {
                    container.abandon()
                    try? await docker.removeContainer(container.id)
                    return
                }
                idle[image, default: []].append(container)
            } catch {
                logger.warning("could not prepare a warm container", metadata: ["image": "\(image)", "error": "\(error)"])
                return
            }
        }
    }

    private func discard(_ container: WarmContainer) {
        container.abandon()
        Task { [docker] in try? await docker.removeContainer(container.id) }
    }
}
