import Foundation
import NIOCore
import Queue
import Testing

@testable import Worker

/// The byte-level pieces of the worker ↔ container protocol.
struct ProtocolPiecesTests {
    @Test("the tar archive extracts with GNU tar, long names included")
    func tarExtractsWithGNUTar() throws {
        let longName = (0..<12).map { "directory\($0)" }.joined(separator: "/") + "/file.txt"
        var archive = TarArchive()
        archive.addFile(path: "main.py", contents: Array("print(1)\n".utf8))
        archive.addFile(path: "pkg/a..b.py", contents: Array("x = 'é'\n".utf8))
        archive.addFile(path: longName, contents: Array(repeating: 65, count: 1000))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tar-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let tarFile = directory.appendingPathComponent("a.tar")
        try Data(archive.finished()).write(to: tarFile)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
        process.arguments = ["-xf", tarFile.path, "-C", directory.path]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(try String(contentsOf: directory.appendingPathComponent("main.py"), encoding: .utf8) == "print(1)\n")
        #expect(try String(contentsOf: directory.appendingPathComponent("pkg/a..b.py"), encoding: .utf8) == "x = 'é'\n")
        #expect(try Data(contentsOf: directory.appendingPathComponent(longName)).count == 1000)
    }

    @Test("the trailer is found wherever the chunks split it, and never leaks into stdout")
    func trailerAcrossEveryChunkBoundary() {
        let nonce = "0123456789abcdef0123456789abcdef"
        let stream = Array("hello\nworld".utf8) + Array("@@code-runner:\(nonce)@@ 3 7\n{\"a\":1}".utf8)
        for split in 0...stream.count {
            var scanner = TrailerScanner(nonce: nonce, metadataCap: 100)
            var output = scanner.feed(stream[..<split])
            output += scanner.feed(stream[split...])
            output += scanner.finish()
            #expect(String(decoding: output, as: UTF8.self) == "hello\nworld", "split at \(split)")
            #expect(scanner.trailer == .init(exitStatus: 3, metadata: Array("{\"a\":1}".utf8), metadataTooLarge: false))
        }
    }

    @Test("a run is finished only when both streams have their markers, in either order")
    func finishedNeedsBothMarkers() {
        let nonce = "0123456789abcdef0123456789abcdef"
        let stdout = ByteBuffer(string: "out\n@@code-runner:\(nonce)@@ 1 0 0\n")
        let stderr = ByteBuffer(string: "late error\n@@code-runner:\(nonce)@@ end\n")
        for stdoutFirst in [true, false] {
            let collector = RunOutputCollector(cap: 1024, nonce: nonce, metadataCap: 100)
            let first: (AttachStream, ByteBuffer) = stdoutFirst ? (.stdout, stdout) : (.stderr, stderr)
            let second: (AttachStream, ByteBuffer) = stdoutFirst ? (.stderr, stderr) : (.stdout, stdout)
            guard case .keepReading = collector.accept(first.0, first.1) else {
                Issue.record("finished after one stream's marker (stdout first: \(stdoutFirst))")
                continue
            }
            guard case .finished = collector.accept(second.0, second.1) else {
                Issue.record("not finished after both markers (stdout first: \(stdoutFirst))")
                continue
            }
            let (out, err, trailer) = collector.finish()
            #expect(out.text == "out\n")
            #expect(err.text == "late error\n")
            #expect(trailer?.exitStatus == 1)
        }
    }

    @Test("output without a trailer is passed through whole")
    func noTrailer() {
        var scanner = TrailerScanner(nonce: "ffffffffffffffffffffffffffffffff", metadataCap: 10)
        var output = scanner.feed(Array("@@code-runner:partial".utf8))
        output += scanner.finish()
        #expect(String(decoding: output, as: UTF8.self) == "@@code-runner:partial")
        #expect(scanner.trailer == nil)
    }

    @Test("multiplexed frames decode when fed one byte at a time")
    func framesByteByByte() throws {
        var bytes: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 3] + Array("out".utf8)
        bytes += [2, 0, 0, 0, 0, 0, 0, 2] + Array("er".utf8)
        var decoder = StreamFrameDecoder()
        var frames: [(AttachStream, String)] = []
        for byte in bytes {
            for (stream, payload) in try decoder.feed(ByteBuffer(bytes: [byte])) {
                frames.append((stream, String(buffer: payload)))
            }
        }
        #expect(frames.map(\.0) == [.stdout, .stderr])
        #expect(frames.map(\.1) == ["out", "er"])
        #expect(decoder.leftover == 0)
    }

    @Test("the capped output keeps the first bytes and counts the rest")
    func cappedOutput() {
        var output = CappedOutput(cap: 4)
        output.append(Array("abc".utf8))
        output.append(Array("defg".utf8))
        #expect(output.text == "abcd")
        #expect(output.truncated)
        #expect(output.total == 7)
    }

    @Test("the cap is hard: the service's note fits inside it, cut at a character, never past it")
    func noteInsideTheCap() {
        var output = CappedOutput(cap: 10)
        output.append(Array("héllo".utf8))  // 6 bytes
        #expect(output.text(endingWith: "") == ("héllo", false))
        #expect(output.text(endingWith: "[n]") == ("héllo[n]", false))
        // 6 + 6 > 10: the program's text gives way to 4 bytes, at a character boundary (é is 2)
        let cut = output.text(endingWith: "[note]")
        #expect(cut.text == "hél[note]" && cut.truncated)
        #expect(cut.text.utf8.count <= 10)
        // a note longer than the cap is itself cut
        #expect(output.text(endingWith: String(repeating: "n", count: 20)).text == String(repeating: "n", count: 10))
        // invalid bytes decode to U+FFFD (3 bytes each): still within the cap
        var invalid = CappedOutput(cap: 4)
        invalid.append([0xFF, 0xFF, 0xFF, 0xFF])
        let decoded = invalid.text(endingWith: "")
        #expect(decoded.text.utf8.count <= 4 && decoded.truncated)
    }

    @Test("the input starts with the protocol header and carries code after files")
    func inputHeader() {
        let payload = Self.payload(files: [WorkFile(name: "main.py", content: "ignored")], entrypoint: "echo hi", stdin: "abc")
        let input = RunInput(payload: payload, nonce: String(repeating: "a", count: 32))
        let text = String(buffer: input.bytes)
        let header = text.prefix { $0 != "\n" }.split(separator: " ")
        #expect(header.count == 6)
        #expect(header[0] == "CR1")
        #expect(header[3] == "3")
        #expect(header[4] == "50")
        #expect(header[5] == Substring(Data("echo hi".utf8).base64EncodedString()))
        #expect(Int(header[2]).map { $0 % 512 == 0 } == true)
        #expect(text.hasSuffix("abc"))
    }

    @Test("a warm container's input carries the environment after the header, a cold one's does not")
    func environmentInHeader() {
        var payload = Self.payload(files: [], entrypoint: nil, stdin: "in")
        payload.environment = [EnvironmentVariable(name: "A", value: "b c"), EnvironmentVariable(name: "EMPTY", value: "")]
        let nonce = String(repeating: "a", count: 32)
        let warm = Array(buffer: RunInput(payload: payload, nonce: nonce, environmentInHeader: true).bytes)
        let block = Array("A=b c\u{0}EMPTY=\u{0}".utf8)
        let newline = warm.firstIndex(of: UInt8(ascii: "\n")) ?? warm.endIndex
        let header = String(decoding: warm[..<newline], as: UTF8.self).split(separator: " ")
        #expect(header.count == 10)
        #expect(header[6...] == ["-", "0", "0", "\(block.count)"])
        #expect(Array(warm[(newline + 1)...].prefix(block.count)) == block)

        let cold = Array(buffer: RunInput(payload: payload, nonce: nonce).bytes)
        #expect(String(decoding: cold.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self).split(separator: " ").count == 6)
        #expect(cold.count == warm.count - block.count - " - 0 0 \(block.count)".utf8.count)

        payload.outputFiles = OutputFilesRequest(patterns: ["*.png"], maxFiles: 2, maxBytes: 10, reportsEmpty: true)
        let withFiles = Array(buffer: RunInput(payload: payload, nonce: nonce, environmentInHeader: true).bytes)
        let fields = String(decoding: withFiles.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self).split(separator: " ")
        #expect(fields.count == 10 && fields[7] == "2" && fields[8] == "10" && fields[9] == "\(block.count)")
    }

    /// A python payload with small limits (the header's numbers are checked against them).
    static func payload(files: [WorkFile], entrypoint: String?, stdin: String) -> RunPayload {
        RunPayload(
            code: "print(1)",
            image: "code-runner-python",
            mainFile: "main.py",
            files: files,
            entrypoint: entrypoint,
            stdin: stdin,
            timeoutSeconds: 5,
            memoryBytes: 1 << 28,
            cpuShares: 512,
            nanoCPUs: 1_000_000_000,
            diskBytes: 1 << 26,
            pidsLimit: 64,
            maxOutputBytes: 100,
            maxMetadataBytes: 50
        )
    }
}
