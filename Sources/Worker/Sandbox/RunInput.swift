import Foundation
import NIOCore
import Queue

/// The bytes a run's container reads on stdin, per `runtimes/PROTOCOL.md`: a header line
/// `CR1 <nonce> <archive_bytes> <stdin_bytes> <metadata_cap> <entrypoint>`, the tar of the work
/// directory, then the program's stdin.
struct RunInput {
    let nonce: String
    let bytes: ByteBuffer

    /// - Parameter mainFile: the runtime's main file (`main.py`, …) that receives `code`.
    init(payload: RunPayload, mainFile: String, nonce: String) {
        self.nonce = nonce
        var archive = TarArchive()
        for file in payload.files {
            archive.addFile(path: file.name, contents: Array(file.content.utf8))
        }
        if !payload.code.isEmpty {
            archive.addFile(path: mainFile, contents: Array(payload.code.utf8))  // the code wins
        }
        let tar = payload.files.isEmpty && payload.code.isEmpty ? [] : archive.finished()
        let stdin = Array(payload.stdin.utf8)
        let entrypoint =
            payload.entrypoint.flatMap { $0.isEmpty ? nil : $0 }
            .map { Data($0.utf8).base64EncodedString() } ?? "-"
        var buffer = ByteBuffer()
        buffer.writeString("CR1 \(nonce) \(tar.count) \(stdin.count) \(payload.maxMetadataBytes) \(entrypoint)\n")
        buffer.writeBytes(tar)
        buffer.writeBytes(stdin)
        bytes = buffer
    }

    /// A fresh random nonce: 32 lowercase hex characters.
    static func makeNonce() -> String {
        (0..<4).map { _ in
            let hex = String(UInt32.random(in: .min ... .max), radix: 16)
            return String(repeating: "0", count: 8 - hex.count) + hex
        }.joined()
    }
}
