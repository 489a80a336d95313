import Logging
import Queue
import ServiceLifecycle

/// Keeps the queue's `tenants` table (the claims' caps on running jobs: `Tenant`) equal to the
/// API's keys: written at start and after every reload of `API_KEYS_FILE`, which it watches.
/// A write that fails (the database away) is tried again every few seconds until it succeeds:
/// until then claims apply the caps written before.
struct TenantSync: Service {
    let registry: KeyRegistry
    let store: any JobStore
    let logger: Logger
    static let retryInterval: Duration = .seconds(5)

    func run() async throws {
        registry.watch()
        let reloads = registry.reloads()
        await write()
        for await _ in reloads.cancelOnGracefulShutdown() { await write() }
    }

    /// Writes the current keys' caps, trying again until it succeeds or the API stops.
    private func write() async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await store.replaceTenants(registry.keys.map(\.tenant))
                return
            } catch {
                logger.warning("the keys' caps could not be stored; trying again", metadata: ["error": "\(error)"])
            }
            do { try await Task.sleep(for: Self.retryInterval) } catch { return }
        }
    }
}
