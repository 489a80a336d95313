import ArgumentParser
import Foundation
import Logging
import Queue
import ServiceLifecycle

/// `code-runner-worker`: claims jobs from the SQLite queue and runs them in Docker containers.
/// Configured by the same environment variables (and `.env`) as the API.
@main
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "code-runner-worker",
        abstract: "Runs queued code-execution jobs in hardened Docker containers.",
        subcommands: [Serve.self, QueueProbe.self, QueueHopBench.self, LatencyBench.self],
        defaultSubcommand: Serve.self)
}

/// The worker proper (the default subcommand).
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Claim and run jobs until SIGTERM (default).")

    @Option(help: "This worker's id (default: a random one).")
    var workerID: String?

    @Option(help: "Concurrent runs (default: WORKER_CONCURRENCY).")
    var concurrency: Int?

    @Option(help: "Seconds a SIGTERM waits for running jobs before releasing them.")
    var drainSeconds: Int = 30

    func run() async throws {
        let settings: ServiceSettings
        do {
            settings = try await ServiceSettings.load()
        } catch let error as InvalidConfiguration {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode(1)
        }
        var effective = settings
        if let concurrency { effective.workerConcurrency = max(1, concurrency) }
        let id = workerID ?? "worker-\(UUID().uuidString.prefix(8).lowercased())"
        LogOutput.bootstrap(effective)
        let logger = Logger(label: "code-runner.worker.\(id)")
        let store = try SQLiteJobStore(path: effective.databasePath)
        let docker = DockerClient(socketPath: effective.dockerSocket)
        let service = WorkerService(
            store: store, settings: effective, docker: docker, workerID: id, logger: logger,
            drainTimeout: .seconds(drainSeconds))
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        await docker.shutdown()
    }
}
