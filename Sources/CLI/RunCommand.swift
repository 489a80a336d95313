import ArgumentParser
import CodeRunnerClient
import Foundation

/// `code-runner run main.py [more files…]`: runs a program and mirrors its output and exit code.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a program: print its stdout and stderr and exit with its exit code.",
        discussion: """
            The program's stdout and stderr are printed as it writes them (streamed from the \
            service), and the command exits once it has ended; should the worker running it be \
            lost, a note on stderr says so and the new attempt's output follows from its start. \
            --no-stream prints the output only once the run has ended; --json, --detach and --tests \
            never stream.

            The first file is the main file (or the one named by --main); the others are sent \
            alongside it, by their path relative to the main file's folder. The runtime comes from \
            the main file's extension: .py python, .js/.mjs/.cjs node, .ts deno (use --runtime bun \
            for Bun), .go go, .rs rust. Standard input is sent to the program when it is not a \
            terminal. A program that timed out exits with 124. With --allow-host the program \
            reaches only the hosts named, through the proxy its HTTP_PROXY and HTTPS_PROXY point \
            at (pip, curl, requests, Go and npm use it; Node's built-in fetch does not); direct \
            connections are refused. With --callback-url the service POSTs the finished job's JSON \
            to that URL, signed with its WEBHOOK_SECRET (the callback_url field of its OpenAPI \
            document says how to verify it); `code-runner jobs get` shows how the delivery stands. \
            With --output-file the files of the work directory that match the pattern come back \
            after the run (Python's matplotlib figures come back without asking); --output-dir \
            saves them there, by their path in the work directory.

            Judge mode: with --tests the program is built once and run once per test case, each \
            with its own standard input (ours is not read), and its output is compared with the \
            case's expected output. The file is a JSON array of cases, each with the optional keys \
            name, stdin, expected_output and timeout (seconds, may be fractional), e.g. \
            [{"name": "small", "stdin": "1 2\\n", "expected_output": "3\\n"}]; or an object \
            {"tests": [...], "compare": ..., "float_tolerance": ..., "stop_on_first_failure": ...} \
            whose settings the options override. A case without expected_output is accepted when \
            it exits 0 within its limits. The output is a table of the cases (verdict, time, \
            memory) and a line with the number passed and the overall verdict; the build's output \
            goes to stderr when the verdict is compile_error; --json prints the whole result. The \
            exit status is 0 when every case is accepted and 1 otherwise (wrong answer, compile \
            error, a case over its limits or skipped); a cases file that cannot be read or is not \
            such JSON is a usage error (64), and service errors keep their codes.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup(title: "Judge mode") var judge: JudgeOptions

    @Argument(help: "The main file, then any other files it needs.")
    var paths: [String]

    @Option(name: .shortAndLong, help: "The runtime (python, node, go, rust, deno, bun); default: from the main file's extension.")
    var runtime: String?

    @Option(help: "Which of the files is the main one (default: the first).")
    var main: String?

    @Option(help: "Run in this prebuilt image (its tag) instead of the runtime's image.")
    var prebuilt: String?

    @Option(help: "A shell command to run instead of the runtime's default entrypoint.")
    var entrypoint: String?

    @Option(help: "Seconds the program may run.")
    var timeout: Int?

    @Option(help: "Memory limit, e.g. 256m or 1g.")
    var memory: String?

    @Option(help: "CPU limit in cores, e.g. 0.5.")
    var cpus: Double?

    @Option(help: "Disk limit, e.g. 100m.")
    var disk: String?

    @Flag(help: "Let the program reach the network.")
    var network = false

    @Option(
        name: .customLong("allow-host"),
        help: ArgumentHelp(
            "Let the program reach this host only (repeatable): a name, *.domain or IPv4 range; implies network.",
            valueName: "entry"
        )
    )
    var allowedHosts: [String] = []

    @Option(name: .customLong("env"), help: "An environment variable NAME=VALUE (repeatable).")
    var environment: [String] = []

    @Option(
        name: .customLong("callback-url"),
        help: ArgumentHelp(
            "POST the finished job's JSON to this http(s) URL (a webhook; the service must have webhooks on).",
            valueName: "url"
        )
    )
    var callbackURL: String?

    @Option(
        name: .customLong("output-file"),
        help: ArgumentHelp(
            "Get back the work directory's files matching this glob after the run (repeatable; ** for any depth).",
            valueName: "pattern"
        )
    )
    var outputFiles: [String] = []

    @Option(
        help: ArgumentHelp(
            "Order this run among the API key's own jobs: 0 to 10, higher first, at most the key's priority (default: the key's).",
            valueName: "n"
        )
    )
    var priority: Int?

    @Option(name: .customLong("output-dir"), help: ArgumentHelp("Save the run's output files in this directory.", valueName: "dir"))
    var outputDirectory: String?

    @Flag(name: .customLong("no-stdin"), help: "Do not send standard input even when it is not a terminal.")
    var noStdin = false

    @Flag(name: .customLong("no-stream"), help: "Print the program's output once it has ended instead of as it comes.")
    var noStream = false

    @Flag(help: "Print the whole result as JSON instead of the program's output (the exit code stays as without --json).")
    var json = false

    @Flag(help: "Queue the job and print its id instead of waiting (see `code-runner jobs get --wait`).")
    var detach = false

    func validate() throws {
        guard !paths.isEmpty else { throw ValidationError("Name at least one file to run.") }
        if let main, !paths.contains(main) { throw ValidationError("--main '\(main)' is not one of the files.") }
        if judge.isEnabled && !outputFiles.isEmpty { throw ValidationError("--output-file cannot be combined with --tests.") }
        if let priority, !(0...10).contains(priority) { throw ValidationError("--priority must be from 0 to 10.") }
        for entry in environment where !entry.contains("=") {
            throw ValidationError("--env '\(entry)' is not NAME=VALUE.")
        }
    }

    func run() async throws {
        let request = try makeRequest()
        let client = connection.client()
        if detach {
            let job = try await Terminal.reportingErrors { () async throws(CodeRunnerError) in try await client.submit(request) }
            Terminal.writeLine(job.id)
            return
        }
        if judge.isEnabled {
            let result = try await Terminal.reportingErrors { () async throws(CodeRunnerError) in try await client.run(request) }
            return try report(judged: result)
        }
        let result: ExecutionResult
        if json || noStream {
            result = try await Terminal.reportingErrors { () async throws(CodeRunnerError) in try await client.run(request) }
            if json {
                try Terminal.printJSON(result)
            } else {
                Terminal.write(result.stdout)
                Terminal.write(result.stderr, to: .standardError)
            }
        } else {
            result = try await Terminal.reportingErrors { () async throws(CodeRunnerError) in try await LiveOutput.run(request, on: client) }
        }
        try finish(with: result)
    }

    /// What follows a run's output: notes on how it ended, its files, and its exit code.
    private func finish(with result: ExecutionResult) throws {
        if result.timedOut { Terminal.complain("the program timed out") }
        if result.oomKilled { Terminal.complain("the program ran out of memory") }
        if result.stdoutTruncated || result.stderrTruncated { Terminal.complain("output was truncated by the service") }
        try saveOutputFiles(of: result)
        let status: Int32 = result.timedOut ? 124 : Int32(truncatingIfNeeded: result.exitCode)
        if status != 0 { throw ExitCode(status) }
    }

    /// Saves the result's files under `--output-dir`, or says how many came back unsaved.
    private func saveOutputFiles(of result: ExecutionResult) throws {
        let files = result.files ?? []
        if result.filesTruncated { Terminal.complain("some output files were left out by the service's caps") }
        guard !files.isEmpty else {
            if !outputFiles.isEmpty { Terminal.complain("no file matched --output-file") }
            return
        }
        guard let outputDirectory else {
            if !outputFiles.isEmpty { Terminal.complain("\(files.count) output file(s) came back; --output-dir saves them") }
            return
        }
        do {
            let written = try OutputFileSaver.save(files, under: outputDirectory)
            Terminal.complain("saved \(written.count) output file(s) in \(outputDirectory)")
        } catch {
            Terminal.complain("could not save the output files: \(error)")
            throw ExitCode(73)
        }
    }

    /// Prints a judge-mode result (the table, or JSON); exits 0 only when every case was accepted.
    private func report(judged result: ExecutionResult) throws {
        guard let verdict = result.verdict else {
            Terminal.complain("the service answered without a verdict: it does not support --tests")
            throw ExitCode(70)
        }
        if json {
            try Terminal.printJSON(result)
        } else {
            if verdict == .compileError {
                Terminal.write(result.stdout, to: .standardError)
                Terminal.write(result.stderr, to: .standardError)
            }
            for line in JudgeReport.lines(for: result) { Terminal.writeLine(line) }
        }
        if result.timedOut { Terminal.complain("the run timed out (--timeout bounds the build and all the cases together)") }
        if verdict == .compileError, result.oomKilled { Terminal.complain("the build ran out of memory") }
        if !result.allAccepted { throw ExitCode(1) }
    }

    /// The request the files and options describe.
    func makeRequest() throws -> RunRequest {
        let mainPath = main ?? paths[0]
        let fileExtension = URL(fileURLWithPath: mainPath).pathExtension
        guard let runtime = runtime.map(Runtime.init(rawValue:)) ?? SourceFiles.runtime(forExtension: fileExtension) else {
            throw ValidationError("Cannot tell the runtime of '\(mainPath)' from its extension: pass --runtime.")
        }
        let sources = try SourceFiles.load(paths: paths, mainPath: mainPath, runtime: runtime)
        var variables: [String: String] = [:]
        for entry in environment {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            variables[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        var request = RunRequest(
            runtime: runtime,
            code: sources.code,
            files: sources.files.isEmpty ? nil : sources.files,
            stdin: judge.isEnabled ? nil : readStandardInput(),
            entrypoint: entrypoint,
            timeout: timeout,
            memoryLimit: memory,
            cpus: cpus,
            diskLimit: disk,
            allowNetwork: network ? true : nil,
            allowedHosts: allowedHosts.isEmpty ? nil : allowedHosts,
            environment: variables.isEmpty ? nil : variables,
            callbackURL: callbackURL,
            outputFiles: outputFiles.isEmpty ? nil : outputFiles,
            priority: priority
        )
        if let prebuilt { request.image = ImageName.prebuilt(prebuilt) }
        try judge.apply(to: &request)
        return request
    }

    /// Everything on standard input when it is a pipe or a file, else nothing.
    private func readStandardInput() -> String? {
        guard !noStdin, !Terminal.isTerminal(STDIN_FILENO) else { return nil }
        let data = FileHandle.standardInput.readDataToEndOfFile()
        return data.isEmpty ? nil : String(decoding: data, as: UTF8.self)
    }
}
