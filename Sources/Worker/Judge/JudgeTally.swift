import Queue

/// Turns a judge run's records into verdicts as they arrive, and the run's end into its
/// `JudgeReport`. A plain value (the `JudgeOutputCollector` holds it under its lock), unit-tested
/// without I/O.
///
/// A case's verdict, in this order: its own timeout or the run's deadline → time limit; the
/// OOM killer → memory limit; more than `MAX_OUTPUT_BYTES` on stdout or stderr → output limit;
/// a non-zero exit status → runtime error; an `expected_output` that `compare` does not match →
/// wrong answer; else accepted.
struct JudgeTally {
    let judge: JudgePayload
    /// Each case's stdout and stderr are shortened to this for the answer (the verdict is judged
    /// on what the supervisor sent, up to `MAX_OUTPUT_BYTES`).
    let displayCap: Int
    private(set) var build: (status: Int, wallMicroseconds: Int64, flags: JudgeRecordParser.CaseFlags)?
    private(set) var results: [CaseResult?]
    /// The supervisor's `done` came.
    private(set) var finished = false
    /// A case failed under `stop_on_first_failure`: the rest is not needed.
    private(set) var stoppedEarly = false
    /// The run's deadline ended the build or a case.
    private(set) var deadlineReached = false

    init(judge: JudgePayload, outputCap: Int) {
        self.judge = judge
        displayCap = max(4096, outputCap / max(1, judge.cases.count))
        results = Array(repeating: nil, count: judge.cases.count)
    }

    /// Whether nothing more is needed from the stream.
    var isComplete: Bool { finished || stoppedEarly }

    /// The build failed or ran out of time: no case runs.
    var buildFailed: Bool {
        guard let build else { return false }
        return build.status != 0 || build.flags.contains(.deadline)
    }

    mutating func take(_ record: JudgeRecordParser.Record) {
        switch record {
        case .build(let status, let wall, let flags):
            build = (status, wall, flags)
            if flags.contains(.deadline) { deadlineReached = true }
        case .done:
            finished = true
        case .testCase(let record):
            if record.flags.contains(.deadline) { deadlineReached = true }
            guard results.indices.contains(record.index), results[record.index] == nil, !stoppedEarly else { return }
            let result = verdict(of: record)
            results[record.index] = result
            if judge.stopOnFirstFailure && result.verdict != .accepted { stoppedEarly = true }
        }
    }

    /// One case's result from its record.
    func verdict(of record: JudgeRecordParser.CaseRecord) -> CaseResult {
        let item = judge.cases[record.index]
        let verdict: Verdict
        if record.flags.contains(.caseTimeout) || record.flags.contains(.deadline) {
            verdict = .timeLimitExceeded
        } else if record.flags.contains(.outOfMemory) {
            verdict = .memoryLimitExceeded
        } else if record.flags.contains(.stdoutOverflow) || record.flags.contains(.stderrOverflow) {
            verdict = .outputLimitExceeded
        } else if record.status != 0 {
            verdict = .runtimeError
        } else if let expected = item.expectedOutput, !judge.comparison.matches(record.stdout, expected: expected) {
            verdict = .wrongAnswer
        } else {
            verdict = .accepted
        }
        var stdout = CappedOutput(cap: displayCap)
        stdout.append(record.stdout)
        var stderr = CappedOutput(cap: displayCap)
        stderr.append(record.stderr)
        let shownStdout = stdout.text(endingWith: "")
        let shownStderr = stderr.text(endingWith: "")
        return CaseResult(
            name: item.name,
            verdict: verdict,
            exitCode: record.status,
            stdout: shownStdout.text,
            stderr: shownStderr.text,
            stdoutTruncated: shownStdout.truncated || record.flags.contains(.stdoutOverflow),
            stderrTruncated: shownStderr.truncated || record.flags.contains(.stderrOverflow),
            time: Self.seconds(record.wallMicroseconds),
            cpuTime: record.cpuMicroseconds.map(Self.seconds),
            memoryBytes: record.maxResidentBytes
        )
    }

    /// The report once the stream has ended.
    ///
    /// - Parameter interruption: why the stream ended before the supervisor's `done` (its
    ///   supervisor was killed, the container ran out of memory, or the worker's hard deadline
    ///   fired), or nil. The first case without a record is then the one that was running: it
    ///   gets `interruption.verdict`, with `interruption.note` as its stderr.
    func report(interruption: (verdict: Verdict, note: String)?) -> JudgeReport {
        // no case ran: the build failed, or the container ended before the build's record
        if buildFailed || build == nil {
            return JudgeReport(cases: judge.cases.map { CaseResult.notRun($0.name, .compileError) })
        }
        var running = finished || stoppedEarly ? nil : interruption
        let cases = judge.cases.enumerated().map { index, item in
            if let result = results[index] { return result }
            guard let interrupted = running else { return CaseResult.notRun(item.name, .skipped) }
            running = nil
            return CaseResult(name: item.name, verdict: interrupted.verdict, stderr: interrupted.note)
        }
        return JudgeReport(cases: cases)
    }

    static func seconds(_ microseconds: Int64) -> Double {
        (Double(microseconds) / 100).rounded() / 10_000
    }
}
