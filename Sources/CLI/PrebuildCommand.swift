import ArgumentParser
import CodeRunnerClient
import Foundation

/// `code-runner prebuild [build] <tag> …`, `prebuild list|get|delete|cleanup`.
struct PrebuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prebuild",
        abstract: "Build and manage prebuilt images (a runtime plus a setup script run once).",
        subcommands: [PrebuildBuildCommand.self, List.self, Get.self, Delete.self, Cleanup.self],
        defaultSubcommand: PrebuildBuildCommand.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The prebuilt images this service built.")

        @OptionGroup var connection: ConnectionOptions

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let client = connection.client()
            let prebuilds = try await Terminal.reportingErrors { () async throws(CodeRunnerError) in try await client.prebuilds() }
            if json { return try Terminal.printJSON(["prebuilds": prebuilds]) }
            let width = max(3, prebuilds.map(\.tag.count).max() ?? 0)
            Terminal.writeLine(Terminal.pad("TAG", width) + " " + Terminal.pad("STATUS", 9) + " " + Terminal.pad("BASE", 20) + " SIZE")
            for prebuild in prebuilds {
                Terminal.writeLine(
                    Terminal.pad(prebuild.tag, width) + " " + Terminal.pad(prebuild.status?.rawValue ?? "-", 9) + " "
                        + Terminal.pad(prebuild.baseImage, 20) + " " + PrebuildBuildCommand.size(prebuild.sizeBytes)
                )
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One prebuilt image with its status and build log.")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The tag (with or without its prebuilt- prefix).")
        var tag: String

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let client = connection.client()
            let prebuild = try await Terminal.reportingErrors { () async throws(CodeRunnerError) in try await client.prebuild(tag: tag) }
            if json { return try Terminal.printJSON(prebuild) }
            Terminal.writeLine("tag:    \(prebuild.tag)")
            Terminal.writeLine("status: \(prebuild.status?.rawValue ?? "-")")
            Terminal.writeLine("base:   \(prebuild.baseImage)")
            Terminal.writeLine("size:   \(PrebuildBuildCommand.size(prebuild.sizeBytes))")
            if let log = prebuild.buildLog, !log.isEmpty { Terminal.writeLine("--- build log ---\n\(log)") }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a prebuilt image.")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The tag (with or without its prebuilt- prefix).")
        var tag: String

        func run() async throws {
            let client = connection.client()
            try await Terminal.reportingErrors { () async throws(CodeRunnerError) in try await client.deletePrebuild(tag: tag) }
            Terminal.writeLine("deleted \(tag)")
        }
    }

    struct Cleanup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove prebuilt images neither built nor used for a while.")

        @OptionGroup var connection: ConnectionOptions

        @Option(help: "Age in days (default: the service's CLEANUP_MAX_AGE_DAYS).")
        var maxAgeDays: Int?

        func run() async throws {
            let client = connection.client()
            let cleanup = try await Terminal.reportingErrors { () async throws(CodeRunnerError) in
                try await client.cleanupPrebuilds(maxAgeDays: maxAgeDays)
            }
            Terminal.writeLine("removed \(cleanup.count)" + (cleanup.removed.isEmpty ? "" : ": " + cleanup.removed.joined(separator: ", ")))
        }
    }
}
