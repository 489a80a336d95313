import Logging
import Queue

/// Where a run's live output goes: the job's rows in the store, fenced on its lease.
protocol LiveOutputSink: Sendable {
    /// Stores `chunks` (in order); false when they were refused (the lease is gone), which
    /// ends the streaming of this run.
    func send(_ chunks: [OutputChunk]) async throws -> Bool

    /// Whether anyone watches the run (a client opened the job's event stream): until then
    /// nothing is sent, and the output waits in the collector.
    func isWatched() async throws -> Bool
}

/// Sends a run's output to a `LiveOutputSink` while the program runs, in batches, once someone
/// watches it.
///
/// The first output after a quiet spell waits `window` (25 ms) for more to join it, then
/// everything new goes out in one append: at most one write per window per run, and none at all
/// for a run that ends within its first window (its result carries the output; the stream
/// replays it from there). A run nobody watches is not written at all: after each window the
/// sink is asked (a read), then every `unwatchedPoll` while output waits, and once a client
/// watches, everything the run has written so far goes out at once. The waits are batching
/// delays, not synchronisation: nothing waits on them to be correct.
struct LiveOutputStreamer: Sendable {
    static let window: Duration = .milliseconds(25)
    /// How often a run with output nobody watches yet asks again.
    static let unwatchedPoll: Duration = .milliseconds(100)

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

    /// One append per signal, `window` after it, once the run is watched. Chunks whose append
    /// failed go out again, as they were, with the next batch, so the stored output has no gap.
    func stream(from collector: RunOutputCollector, signals: AsyncStream<Void>) async {
        var unsent: [OutputChunk] = []
        var watched = false
        var asked = false
        var outputWaits = false
        var iterator = signals.makeAsyncIterator()
        while true {
            if !outputWaits {
                guard await iterator.next() != nil else { return }
            }
            do {
                try await Task.sleep(for: watched || !asked ? Self.window : Self.unwatchedPoll)
            } catch {
                return  // cancelled: the program ended, its result has the rest
            }
            outputWaits = false
            if !watched {
                asked = true
                do {
                    watched = try await sink.isWatched()
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("could not read whether the run is watched", metadata: ["error": "\(error)"])
                }
                guard watched else {
                    outputWaits = true
                    continue
                }
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
                outputWaits = true
                logger.warning("could not store live output; it goes with the next batch", metadata: ["error": "\(error)"])
            }
        }
    }
}
