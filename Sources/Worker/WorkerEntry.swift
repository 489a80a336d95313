import Logging
import Queue
import ServiceLifecycle

/// The worker library's entry point: `code-runner-worker serve` is argument parsing around
/// `WorkerEntry.serve`. Everything else in the library stays internal.
public enum WorkerEntry {
    /// Claims and runs jobs from the queue the settings name (`JobStores.open`) in containers on
    /// `settings.dockerSocket` until SIGTERM or SIGINT, then drains: running jobs get
    /// `drainTimeout` to finish before their leases are released.
    ///
    /// The caller has bootstrapped logging (`LogOutput.bootstrap`) and applied its overrides
    /// (e.g. `workerConcurrency`) to `settings`.
    public static func serve(settings: ServiceSettings, workerID: String, drainTimeout: Duration) async throws {
        let logger = Logger(label: "code-runner.worker.\(workerID)")
        let store = try await JobStores.open(settings: settings, logger: logger)
        let docker = DockerClient(socketPath: settings.dockerSocket)
        let service = WorkerService(
            store: store,
            settings: settings,
            docker: docker,
            workerID: workerID,
            logger: logger,
            drainTimeout: drainTimeout
        )
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            await docker.shutdown()
            throw error
        }
        await docker.shutdown()
    }
}
