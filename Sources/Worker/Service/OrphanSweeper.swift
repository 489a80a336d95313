import Logging
import Queue

/// Removes this deployment's containers that no live run owns: leftovers of a worker that was
/// killed (a restarted process with the same worker id included, told apart by
/// `SandboxSpec.processLabel`), or of a removal that failed. Other deployments' containers are
/// never touched, and neither are other hosts' (`SandboxSpec.hostLabel`: hosts that share one
/// engine, as the multi-host test's do, each sweep their own; a container from before the label
/// counts as this host's).
struct OrphanSweeper: Sendable {
    let docker: DockerClient
    /// Who is alive: the sweep reads the live workers, nothing else.
    let store: any QueueDatabase
    let deploymentID: String
    let workerID: String
    /// This worker's host (`WORKER_HOST`).
    var host: String = ServiceSettings.machineHostName
    let liveWithin: Double
    let logger: Logger

    /// - Parameter running: reads the public ids of the jobs this worker is running. It is read
    ///   after the containers are listed, never before: a job claimed between a snapshot and the
    ///   listing would have its fresh container taken for an orphan and removed under it (the
    ///   engine's "container is marked for removal and cannot be started", seen under load).
    /// - Returns: how many containers were removed.
    @discardableResult
    func sweep(running: @Sendable () async -> Set<String>) async -> Int {
        var removed = 0
        do {
            let containers = try await docker.containers(withLabel: "\(SandboxSpec.deploymentLabel)=\(deploymentID)")
            guard !containers.isEmpty else { return 0 }
            let running = await running()
            let liveWorkers = Set(try await store.liveWorkers(within: liveWithin).map(\.id))
            // Just after the database was away, nobody's heartbeat is recent: judge nobody else.
            let judgeOthers = !store.hadOutage(within: liveWithin)
            for container in containers {
                let labels = container.labels ?? [:]
                if let containerHost = labels[SandboxSpec.hostLabel], containerHost != host { continue }
                let owner = labels[SandboxSpec.workerLabel] ?? ""
                let job = labels[SandboxSpec.jobLabel] ?? ""
                // This process's warm, build and running containers are its own business (removed
                // after use or at shutdown); a dead worker's are swept like everything else it
                // left, and so are those of a killed earlier process with this worker's id.
                let ownProcess = labels[SandboxSpec.processLabel] == SandboxSpec.processToken
                let ownContainer =
                    ownProcess && (job == WarmPool.jobLabel || job == BuildSandboxSpec.jobLabel || running.contains(job))
                let orphaned = owner == workerID ? !ownContainer : judgeOthers && !liveWorkers.contains(owner)
                guard orphaned else { continue }
                try await docker.removeContainer(container.id)
                removed += 1
                logger.info(
                    "removed orphaned container",
                    metadata: ["container": "\(container.id.prefix(12))", "job": "\(job)", "worker": "\(owner)"]
                )
            }
        } catch {
            logger.warning("orphan sweep failed", metadata: ["error": "\(error)"])
        }
        return removed
    }
}
