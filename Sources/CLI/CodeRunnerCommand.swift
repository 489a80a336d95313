import ArgumentParser

/// `code-runner`: the command-line client of Code Runner.
@main
struct CodeRunnerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "code-runner",
        abstract: "Run code on a Code Runner service and manage its jobs and prebuilt images.",
        discussion: """
            The service is found through --url (or CODE_RUNNER_URL, default \(ConnectionOptions.defaultURL)) \
            and the key through --api-key (or CODE_RUNNER_API_KEY).

            Exit codes: `run` exits with the program's own exit code (124 when it timed out); \
            `run --tests` with 0 when every case is accepted, else 1. \
            Service errors: 64 usage, 65 invalid request, 66 not found, 69 service unreachable, \
            unavailable or rate limited, 70 server error, 75 conflict, 77 unauthorized, \
            1 other failures (e.g. a failed prebuild).
            """,
        subcommands: [RunCommand.self, JobsCommand.self, PrebuildCommand.self, HealthCommand.self, RuntimesCommand.self]
    )
}
