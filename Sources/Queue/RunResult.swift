import Foundation

/// What one execution produced: the body of a `CodeExecutionResponse` without the job id.
///
/// A non-zero exit, a timeout or an out-of-memory kill is still a result (the run happened);
/// only infrastructure failures become a `JobFailure` instead.
public struct RunResult: Codable, Sendable, Equatable {
    public var stdout: String
    public var stderr: String
    /// The program's exit status; -1 when the run timed out.
    public var exitCode: Int
    /// Wall-clock seconds the program ran: from the moment its input was delivered (its start)
    /// to its end (exit, the deadline's kill or an OOM kill), rounded to 4 decimals. Queueing,
    /// container creation and removal are not counted (the original service counted them).
    /// The client (`ExecutionResult.executionTime`), the OpenAPI document and the README say
    /// the same.
    public var executionTime: Double
    /// What the program set through the SDK, or nil.
    public var metadata: JSONValue?
    public var timedOut: Bool
    public var oomKilled: Bool
    public var stdoutTruncated: Bool
    public var stderrTruncated: Bool
    /// Judge mode's cases and verdicts; nil for an ordinary run. The fields above then describe
    /// the compile step.
    public var judge: JudgeReport?
    /// The output files that came back; nil when the run asked for none, or asked only through
    /// the runtime's automatic patterns and none matched (the answer then has no `files` key).
    public var files: [OutputFile]? = nil
    /// Whether a matching file was left out (`MAX_OUTPUT_FILES`, `MAX_OUTPUT_FILE_BYTES`).
    public var filesTruncated = false

    public init(
        stdout: String,
        stderr: String,
        exitCode: Int,
        executionTime: Double,
        metadata: JSONValue? = nil,
        timedOut: Bool = false,
        oomKilled: Bool = false,
        stdoutTruncated: Bool = false,
        stderrTruncated: Bool = false,
        judge: JudgeReport? = nil
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
        self.judge = judge
    }

    enum CodingKeys: String, CodingKey {
        case stdout, stderr, exitCode, executionTime, metadata, metadataJSON, timedOut, oomKilled, stdoutTruncated, stderrTruncated, judge
        case files, filesTruncated
    }

    /// The metadata is stored as JSON text (`metadataJSON`) and read back with `JSONParser`,
    /// whose cost is linear in its size: the program chooses it, and `JSONValue`'s `Decodable`
    /// path costs depth × size (1 MiB of 64-deep arrays: tens of seconds of the API's CPU on
    /// every read). Results stored before keep `metadata` and are read the old way.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        stdout = try container.decode(String.self, forKey: .stdout)
        stderr = try container.decode(String.self, forKey: .stderr)
        exitCode = try container.decode(Int.self, forKey: .exitCode)
        executionTime = try container.decode(Double.self, forKey: .executionTime)
        if let text = try container.decodeIfPresent(String.self, forKey: .metadataJSON) {
            metadata = JSONValue.parse(Data(text.utf8))
        } else {
            metadata = try container.decodeIfPresent(JSONValue.self, forKey: .metadata)
        }
        timedOut = try container.decode(Bool.self, forKey: .timedOut)
        oomKilled = try container.decode(Bool.self, forKey: .oomKilled)
        stdoutTruncated = try container.decode(Bool.self, forKey: .stdoutTruncated)
        stderrTruncated = try container.decode(Bool.self, forKey: .stderrTruncated)
        judge = try container.decodeIfPresent(JudgeReport.self, forKey: .judge)
        files = try container.decodeIfPresent([OutputFile].self, forKey: .files)
        filesTruncated = try container.decodeIfPresent(Bool.self, forKey: .filesTruncated) ?? false
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(stdout, forKey: .stdout)
        try container.encode(stderr, forKey: .stderr)
        try container.encode(exitCode, forKey: .exitCode)
        try container.encode(executionTime, forKey: .executionTime)
        if let metadata {
            try container.encode(String(decoding: try JSONEncoder().encode(metadata), as: UTF8.self), forKey: .metadataJSON)
        }
        try container.encode(timedOut, forKey: .timedOut)
        try container.encode(oomKilled, forKey: .oomKilled)
        try container.encode(stdoutTruncated, forKey: .stdoutTruncated)
        try container.encode(stderrTruncated, forKey: .stderrTruncated)
        try container.encodeIfPresent(judge, forKey: .judge)
        try container.encodeIfPresent(files, forKey: .files)
        if filesTruncated { try container.encode(filesTruncated, forKey: .filesTruncated) }
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
        statusCode: 500,
        detail: "An unexpected error occurred: worker lost"
    )
}
