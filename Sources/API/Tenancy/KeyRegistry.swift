import Foundation
import Logging
import Queue
import Synchronization

/// The credentials the API accepts now: the keys of `API_KEYS_FILE` (`APIKeyFile`), reloaded
/// whenever the file is written or replaced, and those of `CODE_RUNNER_API_KEYS` and
/// `AUTH_TOKEN`, unlimited (`key-1`, `key-2`, … in order, and `auth-token`).
///
/// A reload that finds the file malformed or unreadable keeps the last good keys, logs why and
/// shows it in `status` (`/health`); at start the same is a `StartFailure`. Keys are looked up
/// by the SHA-256 of what the client sent, so no comparison ever touches a key itself.
final class KeyRegistry: Sendable {
    /// Where the keys come from, for `/health`.
    struct Status: Sendable, Equatable {
        enum Source: String, Sendable { case file, environment, none }
        var source: Source
        var path: String?
        var keys: Int
        /// When the file was last loaded successfully.
        var loadedAt: Date?
        /// Why the last reload failed; nil once a load succeeds.
        var error: String?
    }

    /// The keys file could not be loaded at start.
    struct StartFailure: Error, CustomStringConvertible {
        var path: String
        var reason: String
        var description: String { "API_KEYS_FILE \(path): \(reason)" }
    }

    private struct State {
        var fileKeys: [String: APIKey] = [:]
        var status: Status
    }

    private let state: Mutex<State>
    /// `CODE_RUNNER_API_KEYS`, by the SHA-256 hex of each key.
    private let environmentKeys: [String: APIKey]
    /// `AUTH_TOKEN`'s SHA-256 hex and key.
    private let token: (digest: String, key: APIKey)?
    private let path: String?
    private let logger: Logger
    private let reloaded = ChangeBroadcaster()
    private let monitor = Mutex<FileWriteMonitor?>(nil)

    init(settings: ServiceSettings, logger: Logger) throws(StartFailure) {
        self.logger = logger
        path = settings.apiKeysFile
        var environment: [String: APIKey] = [:]
        for (index, key) in settings.apiKeys.enumerated() {
            let digest = SHA256.hexDigest(Array(key.utf8))
            environment[digest] =
                environment[digest] ?? APIKey(name: "key-\(index + 1)", owner: APIKey.owner(ofKeyDigest: digest), limits: .unlimited)
        }
        environmentKeys = environment
        token = settings.authToken.map { secret in
            let digest = SHA256.hexDigest(Array(secret.utf8))
            return (digest, APIKey(name: "auth-token", owner: "token:" + digest, limits: .unlimited))
        }
        var status = Status(source: .none, path: settings.apiKeysFile, keys: environment.count + (token == nil ? 0 : 1))
        if !environment.isEmpty || token != nil { status.source = .environment }
        var fileKeys: [String: APIKey] = [:]
        if let path = settings.apiKeysFile {
            do throws(APIKeyFile.Invalid) {
                fileKeys = Self.byDigest(try APIKeyFile.load(path: path))
            } catch {
                throw StartFailure(path: path, reason: error.reason)
            }
            status.source = .file
            status.keys += fileKeys.count
            status.loadedAt = Date()
        }
        state = Mutex(State(fileKeys: fileKeys, status: status))
    }

    /// Starts watching the keys file (its directory: editors replace files by renaming over them).
    func watch() {
        guard let path else { return }
        let url = URL(fileURLWithPath: path)
        let watcher = FileWriteMonitor(
            directory: url.deletingLastPathComponent().path,
            names: [url.lastPathComponent],
            events: .completedWrites
        ) { [weak self] in
            self?.reload()
        }
        if watcher == nil { logger.warning("API_KEYS_FILE cannot be watched; it is read at start only", metadata: ["path": "\(path)"]) }
        monitor.withLock { $0 = watcher }
    }

    /// Reads the keys file again: its keys replace the current ones, or, when it is malformed,
    /// the current ones stay and `status.error` says why. Every reload wakes `reloads()`.
    func reload() {
        guard let path else { return }
        do throws(APIKeyFile.Invalid) {
            let keys = Self.byDigest(try APIKeyFile.load(path: path))
            state.withLock { state in
                state.status.keys += keys.count - state.fileKeys.count
                state.fileKeys = keys
                state.status.loadedAt = Date()
                state.status.error = nil
            }
            logger.info("API_KEYS_FILE reloaded", metadata: ["path": "\(path)", "keys": "\(keys.count)"])
        } catch {
            state.withLock { $0.status.error = error.reason }
            logger.error("API_KEYS_FILE is invalid; the keys loaded before stay in use", metadata: ["path": "\(path)", "reason": "\(error.reason)"])
        }
        reloaded.broadcast()
    }

    /// A hint after each reload (successful or not); read `status` and `keys` then.
    func reloads() -> AsyncStream<Void> { reloaded.subscribe() }

    var status: Status { state.withLock { $0.status } }

    var isEnabled: Bool { path != nil || !environmentKeys.isEmpty || token != nil }

    /// Every key, file keys first (for the claims' caps: `Tenant`).
    var keys: [APIKey] {
        let file = state.withLock { Array($0.fileKeys.values) }
        let fileOwners = Set(file.map(\.owner))
        return (file + environmentKeys.values.filter { !fileOwners.contains($0.owner) } + [token?.key].compactMap { $0 })
            .sorted { $0.owner < $1.owner }
    }

    /// The key sent in `X-API-Key`: a file key or one of `CODE_RUNNER_API_KEYS`.
    func apiKey(_ secret: [UInt8]) -> APIKey? {
        let digest = SHA256.hexDigest(secret)
        return state.withLock { $0.fileKeys[digest] } ?? environmentKeys[digest]
    }

    /// The credential sent as `Authorization: Bearer`: a file key or `AUTH_TOKEN`.
    func bearer(_ secret: [UInt8]) -> APIKey? {
        let digest = SHA256.hexDigest(secret)
        if let key = state.withLock({ $0.fileKeys[digest] }) { return key }
        if let token, token.digest == digest { return token.key }
        return nil
    }

    /// The name of the key whose jobs have `owner`, if it is one of the current keys.
    func name(ofOwner owner: String) -> String? {
        if owner.isEmpty && !isEnabled { return APIKey.anonymous.name }
        return keys.first { $0.owner == owner }?.name
    }

    private static func byDigest(_ keys: [APIKey]) -> [String: APIKey] {
        Dictionary(keys.map { (String($0.owner.dropFirst("key:".count)), $0) }, uniquingKeysWith: { first, _ in first })
    }
}
