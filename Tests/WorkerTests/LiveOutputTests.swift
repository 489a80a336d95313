import Foundation
import Logging
import Queue
import Synchronization
import Testing

@testable import Worker

/// Live output: the pieces without I/O (the cursor's UTF-8 slicing, the trailer scanner's
/// hold-back), and a real run streaming to a recording sink.
struct LiveOutputTests {
    @Test("the cursor takes what is new, never half a character, with offsets in the text's bytes")
    func cursorSlicing() {
        var cursor = LiveOutputCursor()
        #expect(cursor.take(from: []) == nil)
        let bytes = Array("añ€😀".utf8)  // 1 + 2 + 3 + 4 bytes
        var taken: [(Int, String)] = []
        for end in 1...bytes.count {
            if let piece = cursor.take(from: Array(bytes[..<end])) { taken.append(piece) }
        }
        #expect(taken.map { $0.1 } == ["a", "ñ", "€", "😀"])
        #expect(taken.map { $0.0 } == [0, 1, 3, 6])
        #expect(cursor.textBytes == 10 && cursor.bytes == 10)
        #expect(cursor.take(from: bytes) == nil)

        // invalid bytes are not held back: they decode as U+FFFD, as the result's text does
        var invalid = LiveOutputCursor()
        let piece = invalid.take(from: [0x61, 0xFF, 0x62])
        #expect(piece?.text == "a\u{FFFD}b" && piece?.offset == 0)
        #expect(invalid.textBytes == 5)
        #expect(LiveOutputCursor.completeLength(of: [0x61, 0xE2, 0x82]) == 1)
        #expect(LiveOutputCursor.completeLength(of: [0xF0, 0x9F, 0x98, 0x80]) == 4)
        #expect(LiveOutputCursor.completeLength(of: [0x80, 0x80, 0x80]) == 3)
    }

    @Test("the trailer scanner holds back only what could begin the marker")
    func scannerHoldsBackOnlyAMarkerPrefix() {
        let nonce = String(repeating: "a", count: 32)
        var scanner = TrailerScanner(nonce: nonce, metadataCap: 100)
        #expect(scanner.feed(Array("hello\n".utf8)) == Array("hello\n".utf8))
        #expect(scanner.feed(Array("x@@code-r".utf8)) == Array("x".utf8))
        #expect(scanner.feed(Array("unner:b".utf8)) == Array("@@code-runner:b".utf8))
        #expect(scanner.feed(Array("@".utf8)) == [])
        #expect(scanner.feed(Array("@code-runner:\(nonce)@@ 0 -1 0\n".utf8)) == [])
        #expect(scanner.markerSeen && scanner.trailer?.exitStatus == 0)
    }
}

/// A sink that records every append, can refuse after a number of them, and says the run is
/// watched only from its `watchedFrom`-th question on (1: from the first).
final class RecordingSink: LiveOutputSink {
    private let batches = Mutex<[[OutputChunk]]>([])
    private let questions = Mutex(0)
    let acceptedBatches: Int
    let watchedFrom: Int

    init(acceptedBatches: Int = .max, watchedFrom: Int = 1) {
        self.acceptedBatches = acceptedBatches
        self.watchedFrom = watchedFrom
    }

    var recorded: [[OutputChunk]] { batches.withLock { $0 } }
    var questionsAsked: Int { questions.withLock { $0 } }

    func send(_ chunks: [OutputChunk]) async throws -> Bool {
        batches.withLock { batches in
            batches.append(chunks)
            return batches.count <= acceptedBatches
        }
    }

    func isWatched() async throws -> Bool {
        questions.withLock { count in
            count += 1
            return count >= watchedFrom
        }
    }
}

@Suite(.serialized, .needsDocker)
struct LiveOutputSandboxTests {
    let sandbox = SandboxIntegrationTests()

    func run(_ code: String, live: RecordingSink, outputCap: Int = 1 << 20) async throws -> RunResult {
        try await sandbox.docker.runOnce(sandbox.payload(code, outputCap: outputCap), worker: "live-tests", live: live, logger: sandbox.logger)
    }

    @Test("output written before a pause is stored while the program runs, in order, with offsets adding up; the result has all of it")
    func streamsWhileRunning() async throws {
        let code = """
            import sys, time
            print('first', flush=True)
            print('err one', file=sys.stderr, flush=True)
            time.sleep(0.6)
            print('second', flush=True)
            time.sleep(0.6)
            print('third')
            """
        let sink = RecordingSink()
        let result = try await run(code, live: sink)
        #expect(result.stdout == "first\nsecond\nthird\n")
        let batches = sink.recorded
        // 'first' went out long before the program ended, in a batch of its own
        #expect(batches.count >= 2, "\(batches)")
        #expect(batches.first?.contains(OutputChunk(channel: .stdout, offset: 0, text: "first\n")) == true, "\(batches)")
        let stdout = batches.flatMap { $0 }.filter { $0.channel == .stdout }
        var offset = 0
        for chunk in stdout {
            #expect(chunk.offset == offset)
            offset += chunk.text.utf8.count
        }
        #expect(result.stdout.hasPrefix(stdout.map(\.text).joined()))
        #expect(stdout.map(\.text).joined().hasPrefix("first\nsecond\n"))
        let stderr = batches.flatMap { $0 }.filter { $0.channel == .stderr }.map(\.text).joined()
        #expect(stderr == "err one\n")
        #expect(!batches.flatMap { $0 }.contains { $0.text.contains("@@code-runner") })
    }

    @Test("live output stops at MAX_OUTPUT_BYTES, like the result; a refusing sink ends the streaming, not the run")
    func boundedAndRefused() async throws {
        let code = """
            import time
            print('x' * 5000, flush=True)
            time.sleep(0.5)
            print('y' * 5000, flush=True)
            time.sleep(0.5)
            print('done')
            """
        let sink = RecordingSink()
        let result = try await run(code, live: sink, outputCap: 1000)
        #expect(result.stdoutTruncated)
        let streamed = sink.recorded.flatMap { $0 }.filter { $0.channel == .stdout }.map(\.text).joined()
        #expect(streamed.utf8.count <= 1000 && streamed.hasPrefix("xxx"))

        let refusing = RecordingSink(acceptedBatches: 0)
        let second = try await run(code, live: refusing)
        #expect(second.stdout.hasSuffix("done\n"))
        #expect(refusing.recorded.count == 1)
    }

    @Test("a run nobody watches stores nothing; once watched, everything so far goes out from offset 0")
    func onlyWhenWatched() async throws {
        let code = """
            import time
            for i in range(8):
                print('line', i, flush=True)
                time.sleep(0.1)
            """
        let unwatched = RecordingSink(watchedFrom: .max)
        let result = try await run(code, live: unwatched)
        #expect(result.stdout.hasPrefix("line 0\nline 1\n"))
        #expect(unwatched.recorded.isEmpty)
        #expect(unwatched.questionsAsked >= 2)

        let later = RecordingSink(watchedFrom: 3)
        _ = try await run(code, live: later)
        let stdout = later.recorded.flatMap { $0 }.filter { $0.channel == .stdout }
        #expect(stdout.first?.offset == 0 && stdout.first?.text.hasPrefix("line 0\nline 1\n") == true, "\(stdout)")
        #expect(later.recorded.count >= 2, "\(later.recorded)")
    }
}
