import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Queue

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

    /// The engine's version and image count: a few milliseconds of engine time, unlike listing
    /// the images, whose cost grows with their number (≈ 50 ms for 37 images here).
    func info() async throws -> EngineInfo {
        try await decode(EngineInfo.self, from: request(.GET, "/info", timeout: .seconds(5)))
    }

    /// Local images whose reference starts with one of `prefixes` (e.g. `code-runner-`).
    func imageTags(prefixes: [String]) async throws -> [String] {
        let images = try await decode([ImageSummary].self, from: request(.GET, "/images/json", timeout: .seconds(10)))
        return images.flatMap { $0.repoTags ?? [] }
            .filter { tag in prefixes.contains { tag.hasPrefix($0) } }
            .map { $0.hasSuffix(":latest") ? String($0.dropLast(7)) : $0 }
    }

    // MARK: - containers

    func createContainer(_ config: some Encodable & Sendable) async throws -> String {
        let body = try JSONEncoder().encode(config)
        return try await decode(ContainerCreated.self, from: request(.POST, "/containers/create", body: body)).id
    }

    func startContainer(_ id: String) async throws {
        _ = try await request(.POST, "/containers/\(id)/start")
    }

    /// Blocks until the container is not running (at most `timeout`); returns its exit status.
    func waitContainer(_ id: String, timeout: TimeAmount = .seconds(60)) async throws -> Int {
        try await decode(
            ContainerWaitResponse.self,
            from: request(.POST, "/containers/\(id)/wait?condition=not-running", timeout: timeout)
        ).statusCode
    }

    func inspectContainer(_ id: String) async throws -> ContainerInspect {
        try await decode(ContainerInspect.self, from: request(.GET, "/containers/\(id)/json"))
    }

    /// The size of the container's writable layer in bytes (the engine walks the layer: a few
    /// milliseconds for thousands of files, so call it seconds apart, not in a tight loop).
    func writableLayerSize(_ id: String) async throws -> Int64 {
        try await decode(ContainerInspect.self, from: request(.GET, "/containers/\(id)/json?size=1", timeout: .seconds(120))).writableLayerBytes ?? 0
    }

    /// Unpacks a tar archive at `path` inside a container (created or running).
    func putArchive(_ id: String, path: String, archive: [UInt8]) async throws {
        let query = path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? path
        _ = try await request(.PUT, "/containers/\(id)/archive?path=\(query)", body: Data(archive), contentType: "application/x-tar")
    }

    /// Makes an image of a stopped container's file system as `repository:tag`, with `config`
    /// as the image's configuration (the fields it leaves nil come from the container's);
    /// returns the new image's id.
    func commitContainer(_ id: String, repository: String, tag: String, config: ImageInspect.Configuration) async throws -> String {
        let query = "container=\(id)&repo=\(repository)&tag=\(tag)&pause=0"
        return try await decode(
            ContainerCreated.self,
            from: request(.POST, "/commit?\(query)", body: try JSONEncoder().encode(config), timeout: .seconds(600))
        ).id
    }

    /// Changes memory (and swap, always equal: no swap) and CPU limits of a running container.
    func updateContainer(_ id: String, memory: Int64, nanoCPUs: Int64, cpuShares: Int) async throws {
        let body = try JSONEncoder().encode(ContainerUpdate(memory: memory, memorySwap: memory, nanoCPUs: nanoCPUs, cpuShares: cpuShares))
        _ = try await request(.POST, "/containers/\(id)/update", body: body)
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

    /// Both streams of a stopped container's log (json-file driver), as the engine frames them.
    func logs(_ id: String) async throws -> ByteBuffer {
        try await request(.GET, "/containers/\(id)/logs?stdout=1&stderr=1")
    }

    /// A tar of `path` inside a container, or nil when the path does not exist.
    func archive(_ id: String, path: String) async throws -> ByteBuffer? {
        let query = path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? path
        do {
            return try await request(.GET, "/containers/\(id)/archive?path=\(query)")
        } catch let error as DockerEngineError where error.isNotFound {
            return nil
        }
    }

    // MARK: - volumes

    func createVolume(named name: String) async throws {
        _ = try await request(.POST, "/volumes/create", body: try JSONEncoder().encode(["Name": name]))
    }

    func removeVolume(named name: String) async throws {
        _ = try await request(.DELETE, "/volumes/\(name)", timeout: .seconds(30))
    }

    // MARK: - images

    /// Removes an image reference (only the tag, when the image has others); missing is fine.
    func removeImage(_ reference: String) async throws {
        do {
            _ = try await request(.DELETE, "/images/\(reference)?force=1")
        } catch let error as DockerEngineError where error.isNotFound {
            return
        }
    }

    /// An image's id, size and configuration, nil when it does not exist.
    func inspectImage(_ reference: String) async throws -> ImageInspect? {
        do {
            return try await decode(ImageInspect.self, from: request(.GET, "/images/\(reference)/json"))
        } catch let error as DockerEngineError where error.isNotFound {
            return nil
        }
    }

    /// Removes an image by id unless a container still uses it (then it stays; not an error).
    func removeImageIfUnused(_ id: String) async throws {
        do {
            _ = try await request(.DELETE, "/images/\(id)")
        } catch let error as DockerEngineError {
            if error.isNotFound { return }
            if case .status(409, _) = error { return }  // in use, or tagged elsewhere
            throw error
        }
    }

    /// The size of an image in bytes, nil when it does not exist.
    func imageSize(_ reference: String) async throws -> Int64? {
        do {
            return try await decode(ImageInspect.self, from: request(.GET, "/images/\(reference)/json")).size
        } catch let error as DockerEngineError where error.isNotFound {
            return nil
        }
    }

    // MARK: - networks

    /// Makes sure the network `spec` describes exists (created when missing; one created by
    /// another worker meanwhile is fine). What the network is, is the spec's business
    /// (`SandboxSpec.network(deploymentID:)`).
    func ensureNetwork(_ spec: NetworkCreate) async throws {
        do {
            _ = try await request(.GET, "/networks/\(spec.name)")
            return
        } catch let error as DockerEngineError where error.isNotFound {}
        do {
            _ = try await request(.POST, "/networks/create", body: try JSONEncoder().encode(spec))
        } catch DockerEngineError.status(409, _) {
            return  // another worker created it meanwhile
        }
    }

    /// The host interface of the bridge network `name` (its `com.docker.network.bridge.name`
    /// option, else Docker's `br-<id>`), or nil when there is no such network.
    func networkBridge(_ name: String) async throws -> String? {
        try await bridgeNetwork(name)?.interface
    }

    /// The bridge network `name` as the host sees it: its interface and its gateway address (the
    /// host's own address on it), or nil when there is no such network.
    func bridgeNetwork(_ name: String) async throws -> BridgeNetwork? {
        struct Network: Decodable {
            struct Addressing: Decodable {
                struct Range: Decodable {
                    var gateway: String?
                    enum CodingKeys: String, CodingKey { case gateway = "Gateway" }
                }
                var config: [Range]?
                enum CodingKeys: String, CodingKey { case config = "Config" }
            }
            var id: String
            var options: [String: String]?
            var addressing: Addressing?
            enum CodingKeys: String, CodingKey {
                case id = "Id"
                case options = "Options"
                case addressing = "IPAM"
            }
        }
        do {
            let network = try await decode(Network.self, from: request(.GET, "/networks/\(name)"))
            let gateway = network.addressing?.config?.lazy.compactMap(\.gateway)
                .compactMap { try? IPv4Network.parse($0).get() }.first
            return BridgeNetwork(
                interface: network.options?[SandboxSpec.bridgeNameOption] ?? "br-" + String(network.id.prefix(12)),
                gateway: gateway
            )
        } catch let error as DockerEngineError where error.isNotFound {
            return nil
        }
    }

    /// Removes the network `name` unless a container is still attached to it (Docker refuses
    /// that with 403, answered here with `false`). A network already gone counts as removed.
    @discardableResult
    func removeNetworkIfUnused(_ name: String) async throws -> Bool {
        do {
            _ = try await request(.DELETE, "/networks/\(name)")
            return true
        } catch let error as DockerEngineError where error.isNotFound {
            return true
        } catch DockerEngineError.status(403, _), DockerEngineError.status(409, _) {
            return false
        }
    }

    // MARK: - transport

    private func request(
        _ method: HTTPMethod,
        _ path: String,
        body: Data? = nil,
        contentType: String = "application/json",
        timeout: TimeAmount = .seconds(60)
    ) async throws -> ByteBuffer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Host", value: "localhost")
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
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
            let message =
                (try? JSONDecoder().decode(EngineErrorBody.self, from: Data(buffer.readableBytesView)))?.message
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
