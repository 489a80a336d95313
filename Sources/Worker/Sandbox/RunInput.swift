import Foundation
import NIOCore
import Queue

/// The bytes a run's container reads on stdin, per `runtimes/PROTOCOL.md`: a header line
/// `CR1 <nonce> <archive_bytes> <stdin_bytes> <metadata_cap> <entrypoint>` (with output files:
/// ` <patterns> <max_files> <max_file_bytes>` more; with an environment block, those three
/// (`- 0 0` when no files are asked for) and ` <environment_bytes>`), the environment block
/// (`NAME=value\0` each), the tar of the work directory, then the program's stdin.
struct RunInput {
    let nonce: String
    let bytes: ByteBuffer

    init(nonce: String, bytes: ByteBuffer) {
        self.nonce = nonce
        self.bytes = bytes
    }

    /// The CR1 input of an ordinary run. `environmentInHeader`: the run's `environment` goes in
    /// the input (a warm container, created before the run was known, has none of it); else it
    /// is the container's own (`SandboxSpec`).
    init(payload: RunPayload, nonce: String, environmentInHeader: Bool = false) {
        self.nonce = nonce
        let tar = Self.archive(of: payload)
        let stdin = Array(payload.stdin.utf8)
        let entrypoint =
            payload.entrypoint.flatMap { $0.isEmpty ? nil : $0 }
            .map { Data($0.utf8).base64EncodedString() } ?? "-"
        var buffer = ByteBuffer()
        buffer.writeString("CR1 \(nonce) \(tar.count) \(stdin.count) \(payload.maxMetadataBytes) \(entrypoint)")
        let environment = environmentInHeader ? Self.environmentBlock(of: payload) : []
        if let files = payload.outputFiles {
            let patterns = Data(files.patterns.joined(separator: "\n").utf8).base64EncodedString()
            buffer.writeString(" \(patterns.isEmpty ? "-" : patterns) \(files.maxFiles) \(files.maxBytes)")
        } else if !environment.isEmpty {
            buffer.writeString(" - 0 0")
        }
        if !environment.isEmpty {
            buffer.writeString(" \(environment.count)")
        }
        buffer.writeString("\n")
        buffer.writeBytes(environment)
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

    /// The run's variables as the supervisor reads them: `NAME=value` and a NUL each (the API
    /// refuses NUL in names and values).
    static func environmentBlock(of payload: RunPayload) -> [UInt8] {
        payload.environment.flatMap { Array("\($0.name)=\($0.value)".utf8) + [0] }
    }

    /// A fresh random nonce: 32 lowercase hex characters.
    static func makeNonce() -> String {
        (0..<4).map { _ in
            let hex = String(UInt32.random(in: .min ... .max), radix: 16)
            return String(repeating: "0", count: 8 - hex.count) + hex
        }.joined()
    }
}
