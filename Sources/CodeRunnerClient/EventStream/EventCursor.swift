/// An event id of a job's stream, `<attempt>:<stdout bytes>:<stderr bytes>`: how far the stream
/// had got after the event (the attempt, and how many UTF-8 bytes of that attempt's stdout and
/// stderr it had sent).
struct EventCursor: Sendable, Equatable {
    var attempt: Int
    var stdoutBytes: Int
    var stderrBytes: Int

    init(attempt: Int, stdoutBytes: Int, stderrBytes: Int) {
        self.attempt = attempt
        self.stdoutBytes = stdoutBytes
        self.stderrBytes = stderrBytes
    }

    /// The cursor `id` spells, or `nil` when it is not one.
    init?(_ id: String) {
        let parts = id.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let attempt = Int(parts[0]), let stdout = Int(parts[1]), let stderr = Int(parts[2]),
            attempt >= 0, stdout >= 0, stderr >= 0
        else { return nil }
        self.attempt = attempt
        self.stdoutBytes = stdout
        self.stderrBytes = stderr
    }

    /// How many bytes of `channel` the stream had sent.
    func bytes(of channel: OutputChannel) -> Int {
        switch channel {
        case .stdout: stdoutBytes
        case .stderr: stderrBytes
        }
    }
}
