import ArgumentParser
import CodeRunnerClient

/// `code-runner jobs list|get|cancel`.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List, show and cancel your jobs.",
        subcommands: [List.self, Get.self, Watch.self, Cancel.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Your jobs, newest first.")

        @OptionGroup var connection: ConnectionOptions

        @Option(help: "Only jobs in this state (queued, running, completed, failed, cancelled).")
        var status: String?

        @Option(help: "At most this many (1-500, default 50).")
        var limit: Int?

        @Option(help: "Only jobs older than this job id.")
        var before: String?

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            var state: JobStatus?
            if let status {
                guard let known = JobStatus(rawValue: status) else {
                    throw ValidationError("--status must be one of: " + JobStatus.allCases.map(\.rawValue).joined(separator: ", "))
                }
                state = known
            }
            let client = connection.client()
            let jobs = try await Terminal.reportingErrors { () async throws(CodeRunnerError) in
                try await client.jobs(status: state, limit: limit, before: before)
            }
            if json { return try Terminal.printJSON(["jobs": jobs]) }
            let width = max(6, jobs.map(\.id.count).max() ?? 0)
            Terminal.writeLine(Terminal.pad("JOB ID", width) + " " + Terminal.pad("STATUS", 10) + " " + Terminal.pad("KIND", 9) + " CREATED")
            for job in jobs {
                Terminal.writeLine(
                    Terminal.pad(job.id, width) + " " + Terminal.pad(job.status.rawValue, 10) + " "
                        + Terminal.pad(job.kind ?? "-", 9) + " " + Terminal.format(job.createdAt)
                )
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One job: its status and, once completed, its result.")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The job id.")
        var id: String

        @Option(help: "Wait up to this many seconds for the job to end.")
        var wait: Int?

        @Flag(help: "Print the job as JSON.")
        var json = false

        func run() async throws {
            let client = connection.client()
            let job = try await Terminal.reportingErrors { () async throws(CodeRunnerError) in
                if let wait {
                    do throws(CodeRunnerError) {
                        return try await client.wait(id: id, timeout: .seconds(wait))
                    } catch .timedOut {
                        return try await client.job(id: id)
                    }
                }
                return try await client.job(id: id)
            }
            if json { return try Terminal.printJSON(job) }
            Terminal.writeLine("job:      \(job.id)")
            Terminal.writeLine("status:   \(job.status.rawValue)")
            Terminal.writeLine("created:  \(Terminal.format(job.createdAt))")
            Terminal.writeLine("started:  \(Terminal.format(job.startedAt))")
            Terminal.writeLine("finished: \(Terminal.format(job.finishedAt))")
            if let failure = job.error { Terminal.writeLine("error:    \(failure.statusCode) \(failure.detail)") }
            if let callback = job.callback {
                let attempts = "\(callback.attempts) attempt\(callback.attempts == 1 ? "" : "s")"
                Terminal.writeLine("callback: \(callback.url)")
                Terminal.writeLine("delivery: \(callback.status.rawValue), \(attempts)")
                if let lastError = callback.lastError { Terminal.writeLine("          last error: \(lastError)") }
            }
            if let result = job.result {
                Terminal.writeLine(
                    "exit:     \(result.exitCode)\(result.timedOut ? " (timed out)" : "")\(result.oomKilled ? " (out of memory)" : "")"
                )
                Terminal.writeLine("time:     \(result.executionTime) s")
                // A judged run's streams are its build's; its cases are in the table.
                let step = result.verdict == nil ? "" : "build "
                if result.verdict != nil {
                    for line in JudgeReport.lines(for: result) { Terminal.writeLine(line) }
                }
                Terminal.writeLine("--- \(step)stdout ---")
                Terminal.write(result.stdout)
                if !result.stderr.isEmpty {
                    Terminal.writeLine("--- \(step)stderr ---")
                    Terminal.write(result.stderr)
                }
            }
        }
    }

    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a job's output as it runs (GET /jobs/{id}/events), then end with its exit code.",
            discussion: """
                A job that has ended replays its output. With --after (an event id the service \
                gave, <attempt>:<stdout_bytes>:<stderr_bytes>) only what came after it is printed. \
                The exit code is the program's (124 when it timed out).
                """
        )

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The job id.")
        var id: String

        @Option(help: ArgumentHelp("Resume after this event id.", valueName: "event-id"))
        var after: String?

        func run() async throws {
            let client = connection.client()
            let result = try await Terminal.reportingErrors { () async throws(CodeRunnerError) in
                try await LiveOutput.follow(client.events(jobID: id, after: after))
            }
            if result.timedOut { Terminal.complain("the program timed out") }
            let status: Int32 = result.timedOut ? 124 : Int32(truncatingIfNeeded: result.exitCode)
            if status != 0 { throw ExitCode(status) }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a queued job or kill a running one.")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The job id.")
        var id: String

        func run() async throws {
            let client = connection.client()
            let job = try await Terminal.reportingErrors { () async throws(CodeRunnerError) in try await client.cancel(id: id) }
            Terminal.writeLine("\(job.id) \(job.status.rawValue)")
        }
    }
}
