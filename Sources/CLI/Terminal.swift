import ArgumentParser
import CodeRunnerClient
import Foundation

/// Writing to the standard streams, JSON output, and turning service errors into exit codes.
enum Terminal {
    static func write(_ text: String, to handle: FileHandle = .standardOutput) {
        guard !text.isEmpty else { return }
        handle.write(Data(text.utf8))
    }

    static func writeLine(_ text: String, to handle: FileHandle = .standardOutput) {
        write(text + "\n", to: handle)
    }

    /// A message on stderr, prefixed with the command's name.
    static func complain(_ text: String) {
        writeLine("code-runner: \(text)", to: .standardError)
    }

    /// Pretty-printed JSON of `value` on stdout.
    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        writeLine(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func isTerminal(_ descriptor: Int32) -> Bool { isatty(descriptor) == 1 }

    /// Runs `body`; a ``CodeRunnerError`` is reported on stderr and ends the command with
    /// its exit code.
    static func reportingErrors<T>(_ body: () async throws(CodeRunnerError) -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            complain(error.description)
            throw ExitCode(exitCode(for: error))
        }
    }

    /// The exit code of a service error (sysexits-style; see the command's help).
    static func exitCode(for error: CodeRunnerError) -> Int32 {
        switch error {
        case .invalidRequest: 65
        case .notFound: 66
        case .serviceUnavailable, .rateLimited, .transport: 69
        case .server, .decoding: 70
        case .conflict: 75
        case .unauthorized: 77
        case .timedOut: 124
        case .cancelled: 130
        case .prebuildFailed: 1
        }
    }

    /// A date as `2026-11-26 23:31:32Z`, or `-`.
    static func format(_ date: Date?) -> String {
        guard let date else { return "-" }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime, .withTimeZone]
        return formatter.string(from: date)
    }

    /// `text` padded with spaces to `width` characters.
    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
