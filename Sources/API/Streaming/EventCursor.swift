import Queue

/// A client's place in a job's event stream, the `id` of every event:
/// `<attempt>:<stdout_bytes>:<stderr_bytes>` — the attempt, and how many UTF-8 bytes of that
/// attempt's stdout and stderr text the client has been sent. `Last-Event-ID` hands it back.
struct EventCursor: Equatable, Sendable, CustomStringConvertible {
    var attempt: Int
    var stdout: Int
    var stderr: Int

    static let start = EventCursor(attempt: 0, stdout: 0, stderr: 0)

    init(attempt: Int, stdout: Int, stderr: Int) {
        self.attempt = attempt
        self.stdout = stdout
        self.stderr = stderr
    }

    /// Parses `text`; nil unless it is three non-negative decimal numbers joined by `:`.
    init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var numbers: [Int] = []
        for part in parts {
            guard !part.isEmpty, part.utf8.count <= 18, part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let number = Int(part) else {
                return nil
            }
            numbers.append(number)
        }
        self.init(attempt: numbers[0], stdout: numbers[1], stderr: numbers[2])
    }

    var description: String { "\(attempt):\(stdout):\(stderr)" }

    /// The bytes sent of `channel`.
    subscript(channel: OutputChannel) -> Int {
        get { channel == .stdout ? stdout : stderr }
        set {
            if channel == .stdout { stdout = newValue } else { stderr = newValue }
        }
    }
}
