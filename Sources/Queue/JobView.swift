import Foundation

/// `CodeExecutionResponse`: the seed's five keys (`metadata` present even when null) plus ours.
/// In `Queue` rather than the API because a webhook delivery (a worker) sends the same JSON.
public struct ExecutionResponse: Encodable, Sendable {
    public var jobID: String
    public var result: RunResult

    public init(jobID: String, result: RunResult) {
        self.jobID = jobID
        self.result = result
    }

    enum CodingKeys: String, CodingKey {
        case stdout, stderr
        case exitCode = "exit_code"
        case executionTime = "execution_time"
        case metadata
        case jobID = "job_id"
        case timedOut = "timed_out"
        case oomKilled = "oom_killed"
        case stdoutTruncated = "stdout_truncated"
        case stderrTruncated = "stderr_truncated"
        case verdict, passed, total, tests
        case files
        case filesTruncated = "files_truncated"
    }

    /// One entry of `files`.
    struct FileBody: Encodable {
        var file: OutputFile

        enum CodingKeys: String, CodingKey {
            case path, size
            case mediaType = "media_type"
            case contentBase64 = "content_base64"
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(file.path, forKey: .path)
            try container.encode(file.size, forKey: .size)
            try container.encode(file.mediaType, forKey: .mediaType)
            try container.encode(file.content.base64EncodedString(), forKey: .contentBase64)
        }
    }

    /// Judge mode's keys come only in a judge run's answer; `files` and `files_truncated` only
    /// when files were asked for (`RunResult.files`).
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(result.stdout, forKey: .stdout)
        try container.encode(result.stderr, forKey: .stderr)
        try container.encode(result.exitCode, forKey: .exitCode)
        try container.encode(result.executionTime, forKey: .executionTime)
        try container.encode(result.metadata ?? .null, forKey: .metadata)
        try container.encode(jobID, forKey: .jobID)
        try container.encode(result.timedOut, forKey: .timedOut)
        try container.encode(result.oomKilled, forKey: .oomKilled)
        try container.encode(result.stdoutTruncated, forKey: .stdoutTruncated)
        try container.encode(result.stderrTruncated, forKey: .stderrTruncated)
        if let judge = result.judge {
            try container.encode(judge.verdict, forKey: .verdict)
            try container.encode(judge.passed, forKey: .passed)
            try container.encode(judge.total, forKey: .total)
            try container.encode(judge.cases.map(CaseBody.init), forKey: .tests)
        }
        if let files = result.files {
            try container.encode(files.map(FileBody.init), forKey: .files)
            try container.encode(result.filesTruncated, forKey: .filesTruncated)
        }
    }
}

/// A job as `GET /jobs/{id}` shows it, and as its webhook delivers it.
public struct JobView: Encodable, Sendable {
    public var job: Job
    /// Lists leave the (possibly large) result out.
    public var includesResult = true

    public init(job: Job, includesResult: Bool = true) {
        self.job = job
        self.includesResult = includesResult
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case kind, status
        case createdAt = "created_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case attempts, priority, result, error, callback
    }

    struct ErrorBody: Encodable {
        var status_code: Int
        var detail: String
    }

    /// `callback: {url, status, attempts, last_error}`, every key present.
    struct CallbackBody: Encodable {
        var url: String
        var status: String
        var attempts: Int
        var last_error: String?

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(url, forKey: .url)
            try container.encode(status, forKey: .status)
            try container.encode(attempts, forKey: .attempts)
            try container.encode(last_error, forKey: .last_error)
        }

        enum CodingKeys: String, CodingKey {
            case url, status, attempts, last_error
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(job.publicID, forKey: .jobID)
        try container.encode(job.kind.rawValue, forKey: .kind)
        try container.encode(job.state.rawValue, forKey: .status)
        try container.encode(job.createdAt.iso8601, forKey: .createdAt)
        try container.encode(job.startedAt?.iso8601, forKey: .startedAt)
        try container.encode(job.finishedAt?.iso8601, forKey: .finishedAt)
        try container.encode(job.attempts, forKey: .attempts)
        try container.encode(job.priority, forKey: .priority)
        if includesResult {
            if job.state == .completed, let data = job.result, let result = try? JSONDecoder().decode(RunResult.self, from: data) {
                try container.encode(ExecutionResponse(jobID: job.publicID, result: result), forKey: .result)
            } else {
                try container.encodeNil(forKey: .result)
            }
        }
        if let failure = job.failure {
            try container.encode(ErrorBody(status_code: failure.statusCode, detail: failure.detail), forKey: .error)
        } else {
            try container.encodeNil(forKey: .error)
        }
        let callback = job.callback.map {
            CallbackBody(url: $0.url, status: $0.status.rawValue, attempts: $0.attempts, last_error: $0.lastError)
        }
        try container.encode(callback, forKey: .callback)
    }
}

extension Double {
    /// Unix seconds as an ISO 8601 UTC timestamp with milliseconds.
    public var iso8601: String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: self))
    }
}
