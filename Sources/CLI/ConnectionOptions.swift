import ArgumentParser
import CodeRunnerClient
import Foundation

/// `--url` and `--api-key`, falling back to `CODE_RUNNER_URL` and `CODE_RUNNER_API_KEY`.
struct ConnectionOptions: ParsableArguments {
    static let defaultURL = "http://127.0.0.1:8000"

    @Option(help: "The service's address (env CODE_RUNNER_URL; default \(ConnectionOptions.defaultURL)).")
    var url: String?

    @Option(name: .customLong("api-key"), help: "The API key (env CODE_RUNNER_API_KEY).")
    var apiKey: String?

    /// A client for the chosen service.
    func client() -> CodeRunnerClient {
        let environment = ProcessInfo.processInfo.environment
        let address = url ?? environment["CODE_RUNNER_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultURL
        return CodeRunnerClient(baseURL: address, apiKey: apiKey ?? environment["CODE_RUNNER_API_KEY"])
    }
}
