import Foundation

/// Where a job is in its life: `queued → running → completed | failed | cancelled`.
public enum JobStatus: String, Sendable, Codable, CaseIterable {
    case queued, running, completed, failed, cancelled

    /// Whether the job has ended and will not change again.
    public var isFinal: Bool {
        switch self {
        case .queued, .running: false
        case .completed, .failed, .cancelled: true
        }
    }
}

/// A job as `GET /jobs/{id}` shows it.
public struct Job: Sendable, Equatable, Codable {
    /// The job's public id.
    public var id: String
    /// `run` or `prebuild`.
    public var kind: String?
    public var status: JobStatus
    public var createdAt: Date?
    public var startedAt: Date?
    public var finishedAt: Date?
    /// How many times a worker took the job.
    public var attempts: Int?
    /// The job's ``RunRequest/priority`` (its key's when the request gave none); `nil` from a
    /// service without priorities.
    public var priority: Int?
    /// The program's outcome once `completed` (lists leave it out).
    public var result: ExecutionResult?
    /// Why the service could not run it, once `failed`.
    public var error: Failure?
    /// The job's webhook and how its delivery stands; `nil` when the request had no
    /// ``RunRequest/callbackURL`` (and from a service without webhooks).
    public var callback: JobCallback?

    /// Why a job failed: the status and detail `POST /run` would have answered.
    public struct Failure: Sendable, Equatable, Codable {
        public var statusCode: Int
        public var detail: String

        enum CodingKeys: String, CodingKey {
            case statusCode = "status_code"
            case detail
        }
    }

    enum CodingKeys: String, CodingKey {
        case id = "job_id"
        case kind, status, attempts, priority, result, error, callback
        case createdAt = "created_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        kind = try container.decodeIfPresent(String.self, forKey: .kind)
        status = try container.decode(JobStatus.self, forKey: .status)
        createdAt = try Timestamp.decode(container, .createdAt)
        startedAt = try Timestamp.decode(container, .startedAt)
        finishedAt = try Timestamp.decode(container, .finishedAt)
        attempts = try container.decodeIfPresent(Int.self, forKey: .attempts)
        priority = try container.decodeIfPresent(Int.self, forKey: .priority)
        result = try container.decodeIfPresent(ExecutionResult.self, forKey: .result)
        error = try container.decodeIfPresent(Failure.self, forKey: .error)
        callback = try container.decodeIfPresent(JobCallback.self, forKey: .callback)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encodeIfPresent(kind, forKey: .kind)
        try container.encode(status, forKey: .status)
        try container.encode(createdAt.map(Timestamp.string), forKey: .createdAt)
        try container.encode(startedAt.map(Timestamp.string), forKey: .startedAt)
        try container.encode(finishedAt.map(Timestamp.string), forKey: .finishedAt)
        try container.encodeIfPresent(attempts, forKey: .attempts)
        try container.encodeIfPresent(priority, forKey: .priority)
        try container.encode(result, forKey: .result)
        try container.encode(error, forKey: .error)
        try container.encode(callback, forKey: .callback)
    }
}

/// Where a job's webhook delivery stands (``JobCallback/status``).
public enum CallbackStatus: String, Sendable, Codable, CaseIterable {
    /// The job has not finished yet, or its delivery is under way or waiting for a retry.
    case pending
    /// The receiver answered with a 2xx status.
    case delivered
    /// The service stopped trying: no attempt succeeded within a day of the first one.
    case failed
}

/// A job's webhook (its request's ``RunRequest/callbackURL``) and how its delivery stands.
///
/// Once the job has finished, the service POSTs its JSON to ``url`` until the receiver answers
/// with a 2xx status, retrying with exponential back-off for up to a day.
public struct JobCallback: Sendable, Equatable, Codable {
    /// The URL the job's JSON is delivered to.
    public var url: String
    public var status: CallbackStatus
    /// Delivery attempts made so far (0 until the job has finished).
    public var attempts: Int
    /// Why the last attempt failed (the receiver's status, a time-out, a connection error);
    /// `nil` before the first attempt and after a success.
    public var lastError: String?

    enum CodingKeys: String, CodingKey {
        case url, status, attempts
        case lastError = "last_error"
    }

    /// Every key, `null` for no error, as the service writes it.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(url, forKey: .url)
        try container.encode(status, forKey: .status)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(lastError, forKey: .lastError)
    }
}

/// The answer to `POST /jobs`: the job's id and status.
public struct SubmittedJob: Sendable, Equatable {
    public var id: String
    public var status: JobStatus
    /// True when an `Idempotency-Key` matched an earlier identical request: this is that job.
    public var isRepeat: Bool
}

/// The body of `GET /jobs`.
struct JobList: Decodable {
    var jobs: [Job]
}

/// The body of a `202 Accepted` from `POST /jobs`, `POST /run` or `POST /prebuild`.
struct Accepted: Decodable {
    var job_id: String
    var status: String
}
