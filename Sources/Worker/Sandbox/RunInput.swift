import Foundation
import NIOCore
import Queue

/// The bytes a run's container reads on stdin, per `runtimes/PROTOCOL.md`: a header line
/// `CR1 <nonce> <archive_bytes> <stdin_bytes> <metadata_cap> <entrypoint>` (with output files:
/// ` <patterns> <max_files> <max_file_bytes>` more), the tar of the work directory, then the
/// program's stdin.
struct RunInput {
    let nonce: String
    let bytes: ByteBuffer

    init(nonce: String, bytes: ByteBuffer) {
        self.nonce = nonce
        self.bytes = bytes
    }

    /// The CR1 input of an ordinary run.
    init(payload: RunPayload, nonce: String) {
        self.nonce = nonce
        let tar = Self.archive(of: payload)
        let stdin = Array(payload.stdin.utf8)
        let entrypoint =
            payload.entrypoint.flatMap { $0.isEmpty ? nil : $0 }
            .map { Data($0.utf8).base64EncodedString() } ?? "-"
        var buffer = ByteBuffer()
        buffer.writeString("CR1 \(nonce) \(tar.count) \(stdin.count) \(payload.maxMetadataBytes) \(entrypoint)")
        if let files = payload.outputFiles {
            let patterns = Data(files.patterns.joined(separator: "\n").utf8).base64EncodedString()
            buffer.writeString(" \(patterns.isEmpty ? "-" : patterns) \(files.maxFiles) \(files.maxBytes)")
        }
        buffer.writeString("\n")
        buffer.writeBytes(tar)
        buffer.writeBytes(stdin)
        bytes = buffer
    }

    /// The work directory's tar: the user's `files`, then the runtime's main file (`main.py`, …)
    /// holding `code` (so the code wins over a same-named file); empty when there is neither.
    static func archive(of payload: RunPayload) -> [UInt8] {
        guard !payload.files.isEmpty || !payload.code.isEmpty else { return [] }
        var archive = TarArchive()
        for file in payload.files {
            archive.addFile(path: file.name, contents: Array(file.content.utf8))
        }
        if !payload.code.isEmpty {
            archive.addFile(path: payload.mainFile, contents: Array(payload.code.utf8))
        }
        return archive.finished()
    }

    /// A fresh random nonce: 32 lowercase hex characters.
    static func makeNonce() -> String {
        (0..<4).map { _ in
            let hex = String(UInt32.random(in: .min ... .max), radix: 16)
            return String(repeating: "0", count: 8 - hex.count) + hex
        }.joined()
    }
}
