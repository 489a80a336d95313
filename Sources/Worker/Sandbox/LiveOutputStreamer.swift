import Logging
import Queue

/// Where a run's live output goes: the job's rows in the store, fenced on its lease.
protocol LiveOutputSink: Sendable {
    /// Stores `chunks` (in order); false when they were refused (the lease is gone), which
    /// ends the streaming of this run.
    func send(_ chunks: [OutputChunk]) async throws -> Bool
}

/// Sends a run's output to a `LiveOutputSink` while the program runs, in batches.
///
/// The first output after a quiet spell waits `window` (25 ms) for more to join it, then
/// everything new goes out in one append: at most one write per window per run, and none at all
/// for a run that ends within its first window (its result carries the output; the stream
/// replays it from there). The window is a batching delay, not synchronisation: nothing waits
/// on it to be correct.
struct LiveOutputStreamer: Sendable {
    static let window: Duration = .milliseconds(25)

    let sink: any LiveOutputSink
    let logger: Logger

    /// A collector wired to a streamer, and the task that streams until cancelled (when the
    /// program has ended) or until the sink refuses.
    static func start(
        sink: (any LiveOutputSink)?,
        logger: Logger,
        makeCollector: ((@Sendable () -> Void)?) -> RunOutputCollector
    ) -> (collector: RunOutputCollector, task: Task<Void, Never>?) {
        guard let sink else { return (makeCollector(nil), nil) }
        let (signals, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let collector = makeCollector { signal.yield() }
        let streamer = LiveOutputStreamer(sink: sink, logger: logger)
        let task = Task {
            await streamer.stream(from: collector, signals: signals)
            signal.finish()
        }
        return (collector, task)
    }

    /// One append per signal, `window` after it. Chunks whose append failed go out again, as
    /// they were, with the next batch, so the stored output has no gap.
    func stream(from collector: RunOutputCollector, signals: AsyncStream<Void>) async {
        var unsent: [OutputChunk] = []
        for await _ in signals {
            do {
                try await Task.sleep(for: Self.window)
            } catch {
                return  // cancelled: the program ended, its result has the rest
            }
            // the unsent ones as they were: an append that failed may have been stored after all
            // (an answer lost after the commit), and the store drops a chunk it has at the same
            // attempt, stream and offset, where a merged, longer chunk would be dropped whole
            let chunks = unsent + collector.takeLiveOutput()
            guard !chunks.isEmpty else { continue }
            do {
                unsent = []
                guard try await sink.send(chunks) else {
                    logger.info("live output refused: the run's lease is gone; streaming stopped")
                    return
                }
            } catch is CancellationError {
                return
            } catch {
                unsent = chunks
                logger.warning("could not store live output; it goes with the next batch", metadata: ["error": "\(error)"])
            }
        }
    }
}
