import CodeRunnerClient
import Foundation
import Testing

/// The service under test: `CODE_RUNNER_URL` and `CODE_RUNNER_API_KEY` (see
/// scripts/run-client-tests.sh). Without `CODE_RUNNER_URL` every test is skipped, saying why.
enum Service {
    static let url = ProcessInfo.processInfo.environment["CODE_RUNNER_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let apiKey = ProcessInfo.processInfo.environment["CODE_RUNNER_API_KEY"]

    static var isConfigured: Bool { url != nil }

    static let skipReason: Comment = "CODE_RUNNER_URL is not set: these tests need a running service (scripts/run-client-tests.sh starts one)"

    /// A client with the test key.
    static var client: CodeRunnerClient {
        CodeRunnerClient(baseURL: url ?? "http://127.0.0.1:9", apiKey: apiKey)
    }

    /// A client with a key the service does not accept.
    static var clientWithWrongKey: CodeRunnerClient {
        CodeRunnerClient(baseURL: url ?? "http://127.0.0.1:9", apiKey: "not-the-key")
    }

    /// A Python program that runs until it is killed.
    static let sleeper = "import time\nprint('started', flush=True)\ntime.sleep(300)\n"
}

extension Trait where Self == ConditionTrait {
    /// Runs the test only against a configured service.
    static var needsService: Self { .enabled(if: Service.isConfigured, Service.skipReason) }
}

/// The error `body` throws, or `nil` when it returns.
func thrownError<T>(_ body: () async throws(CodeRunnerError) -> T) async -> CodeRunnerError? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error
    }
}
