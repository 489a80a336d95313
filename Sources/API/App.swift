import Foundation
import Hummingbird
import Logging
import Queue

/// `code-runner-api`: the HTTP API. It validates requests, stores them as jobs in SQLite and
/// waits for workers to finish them; it never connects to Docker.
@main
struct APIMain {
    static func main() async {
        let settings: ServiceSettings
        do {
            settings = try await ServiceSettings.load()
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            exit(1)
        }
        LogOutput.bootstrap(settings)
        let logger = Logger(label: "code-runner.api")
        do {
            let app = try makeApplication(settings: settings, logger: logger)
            if !settings.authEnabled {
                logger.warning("No authentication configured. API is open to all requests. Set CODE_RUNNER_API_KEYS or AUTH_TOKEN to secure the API.")
            }
            try await app.runService()
        } catch {
            logger.critical("API stopped", metadata: ["error": "\(error)"])
            exit(1)
        }
    }

    /// The whole API: routes, error mapping, the completion watcher and the lease reaper.
    /// `main` and the tests build it the same way.
    static func makeApplication(settings: ServiceSettings, logger: Logger, store: (any JobStore)? = nil) throws -> some ApplicationProtocol {
        let store = try store ?? SQLiteJobStore(path: settings.databasePath)
        let waiters = CompletionWaiters(store: store)
        let dependencies = AppDependencies(
            store: store, settings: settings,
            catalog: RuntimeCatalog.load(from: settings.runtimeDirectory, logger: logger),
            waiters: waiters,
            authenticator: Authenticator(apiKeys: settings.apiKeys, authToken: settings.authToken))
        let router = Router()
        _ = APIMetrics.bootstrapped
        // Outermost, so it counts the statuses the error middleware answers with.
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ErrorMiddleware(knownPaths: [
            "/", "/health", "/openapi.json", "/images", "/runtimes", "/run", "/jobs", "/jobs/{id}",
            "/prebuild", "/prebuilds", "/prebuilds/{tag}", "/prebuilds/cleanup", "/metrics",
        ]))
        OperationsRoutes(dependencies: dependencies).register(on: router)
        ExecutionRoutes(dependencies: dependencies).register(on: router)
        JobRoutes(dependencies: dependencies).register(on: router)
        PrebuildRoutes(dependencies: dependencies).register(on: router)
        MetricsRoutes(dependencies: dependencies).register(on: router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "code-runner"),
            services: [CompletionWatcher(store: store, waiters: waiters), LeaseReaper(store: store)],
            logger: logger)
    }
}
