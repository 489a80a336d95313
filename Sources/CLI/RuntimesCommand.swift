import ArgumentParser
import CodeRunnerClient

/// `code-runner runtimes`: the runtimes and whether each can run now.
struct RuntimesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runtimes", abstract: "List the runtimes the service offers.")

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print JSON.")
    var json = false

    @Flag(help: "Also list what each image carries, one \"name version\" per line.")
    var packages = false

    func run() async throws {
        let client = connection.client()
        let runtimes = try await Terminal.reportingErrors { () async throws(CodeRunnerError) in try await client.runtimes() }
        if json { return try Terminal.printJSON(runtimes) }
        for runtime in runtimes {
            let availability = runtime.available == false ? "unavailable" : "available"
            Terminal.writeLine(
                Terminal.pad(runtime.runtime.rawValue, 7) + " " + Terminal.pad(runtime.mainFile, 11) + " "
                    + Terminal.pad(availability, 11) + " " + runtime.defaultEntrypoint
            )
            if packages {
                for package in runtime.packages ?? [] {
                    Terminal.writeLine("        " + Terminal.pad(package.name, 15) + " " + package.version)
                }
            }
        }
    }
}
