import NIOCore
import Queue
import Synchronization

/// Collects a run's output frames as they arrive: strips the entrypoint's trailer from stdout,
/// caps each stream, and says when the program has written so much (8× the cap) that it must
/// be stopped. Shared between the attach reader and the deadline task, hence the lock.
final class RunOutputCollector: Sendable {
    private struct State {
        var stdout: CappedOutput
        var stderr: CappedOutput
        var scanner: TrailerScanner
        /// Finds the entrypoint's end marker on stderr (and strips it).
        var stderrScanner: TrailerScanner
        var flooded = false
        /// What of each stream has gone out live (`takeLiveOutput`).
        var stdoutSent = LiveOutputCursor()
        var stderrSent = LiveOutputCursor()
    }

    private let state: Mutex<State>
    private let floodLimit: Int
    /// Told (coalesced) whenever the program wrote something; nil when nobody streams the run.
    private let onOutput: (@Sendable () -> Void)?

    /// - Parameter filesCap: the most bytes the trailer's files section may take (`TrailerScanner.filesCap`).
    /// - Parameter onOutput: called after a frame added output, for `LiveOutputStreamer`.
    init(cap: Int, nonce: String, metadataCap: Int, filesCap: Int = 0, onOutput: (@Sendable () -> Void)? = nil) {
        self.onOutput = onOutput
        state = Mutex(
            State(
                stdout: CappedOutput(cap: cap),
                stderr: CappedOutput(cap: cap),
                scanner: TrailerScanner(nonce: nonce, metadataCap: metadataCap, filesCap: filesCap),
                stderrScanner: TrailerScanner(nonce: nonce, metadataCap: 0)
            )
        )
        floodLimit = cap.multipliedReportingOverflow(by: 8).overflow ? Int.max : cap * 8
    }

    /// What a frame meant for the run.
    enum Verdict {
        case keepReading
        /// The output just passed the flood limit: stop the program.
        case flooded
        /// The entrypoint's trailer is complete: the program has ended.
        case finished
    }

    /// Takes one frame.
    func accept(_ stream: AttachStream, _ payload: ByteBuffer) -> Verdict {
        defer { onOutput?() }
        return state.withLock { state in
            let bytes = payload.readableBytesView
            switch stream {
            case .stdout: state.stdout.append(state.scanner.feed(bytes))
            case .stderr: state.stderr.append(state.stderrScanner.feed(bytes))
            case .stdin: return .keepReading
            }
            // Both streams are complete only when both markers have arrived.
            if state.scanner.isComplete && state.stderrScanner.markerSeen { return .finished }
            guard !state.flooded, state.stdout.total > floodLimit || state.stderr.total > floodLimit else { return .keepReading }
            state.flooded = true
            return .flooded
        }
    }

    /// The collected output once the stream has ended.
    func finish() -> (stdout: CappedOutput, stderr: CappedOutput, trailer: TrailerScanner.Trailer?) {
        state.withLock { state in
            state.stdout.append(state.scanner.finish())
            state.stderr.append(state.stderrScanner.finish())
            return (state.stdout, state.stderr, state.scanner.trailer)
        }
    }

    /// The output kept since the last call, as chunks for the store (stdout first): cut at
    /// character boundaries, never the trailer (the scanner holds back what could begin it),
    /// never past the cap (only kept bytes go out, so the stored output stays within
    /// `MAX_OUTPUT_BYTES` per stream, like the result).
    func takeLiveOutput() -> [OutputChunk] {
        state.withLock { state in
            var chunks: [OutputChunk] = []
            if let (offset, text) = state.stdoutSent.take(from: state.stdout.kept) {
                chunks.append(OutputChunk(channel: .stdout, offset: offset, text: text))
            }
            if let (offset, text) = state.stderrSent.take(from: state.stderr.kept) {
                chunks.append(OutputChunk(channel: .stderr, offset: offset, text: text))
            }
            return chunks
        }
    }

    /// Whether the run was stopped for writing too much.
    var flooded: Bool { state.withLock { $0.flooded } }
}
