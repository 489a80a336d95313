/// Where a job is in its life: `queued → running → completed | failed | cancelled`, and
/// `running → queued` again when its lease is lost and attempts remain.
///
/// `completed` means the program ran, whatever its exit code (timeouts and OOM kills included);
/// `failed` means the system could not run it; `cancelled` came from `DELETE /jobs/{id}`.
public enum JobState: String, Codable, Sendable, CaseIterable {
    case queued
    case running
    case completed
    case failed
    case cancelled

    /// Whether the job has ended and will not change again.
    public var isFinal: Bool {
        switch self {
        case .queued, .running: false
        case .completed, .failed, .cancelled: true
        }
    }

    /// The states of a finished job, as SQL list text (`'completed','failed','cancelled'`).
    static let finalStatesSQL = "'completed','failed','cancelled'"
}

/// What a job asks a worker to do.
public enum JobKind: String, Codable, Sendable {
    /// Run code once in a fresh container (`POST /run`, `POST /jobs`).
    case run
    /// Build a prebuilt image from a runtime image and a setup script.
    case prebuild
    /// The scheduled clean-up of old images, orphaned containers and expired jobs.
    case cleanup
}
