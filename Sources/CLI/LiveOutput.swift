import CodeRunnerClient
import Foundation

/// `run`'s live output: the program's stdout and stderr written to ours as the service streams
/// them (one write per event, so nothing waits in a buffer), and a note when a lost worker's
/// attempt starts again.
struct LiveOutput {
    /// What this attempt printed on each stream, to print only the rest of the final result's.
    private var printed: [OutputChannel: String] = [:]

    /// Runs `request` through ``CodeRunnerClient/runStreaming(_:)``, printing its output as it
    /// comes, and returns the result, whose stdout and stderr have then been printed.
    /// - Throws: the error ``CodeRunnerClient/run(_:)`` would throw (a failed or cancelled job too).
    static func run(_ request: RunRequest, on client: CodeRunnerClient) async throws(CodeRunnerError) -> ExecutionResult {
        try await follow(client.runStreaming(request))
    }

    /// Prints a job's event stream (``CodeRunnerClient/events(jobID:after:)`` or a run's) as it
    /// comes, and returns the job's result once its `result` event arrives.
    static func follow(_ events: AsyncThrowingStream<JobEvent, any Error>) async throws(CodeRunnerError) -> ExecutionResult {
        var output = LiveOutput()
        do {
            for try await event in events {
                if case .result(let job) = event.kind {
                    let result = try job.outcome()
                    output.printRest(of: result)
                    return result
                }
                output.show(event)
            }
        } catch let error as CodeRunnerError {
            throw error
        } catch {
            throw .transport("the job's event stream: \(error)")
        }
        throw Task.isCancelled ? .cancelled : .transport("the job's event stream ended before its result")
    }

    /// Prints an output event on its stream; notes a retry, whose output starts again.
    mutating func show(_ event: JobEvent) {
        switch event.kind {
        case .output(let chunk):
            write(chunk.text, on: chunk.channel)
        case .status(let update) where update.isRetry:
            printed = [:]
            let attempt = update.attempt.map { " (attempt \($0))" } ?? ""
            Terminal.complain("the worker running this job was lost; its output starts again\(attempt)")
        case .status, .result:
            break
        }
    }

    /// Prints what the result's output has beyond what the stream delivered (the service's
    /// stream normally delivers all of it).
    mutating func printRest(of result: ExecutionResult) {
        for (channel, text) in [(OutputChannel.stdout, result.stdout), (.stderr, result.stderr)] {
            let shown = printed[channel, default: ""]
            guard text.utf8.starts(with: shown.utf8) else {
                Terminal.complain("the live \(channel.rawValue) differs from the job's result (`code-runner jobs get \(result.jobID)` shows it)")
                continue
            }
            write(String(decoding: text.utf8.dropFirst(shown.utf8.count), as: UTF8.self), on: channel)
        }
    }

    private mutating func write(_ text: String, on channel: OutputChannel) {
        printed[channel, default: ""] += text
        Terminal.write(text, to: channel == .stdout ? .standardOutput : .standardError)
    }
}
