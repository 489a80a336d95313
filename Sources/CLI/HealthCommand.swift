import ArgumentParser
import CodeRunnerClient

/// `code-runner health`: exits 0 when the service can run code, 1 when it is degraded.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Show whether the service can run code (exit 0 when ok, 1 when degraded)."
    )

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let client = connection.client()
        let health = try await Terminal.reportingErrors { () async throws(CodeRunnerError) in try await client.health() }
        if json {
            try Terminal.printJSON(health)
        } else {
            Terminal.writeLine("status:  \(health.status)")
            Terminal.writeLine("docker:  \(health.dockerConnected ? "connected" : "not connected")")
            Terminal.writeLine("workers: \(health.workers)")
            for host in health.hosts {
                Terminal.writeLine("  \(host.host): \(host.workers) workers, \(host.busy) of \(host.slots) slots busy")
            }
            Terminal.writeLine("queue:   \(health.queue.queued) queued, \(health.queue.running) running")
            Terminal.writeLine("auth:    \(health.authEnabled ? "enabled" : "disabled")")
        }
        if !health.isOK { throw ExitCode(1) }
    }
}
