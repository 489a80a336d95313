/// Reads a judge run's stdout (protocol CR2, `runtimes/PROTOCOL.md`): the build's own output,
/// then the supervisor's records, each opening with `@@code-runner:<nonce>@@ `. A plain value,
/// fed chunk by chunk as frames arrive; unit-tested without I/O.
///
/// Bytes between records that do not open with the marker (a case that reached the container's
/// stdout some other way) are skipped and counted, never taken for a record: only the supervisor
/// knows the nonce. Case bodies are taken by their declared lengths, so a case's own output can
/// never end its record early.
struct JudgeRecordParser {
    /// How a case ended besides its exit status (the record's flags `t T m o e`).
    struct CaseFlags: OptionSet, Equatable {
        let rawValue: Int
        /// Its own timeout ended it.
        static let caseTimeout = CaseFlags(rawValue: 1)
        /// The whole run's deadline ended it.
        static let deadline = CaseFlags(rawValue: 2)
        /// The cgroup's OOM killer struck while it ran.
        static let outOfMemory = CaseFlags(rawValue: 4)
        static let stdoutOverflow = CaseFlags(rawValue: 8)
        static let stderrOverflow = CaseFlags(rawValue: 16)

        /// `-`, or letters of `tTmoe`; nil for anything else.
        init?(letters: Substring) {
            rawValue = 0
            if letters == "-" { return }
            let known: [Character: CaseFlags] = ["t": .caseTimeout, "T": .deadline, "m": .outOfMemory, "o": .stdoutOverflow, "e": .stderrOverflow]
            for letter in letters {
                guard let flag = known[letter] else { return nil }
                insert(flag)
            }
        }

        init(rawValue: Int) { self.rawValue = rawValue }
    }

    struct CaseRecord: Equatable {
        var index: Int
        /// As sh reports it: the exit code, or 128 + the signal.
        var status: Int
        var wallMicroseconds: Int64
        var cpuMicroseconds: Int64?
        var maxResidentBytes: Int64?
        var flags: CaseFlags
        var stdout: [UInt8]
        var stderr: [UInt8]
    }

    enum Record: Equatable {
        /// The compile step ended (status 0 when there is none).
        case build(status: Int, wallMicroseconds: Int64, flags: CaseFlags)
        case testCase(CaseRecord)
        /// The supervisor ran this many cases and is exiting.
        case done(casesRun: Int)
    }

    private let marker: [UInt8]
    private let outputCap: Int
    private var buffer: [UInt8] = []
    /// Where unread bytes start in `buffer`.
    private var start = 0
    private var seenFirstMarker = false
    /// A case whose header has been read, waiting for its body.
    private var pending: (record: CaseRecord, stdoutLength: Int, stderrLength: Int)?
    /// Bytes after the first marker that belonged to no record.
    private(set) var strayBytes = 0
    /// The last malformed record line, for the log.
    private(set) var lastProblem: String?

    /// The longest record line accepted (the marker included).
    static let maxLineBytes = 256

    init(nonce: String, outputCap: Int) {
        marker = Array("@@code-runner:\(nonce)@@ ".utf8)
        self.outputCap = outputCap
    }

    /// Feeds stdout bytes; returns the build's own output among them and the records completed.
    mutating func feed(_ bytes: some Collection<UInt8>) -> (output: [UInt8], records: [Record]) {
        buffer.append(contentsOf: bytes)
        var output: [UInt8] = []
        var records: [Record] = []
        while true {
            if let waiting = pending {
                let need = waiting.stdoutLength + waiting.stderrLength
                guard buffer.count - start >= need else { break }
                var record = waiting.record
                record.stdout = Array(buffer[start..<(start + waiting.stdoutLength)])
                record.stderr = Array(buffer[(start + waiting.stdoutLength)..<(start + need)])
                start += need
                pending = nil
                records.append(.testCase(record))
                continue
            }
            guard let found = buffer[start...].firstRange(of: marker) else {
                // hold back what could be the start of a marker split across chunks
                let keep = min(marker.count - 1, buffer.count - start)
                let skipped = buffer.count - start - keep
                if seenFirstMarker { strayBytes += skipped } else { output += buffer[start..<(start + skipped)] }
                start += skipped
                break
            }
            if seenFirstMarker { strayBytes += found.lowerBound - start } else { output += buffer[start..<found.lowerBound] }
            seenFirstMarker = true
            guard let newline = buffer[found.upperBound...].prefix(Self.maxLineBytes).firstIndex(of: UInt8(ascii: "\n")) else {
                if buffer.count - found.upperBound >= Self.maxLineBytes {
                    lastProblem = "a record line longer than \(Self.maxLineBytes) bytes"
                    start = found.upperBound
                    continue
                }
                start = found.lowerBound  // wait for the rest of the line
                break
            }
            let line = String(decoding: buffer[found.upperBound..<newline], as: UTF8.self)
            start = newline + 1
            if let record = parse(line) { records.append(record) }
        }
        compact()
        return (output, records)
    }

    /// Call at the end of the stream: what was held back before any marker is the build's output.
    mutating func finish() -> [UInt8] {
        defer {
            buffer = []
            start = 0
        }
        return seenFirstMarker ? [] : Array(buffer[start...])
    }

    /// One record line without its marker; a case's header leaves the record pending its body.
    private mutating func parse(_ line: String) -> Record? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        func number(_ index: Int) -> Int64? { index < fields.count ? Int64(fields[index]) : nil }
        switch fields.first {
        case "build":
            guard fields.count == 4, let status = number(1), let wall = number(2), let flags = CaseFlags(letters: fields[3]) else { break }
            return .build(status: Int(status), wallMicroseconds: wall, flags: flags)
        case "case":
            guard fields.count == 9, let index = number(1), let status = number(2), let wall = number(3), let cpu = number(4),
                let rss = number(5), let flags = CaseFlags(letters: fields[6]), let stdoutLength = number(7),
                let stderrLength = number(8), (0...Int64(outputCap)).contains(stdoutLength), (0...Int64(outputCap)).contains(stderrLength),
                index >= 0
            else { break }
            pending = (
                CaseRecord(
                    index: Int(index),
                    status: Int(status),
                    wallMicroseconds: wall,
                    cpuMicroseconds: cpu >= 0 ? cpu : nil,
                    maxResidentBytes: rss >= 0 ? rss : nil,
                    flags: flags,
                    stdout: [],
                    stderr: []
                ),
                Int(stdoutLength),
                Int(stderrLength)
            )
            return nil
        case "done":
            guard fields.count == 2, let count = number(1) else { break }
            return .done(casesRun: Int(count))
        default: break
        }
        lastProblem = "a malformed record: \(line.prefix(80))"
        return nil
    }

    /// Drops the consumed prefix once it is large, so feeding stays linear.
    private mutating func compact() {
        guard start > 65_536 || start == buffer.count else { return }
        buffer.removeFirst(start)
        start = 0
    }
}
