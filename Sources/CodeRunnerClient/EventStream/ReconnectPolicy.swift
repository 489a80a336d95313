/// How often and how soon a job's event stream is reopened after its connection broke.
struct ReconnectPolicy: Sendable, Equatable {
    /// How many connections in a row may break without delivering an event before the stream
    /// gives up (each one after the first is a reconnection).
    var maxFailures: Int
    /// The wait before the first reconnection; it doubles with each failure in a row.
    var firstDelay: Duration
    /// The longest wait between two connections.
    var maxDelay: Duration

    /// Five tries, after 0.25, 0.5, 1, 2 and 4 seconds.
    static let standard = ReconnectPolicy(maxFailures: 5, firstDelay: .milliseconds(250), maxDelay: .seconds(4))

    /// The wait before the connection that follows `failures` broken ones in a row (from 1).
    /// - Parameter firstDelay: the service's `retry:` time when it sent one.
    func delay(after failures: Int, firstDelay serviceDelay: Duration? = nil) -> Duration {
        let first = serviceDelay ?? firstDelay
        var delay = first
        for _ in 1..<max(1, failures) {
            delay *= 2
            if delay >= maxDelay { return maxDelay }
        }
        return min(delay, maxDelay)
    }
}
