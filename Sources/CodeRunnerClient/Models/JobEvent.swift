/// One event of a job's live stream (``CodeRunnerClient/events(jobID:after:)``,
/// ``CodeRunnerClient/runStreaming(_:)``): a change of status, a piece of output, or the
/// finished job.
public struct JobEvent: Sendable, Equatable {
    /// The stream's cursor after this event, `<attempt>:<stdout bytes>:<stderr bytes>`: pass it
    /// as `after:` to ``CodeRunnerClient/events(jobID:after:)`` to go on right after this event.
    /// Empty for the result of a service that does not stream (see
    /// ``CodeRunnerClient/runStreaming(_:)``).
    public var id: String
    public var kind: Kind

    /// What happened.
    public enum Kind: Sendable, Equatable {
        /// The job was queued, a worker started an attempt, or the job ended.
        case status(JobStatusUpdate)
        /// The program wrote to its stdout or stderr.
        case output(OutputChunk)
        /// The job as ``CodeRunnerClient/job(id:)`` answers it once it has ended: always the
        /// stream's last event.
        case result(Job)
    }

    public init(id: String, kind: Kind) {
        self.id = id
        self.kind = kind
    }
}
