/// What one execution produced: the body of a `CodeExecutionResponse` without the job id.
///
/// A non-zero exit, a timeout or an out-of-memory kill is still a result (the run happened);
/// only infrastructure failures become a `JobFailure` instead.
public struct RunResult: Codable, Sendable, Equatable {
    public var stdout: String
    public var stderr: String
    /// The program's exit status; -1 when the run timed out.
    public var exitCode: Int
    /// Seconds from code delivery to the program's end, rounded to 4 decimals.
    public var executionTime: Double
    /// What the program set through the SDK, or nil.
    public var metadata: JSONValue?
    public var timedOut: Bool
    public var oomKilled: Bool
    public var stdoutTruncated: Bool
    public var stderrTruncated: Bool

    public init(
        stdout: String, stderr: String, exitCode: Int, executionTime: Double,
        metadata: JSONValue? = nil, timedOut: Bool = false, oomKilled: Bool = false,
        stdoutTruncated: Bool = false, stderrTruncated: Bool = false
    ) {
        self.stdout = stdout
        self.stderr = stderr
        self.exitCode = exitCode
        self.executionTime = executionTime
        self.metadata = metadata
        self.timedOut = timedOut
        self.oomKilled = oomKilled
        self.stdoutTruncated = stdoutTruncated
        self.stderrTruncated = stderrTruncated
    }
}

/// Why the system could not run a job: the HTTP status and `detail` that `POST /run` answers
/// with, stored on the failed job so that `GET /jobs/{id}` reports the same.
public struct JobFailure: Codable, Sendable, Equatable, Error {
    public var statusCode: Int
    public var detail: String

    public init(statusCode: Int, detail: String) {
        self.statusCode = statusCode
        self.detail = detail
    }

    /// The failure recorded when a job's worker vanished and its attempts ran out.
    public static let workerLost = JobFailure(
        statusCode: 500, detail: "An unexpected error occurred: worker lost")
}
