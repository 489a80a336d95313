import NIOCore
import Queue
import Synchronization

/// Collects a judge run's output frames as they arrive (protocol CR2): the build's stdout and
/// stderr (capped, with the same 8× flood limit as an ordinary run), then the supervisor's
/// records on stdout, judged as they come (`JudgeTally`), so that only one case's full output
/// is held at a time. Shared between the attach reader and the deadline task, hence the lock.
final class JudgeOutputCollector: Sendable {
    private struct State {
        var stdout: CappedOutput
        var stderr: CappedOutput
        var parser: JudgeRecordParser
        /// Finds the supervisor's end marker on stderr, written once the build is over.
        var stderrScanner: TrailerScanner
        var tally: JudgeTally
        var flooded = false
    }

    private let state: Mutex<State>
    private let floodLimit: Int

    init(judge: JudgePayload, outputCap: Int, nonce: String) {
        state = Mutex(
            State(
                stdout: CappedOutput(cap: outputCap),
                stderr: CappedOutput(cap: outputCap),
                parser: JudgeRecordParser(nonce: nonce, outputCap: outputCap),
                stderrScanner: TrailerScanner(nonce: nonce, metadataCap: 0),
                tally: JudgeTally(judge: judge, outputCap: outputCap)
            )
        )
        floodLimit = outputCap.multipliedReportingOverflow(by: 8).overflow ? Int.max : outputCap * 8
    }

    /// Takes one frame.
    func accept(_ stream: AttachStream, _ payload: ByteBuffer) -> RunOutputCollector.Verdict {
        state.withLock { state in
            let bytes = payload.readableBytesView
            switch stream {
            case .stdout:
                let (output, records) = state.parser.feed(bytes)
                state.stdout.append(output)
                for record in records { state.tally.take(record) }
            case .stderr:
                state.stderr.append(state.stderrScanner.feed(bytes))
            case .stdin:
                return .keepReading
            }
            if state.tally.stoppedEarly || state.tally.finished && state.stderrScanner.markerSeen { return .finished }
            guard !state.flooded, state.stdout.total > floodLimit || state.stderr.total > floodLimit else { return .keepReading }
            state.flooded = true
            return .flooded
        }
    }

    /// What the stream held once it has ended.
    struct Outcome {
        var stdout: CappedOutput
        var stderr: CappedOutput
        var tally: JudgeTally
        /// Bytes between records that were not records, and the last malformed record line.
        var strayBytes: Int
        var problem: String?
    }

    func finish() -> Outcome {
        state.withLock { state in
            state.stdout.append(state.parser.finish())
            state.stderr.append(state.stderrScanner.finish())
            return Outcome(
                stdout: state.stdout,
                stderr: state.stderr,
                tally: state.tally,
                strayBytes: state.parser.strayBytes,
                problem: state.parser.lastProblem
            )
        }
    }

    /// Whether the build was stopped for writing too much.
    var flooded: Bool { state.withLock { $0.flooded } }
}
