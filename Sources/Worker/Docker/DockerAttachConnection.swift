import NIOCore
import NIOPosix

/// One hijacked `POST /containers/{id}/attach` connection on the engine's unix socket, driven
/// with raw SwiftNIO because it must (measured when the attach path was written; the test "the
/// full 1 MiB of code runs" in `Tests/WorkerTests/SandboxIntegrationTests.swift` exercises both):
/// - send **nothing** after the request head until Docker's response head has arrived — Docker
///   drops stdin bytes that arrive together with the head;
/// - half-close the socket after the input, which AsyncHTTPClient cannot do.
struct DockerAttachConnection {
    let socketPath: String

    /// Attaches to `containerID`, runs `afterUpgrade` (typically: start the container) once the
    /// stream is established, waits for `input` (a warm container waits here for its job; nil
    /// means "never used": the connection is closed), writes it to the container's stdin and
    /// half-closes it, calls `inputDelivered`, then hands every output frame to `onFrame` until
    /// the engine closes the stream (the container exited or was killed) or `onFrame` answers
    /// false (the caller has what it needs; the connection is closed).
    func run(
        containerID: String,
        input: ByteBuffer,
        afterUpgrade: () async throws -> Void,
        inputDelivered: () -> Void,
        onFrame: (AttachStream, ByteBuffer) -> Bool
    ) async throws {
        try await run(
            containerID: containerID,
            awaitingInput: { input },
            afterUpgrade: afterUpgrade,
            inputDelivered: inputDelivered,
            onFrame: onFrame
        )
    }

    func run(
        containerID: String,
        awaitingInput: () async throws -> ByteBuffer?,
        afterUpgrade: () async throws -> Void,
        inputDelivered: () -> Void,
        onFrame: (AttachStream, ByteBuffer) -> Bool
    ) async throws {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: socketPath) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                    }
                }
        } catch {
            throw DockerEngineError.unreachable("attach: \(error)")
        }
        try await channel.executeThenClose { inbound, outbound in
            var iterator = inbound.makeAsyncIterator()
            try await outbound.write(
                ByteBuffer(
                    string: "POST /\(DockerClient.apiVersion)/containers/\(containerID)/attach"
                        + "?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n"
                        + "Host: localhost\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
                )
            )
            var decoder = StreamFrameDecoder()
            let leftover = try await Self.readResponseHead(from: &iterator)
            for (stream, payload) in try decoder.feed(leftover) { _ = onFrame(stream, payload) }

            try await afterUpgrade()
            guard let input = try await awaitingInput() else { return }
            try await outbound.write(input)
            outbound.finish()
            inputDelivered()

            while let chunk = try await iterator.next() {
                for (stream, payload) in try decoder.feed(chunk) where !onFrame(stream, payload) { return }
            }
        }
    }

    /// Reads up to the end of the HTTP response head; returns the bytes that followed it.
    private static func readResponseHead(
        from iterator: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    ) async throws -> ByteBuffer {
        var head = ByteBuffer()
        let terminator = Array("\r\n\r\n".utf8)
        while true {
            guard var chunk = try await iterator.next() else {
                throw DockerEngineError.malformedResponse("attach: connection closed before the response head")
            }
            head.writeBuffer(&chunk)
            let view = head.readableBytesView
            if let end = view.firstRange(of: terminator) {
                let headLength = end.upperBound - view.startIndex
                let headText = head.getString(at: head.readerIndex, length: headLength) ?? ""
                let statusLine = headText.prefix { $0 != "\r" }
                guard statusLine.contains(" 101 ") || statusLine.contains(" 200 ") else {
                    throw DockerEngineError.status(
                        code: Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 500,
                        message: "attach refused: \(headText.split(separator: "\r\n").last ?? "")"
                    )
                }
                head.moveReaderIndex(forwardBy: headLength)
                return head
            }
            guard head.readableBytes < 64 * 1024 else {
                throw DockerEngineError.malformedResponse("attach: response head too large")
            }
        }
    }
}
