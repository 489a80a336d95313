import Foundation
import Testing

/// Suites that need the real Docker engine (`DOCKER_SOCKET`, default `/var/run/docker.sock`).
///
/// Without an engine they are skipped with the reason, so `swift test` on a laptop without
/// Docker still runs every unit test. `make test` starts dockerd first and sets
/// `CODE_RUNNER_REQUIRE_DOCKER=1`: there a missing engine fails these suites instead of skipping
/// them, so CI can never pass without running them.
extension Trait where Self == ConditionTrait {
    static var needsDocker: Self {
        .enabled(
            if: DockerEngineProbe.required || DockerEngineProbe.socketAnswers,
            "no Docker engine answers at \(DockerEngineProbe.socketPath) (make test starts one)"
        )
    }
}

enum DockerEngineProbe {
    static let socketPath = ProcessInfo.processInfo.environment["DOCKER_SOCKET"] ?? "/var/run/docker.sock"

    /// `make test` asks for the Docker suites to run, never to be skipped.
    static let required = ProcessInfo.processInfo.environment["CODE_RUNNER_REQUIRE_DOCKER"] == "1"

    /// Whether something accepts a connection on the engine's unix socket.
    static let socketAnswers: Bool = {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path)
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return connected == 0
    }()
}
