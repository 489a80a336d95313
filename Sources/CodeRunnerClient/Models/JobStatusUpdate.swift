/// A `status` event of a job's stream: where the job is now.
public struct JobStatusUpdate: Sendable, Equatable, Codable {
    /// The stages a stream reports: ``JobStatus`` without the final states, which ``state`` holds.
    public enum Status: String, Sendable, Codable, CaseIterable {
        case queued, running, finished
    }

    /// The job's id (the first event of ``CodeRunnerClient/runStreaming(_:)`` tells it).
    public var jobID: String
    public var status: Status
    /// Which attempt a worker started (from 1), with ``Status/running``.
    public var attempt: Int?
    /// Whether an earlier attempt was lost with its worker: its output is void, and this
    /// attempt's output starts again at offset 0.
    public var isRetry: Bool
    /// How the job ended (completed, failed or cancelled), with ``Status/finished``; `nil` also
    /// for a final state this client does not know.
    public var state: JobStatus?

    public init(jobID: String, status: Status, attempt: Int? = nil, isRetry: Bool = false, state: JobStatus? = nil) {
        self.jobID = jobID
        self.status = status
        self.attempt = attempt
        self.isRetry = isRetry
        self.state = state
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case status, attempt, state
        case isRetry = "retry"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        jobID = try container.decode(String.self, forKey: .jobID)
        status = try container.decode(Status.self, forKey: .status)
        attempt = try container.decodeIfPresent(Int.self, forKey: .attempt)
        isRetry = try container.decodeIfPresent(Bool.self, forKey: .isRetry) ?? false
        state = try container.decodeIfPresent(String.self, forKey: .state).flatMap(JobStatus.init(rawValue:))
    }

    /// The keys the service writes: `attempt`, `retry` and `state` only when they say something.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(jobID, forKey: .jobID)
        try container.encode(status, forKey: .status)
        try container.encodeIfPresent(attempt, forKey: .attempt)
        if isRetry { try container.encode(true, forKey: .isRetry) }
        try container.encodeIfPresent(state, forKey: .state)
    }
}
