import ArgumentParser
import Foundation
import Queue
import Worker

/// `code-runner-worker`: claims jobs from the SQLite queue and runs them in Docker containers.
/// Configured by the same environment variables (and `.env`) as the API. The benchmarks and the
/// queue probe of the tests live in `code-runner-bench`, not in this production binary.
@main
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "code-runner-worker",
        abstract: "Runs queued code-execution jobs in hardened Docker containers.",
        subcommands: [Serve.self, ProxyHelperCommand.self],
        defaultSubcommand: Serve.self
    )
}

/// The worker proper (the default subcommand).
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Claim and run jobs until SIGTERM (default)."
    )

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
        try await WorkerEntry.serve(settings: effective, workerID: id, drainTimeout: .seconds(drainSeconds))
    }
}

/// What squid runs as the allowlist proxy's helpers (`ProxyConfiguration`): answers squid's
/// questions about grants on standard input until squid closes it. Not for people.
struct ProxyHelperCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy-helper",
        abstract: "Answer the allowlist proxy's helper protocol (run by squid).",
        shouldDisplay: false
    )

    @Argument(help: "auth, host or sni.")
    var mode: String

    @Argument(help: "The directory of the grants.")
    var grantsDirectory: String

    func run() throws {
        guard let mode = ProxyHelper.Mode(rawValue: mode) else {
            throw ValidationError("mode must be one of: \(ProxyHelper.Mode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        ProxyHelper.serve(mode: mode, grantsDirectory: grantsDirectory)
    }
}
