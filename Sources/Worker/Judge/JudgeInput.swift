import Foundation
import NIOCore
import Queue

/// The bytes a judge-mode container reads on stdin, per `runtimes/PROTOCOL.md` (version CR2):
/// the header line `CR2 <nonce> <archive_bytes> <cases_bytes> <metadata_cap> <run_cmd>
/// <build_cmd> <output_cap> <deadline_ms>`, the tar of the work directory, then each case as
/// `<stdin_bytes> <timeout_ms>\n` and its stdin. Expected outputs never enter the container:
/// the worker compares.
enum JudgeInput {
    /// - Parameters:
    ///   - judge: the run's cases and commands.
    ///   - outputCap: the most bytes of each case's stdout, and of its stderr, the supervisor
    ///     reports (`MAX_OUTPUT_BYTES`): more ends the case as `output_limit_exceeded`.
    static func make(payload: RunPayload, judge: JudgePayload, nonce: String) -> RunInput {
        var cases = ByteBuffer()
        for item in judge.cases {
            let stdin = Array(item.stdin.utf8)
            cases.writeString("\(stdin.count) \(max(1, item.timeoutMilliseconds))\n")
            cases.writeBytes(stdin)
        }
        let tar = RunInput.archive(of: payload)
        func encoded(_ command: String?) -> String {
            command.flatMap { $0.isEmpty ? nil : Data($0.utf8).base64EncodedString() } ?? "-"
        }
        var buffer = ByteBuffer()
        buffer.writeString(
            "CR2 \(nonce) \(tar.count) \(cases.readableBytes) \(payload.maxMetadataBytes) \(encoded(judge.runCommand)) \(encoded(judge.buildCommand)) \(payload.maxOutputBytes) \(payload.timeoutSeconds * 1000)\n"
        )
        buffer.writeBytes(tar)
        buffer.writeImmutableBuffer(cases)
        return RunInput(nonce: nonce, bytes: buffer)
    }
}
