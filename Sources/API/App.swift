import Foundation
import Hummingbird
import Logging
import Queue

/// `code-runner-api`: the HTTP API. It validates requests, stores them as jobs (SQLite, or PostgreSQL for several hosts) and
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
        let store: any JobStore
        do {
            store = try await JobStores.open(settings: settings, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("code-runner-api: \(error)\n".utf8))
            exit(1)
        }
        do {
            let app = try makeApplication(settings: settings, logger: logger, store: store)
            if !settings.authEnabled {
                logger.warning(
                    "No authentication configured. API is open to all requests. Set API_KEYS_FILE, CODE_RUNNER_API_KEYS or AUTH_TOKEN to secure the API."
                )
            }
            try await app.runService()
        } catch let failure as KeyRegistry.StartFailure {
            FileHandle.standardError.write(Data("code-runner-api: \(failure)\n".utf8))
            exit(1)
        } catch {
            logger.critical("API stopped", metadata: ["error": "\(error)"])
            exit(1)
        }
    }

    /// The whole API: routes, error mapping, the completion watcher and the lease reaper.
    /// `main` and the tests build it the same way. Throws when the database cannot be opened or
    /// the OpenAPI document cannot be loaded: the API does not start without either.
    static func makeApplication(settings: ServiceSettings, logger: Logger, store: (any JobStore)? = nil) throws -> some ApplicationProtocol {
        _ = try OpenAPIDocument.loaded.get()
        let dependencies = try makeDependencies(settings: settings, logger: logger, store: store)
        return Application(
            router: makeRouter(dependencies: dependencies),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "code-runner"),
            services: [
                CompletionWatcher(store: dependencies.store, waiters: dependencies.waiters), LeaseReaper(store: dependencies.store),
                TenantSync(registry: dependencies.authenticator.registry, store: dependencies.store, logger: logger),
            ],
            logger: logger
        )
    }

    /// What the routes share: the job store (`settings.databasePath` unless one is given), the
    /// runtime catalogue, the completion waiters and the credentials. Throws
    /// `KeyRegistry.StartFailure` when `API_KEYS_FILE` cannot be loaded.
    static func makeDependencies(settings: ServiceSettings, logger: Logger, store: (any JobStore)? = nil) throws -> AppDependencies {
        let store = try store ?? SQLiteJobStore(path: settings.databasePath)
        return AppDependencies(
            store: store,
            settings: settings,
            catalog: RuntimeCatalog.load(from: settings.runtimeDirectory, logger: logger),
            waiters: CompletionWaiters(store: store),
            authenticator: Authenticator(registry: try KeyRegistry(settings: settings, logger: logger))
        )
    }

    /// Every route, and the middlewares in the order they must wrap them. A middleware wraps
    /// the routes added after it (and the not-found responder), so metrics and error mapping
    /// come first and `UnmatchedRouteMiddleware`, which needs the finished route table, last.
    static func makeRouter(dependencies: AppDependencies) -> Router<BasicRequestContext> {
        let router = Router()
        _ = APIMetrics.bootstrapped
        // Outermost, so it counts the statuses the error middleware answers with.
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ErrorMiddleware())
        OperationsRoutes(dependencies: dependencies).register(on: router)
        ExecutionRoutes(dependencies: dependencies).register(on: router)
        JobRoutes(dependencies: dependencies).register(on: router)
        JobFileRoutes(dependencies: dependencies).register(on: router)
        JobEventRoutes(dependencies: dependencies).register(on: router)
        PrebuildRoutes(dependencies: dependencies).register(on: router)
        MetricsRoutes(dependencies: dependencies).register(on: router)
        router.add(middleware: UnmatchedRouteMiddleware(routes: router.routes))
        return router
    }
}
