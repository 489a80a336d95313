import ArgumentParser
import CodeRunnerClient
import Foundation

/// `code-runner prebuild <tag> --runtime python --setup 'pip install requests'`: builds an image
/// and shows its progress on stderr while the service builds it.
struct PrebuildBuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build a prebuilt image, showing progress until it is ready or has failed."
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The tag: lowercase letters, digits, '.', '_' and '-'; the image is prebuilt-<tag>.")
    var tag: String

    @Option(name: .shortAndLong, help: "The runtime to start from.")
    var runtime: String = "python"

    @Option(help: "The setup script, inline (e.g. 'pip install requests').")
    var setup: String?

    @Option(help: "A file holding the setup script ('-' for standard input).")
    var script: String?

    @Flag(help: "Print the built image as JSON.")
    var json = false

    func validate() throws {
        guard (setup == nil) != (script == nil) else { throw ValidationError("Give the setup script with exactly one of --setup or --script.") }
    }

    func run() async throws {
        let request = PrebuildRequest(tag: tag, baseImage: Runtime(rawValue: runtime), setupScript: try setupScript())
        let client = connection.client()
        let prebuild = try await Terminal.reportingErrors { () async throws(CodeRunnerError) in
            try await Self.build(request, with: client)
        }
        if json { return try Terminal.printJSON(prebuild) }
        Terminal.writeLine("\(prebuild.tag) \(prebuild.status?.rawValue ?? "ready") (\(Self.size(prebuild.sizeBytes)))")
    }

    /// Starts the build and, until it ends, reports its status on stderr every second.
    static func build(_ request: PrebuildRequest, with client: CodeRunnerClient) async throws(CodeRunnerError) -> Prebuild {
        let progress = Task { await follow(tag: request.tag, with: client) }
        do throws(CodeRunnerError) {
            let prebuild = try await client.createPrebuild(request)
            progress.cancel()
            await progress.value
            Terminal.writeLine("prebuild: \(prebuild.tag) ready", to: .standardError)
            return prebuild
        } catch {
            progress.cancel()
            await progress.value
            Terminal.writeLine("prebuild: \(ImageName.prebuilt(request.tag)) failed", to: .standardError)
            throw error
        }
    }

    /// Polls `GET /prebuilds/{tag}` and prints the status and elapsed time: on one rewritten
    /// line on a terminal, else a line per change and every 10 seconds.
    private static func follow(tag: String, with client: CodeRunnerClient) async {
        let interactive = Terminal.isTerminal(STDERR_FILENO)
        let start = ContinuousClock.now
        var lastLine = ""
        var lastPrinted = -10
        while !Task.isCancelled {
            let elapsed = Int((ContinuousClock.now - start).components.seconds)
            let status = (try? await client.prebuild(tag: tag)).flatMap(\.status)?.rawValue ?? "starting"
            if Task.isCancelled { break }
            let line = "prebuild: \(ImageName.prebuilt(tag)) \(status) \(elapsed)s"
            if interactive {
                Terminal.write("\r\u{1B}[K" + line, to: .standardError)
            } else if status != lastLine || elapsed - lastPrinted >= 10 {
                Terminal.writeLine(line, to: .standardError)
                lastLine = status
                lastPrinted = elapsed
            }
            try? await Task.sleep(for: .seconds(1))
        }
        if interactive { Terminal.write("\r\u{1B}[K", to: .standardError) }
    }

    private func setupScript() throws -> String {
        if let setup { return setup }
        let path = script ?? "-"
        let data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: path)
        guard let data, let text = String(data: data, encoding: .utf8) else { throw ValidationError("Cannot read the script '\(path)'.") }
        return text
    }

    /// `12.3 MB`, or `-`.
    static func size(_ bytes: Int64?) -> String {
        guard let bytes else { return "-" }
        return String(format: "%.1f MB", Double(bytes) / 1_000_000)
    }
}
