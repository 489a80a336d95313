import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A thin, typed client of the Docker Engine API over its unix socket: one long-lived
/// `HTTPClient`, API version pinned to 1.41, and the `Host: localhost` header Docker insists on
/// (AsyncHTTPClient sends none for `http+unix` URLs). Attach streams go through
/// `DockerAttachConnection` instead, which can wait for the upgrade and half-close.
final class DockerClient: Sendable {
    static let apiVersion = "v1.41"

    let socketPath: String
    private let http: HTTPClient
    private let baseURL: String

    init(socketPath: String) {
        self.socketPath = socketPath
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(600))
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let encoded = socketPath.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socketPath
        baseURL = "http+unix://\(encoded)/\(Self.apiVersion)"
    }

    /// Closes the connection pool; call once when the worker stops.
    func shutdown() async {
        try? await http.shutdown()
    }

    // MARK: - engine

    func version() async throws -> EngineVersion {
        try await decode(EngineVersion.self, from: request(.GET, "/version", timeout: .seconds(5)))
    }

    /// Local images whose reference starts with `prefix` (e.g. `code-runner-`).
    func imageTags(prefix: String) async throws -> [String] {
        let images = try await decode([ImageSummary].self, from: request(.GET, "/images/json"))
        return images.flatMap { $0.RepoTags ?? [] }
            .filter { $0.hasPrefix(prefix) }
            .map { $0.hasSuffix(":latest") ? String($0.dropLast(7)) : $0 }
    }

    // MARK: - containers

    func createContainer(_ config: ContainerConfig) async throws -> String {
        let body = try JSONEncoder().encode(config)
        return try await decode(ContainerCreated.self, from: request(.POST, "/containers/create", body: body)).Id
    }

    func startContainer(_ id: String) async throws {
        _ = try await request(.POST, "/containers/\(id)/start")
    }

    /// Blocks until the container is not running; returns its exit status.
    func waitContainer(_ id: String) async throws -> Int {
        try await decode(
            ContainerWaitResponse.self, from: request(.POST, "/containers/\(id)/wait?condition=not-running")
        ).StatusCode
    }

    func inspectContainer(_ id: String) async throws -> ContainerInspect {
        try await decode(ContainerInspect.self, from: request(.GET, "/containers/\(id)/json"))
    }

    /// Sends SIGKILL; a container that already stopped is not an error.
    func killContainer(_ id: String) async throws {
        do {
            _ = try await request(.POST, "/containers/\(id)/kill?signal=SIGKILL", timeout: .seconds(10))
        } catch let error as DockerEngineError {
            if case .status(409, _) = error { return }  // not running
            if error.isNotFound { return }
            throw error
        }
    }

    /// Force-removes a container (and its anonymous volumes); a missing one is not an error.
    func removeContainer(_ id: String) async throws {
        do {
            _ = try await request(.DELETE, "/containers/\(id)?force=1&v=1", timeout: .seconds(30))
        } catch let error as DockerEngineError where error.isNotFound {
            return
        } catch let error as DockerEngineError {
            if case .status(409, _) = error { return }  // removal already in progress
            throw error
        }
    }

    /// Containers (running or not) carrying `label` (`key=value`).
    func containers(withLabel label: String) async throws -> [ContainerSummary] {
        let filters = #"{"label":["\#(label)"]}"#
        let query = filters.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return try await decode([ContainerSummary].self, from: request(.GET, "/containers/json?all=1&filters=\(query)"))
    }

    // MARK: - networks

    /// Makes sure a bridge network named `name` exists with inter-container traffic disabled
    /// (`enable_icc=false`): sandboxes that asked for network reach the outside, not each other.
    func ensureIsolatedBridge(named name: String, labels: [String: String]) async throws {
        do {
            _ = try await request(.GET, "/networks/\(name)")
            return
        } catch let error as DockerEngineError where error.isNotFound {}
        let body = try JSONEncoder().encode(NetworkCreate(
            Name: name, Driver: "bridge", CheckDuplicate: true,
            Options: ["com.docker.network.bridge.enable_icc": "false"], Labels: labels))
        do {
            _ = try await request(.POST, "/networks/create", body: body)
        } catch DockerEngineError.status(409, _) {
            return  // another worker created it meanwhile
        }
    }

    // MARK: - transport

    private func request(
        _ method: HTTPMethod, _ path: String, body: Data? = nil, timeout: TimeAmount = .seconds(60)
    ) async throws -> ByteBuffer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Host", value: "localhost")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch {
            throw DockerEngineError.unreachable(String(describing: error))
        }
        let buffer: ByteBuffer
        do {
            buffer = try await response.body.collect(upTo: 64 * 1024 * 1024)
        } catch {
            throw DockerEngineError.unreachable("reading the answer failed: \(error)")
        }
        guard (200..<300).contains(response.status.code) else {
            let message = (try? JSONDecoder().decode(EngineErrorBody.self, from: Data(buffer.readableBytesView)))?.message
                ?? String(buffer: buffer)
            throw DockerEngineError.status(code: Int(response.status.code), message: message)
        }
        return buffer
    }

    private func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(buffer.readableBytesView))
        } catch {
            throw DockerEngineError.malformedResponse("\(T.self): \(error)")
        }
    }
}
