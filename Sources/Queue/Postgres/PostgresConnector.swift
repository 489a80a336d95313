import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// How this service connects to PostgreSQL: the pool's and the single connections'
/// configurations, made from a `PostgresLocation`.
///
/// Every session asks the server for TCP keepalives (`tcp_keepalives_idle` 5 s, interval 2 s,
/// count 3), bounds how long what the server sends may go unacknowledged (`tcp_user_timeout`
/// 11 s: keepalives probe only an idle line, and a session the server was sending wake-ups or
/// answers to would wait for the kernel's ~15 min of retransmissions) and bounds idle
/// transactions (`idle_in_transaction_session_timeout` 60 s), as startup parameters, so a
/// worker host cut off the network has its sessions, and the row locks of a transaction it was
/// in, freed by the server in about 11 s instead of Linux's default 2 h 11 min — whatever the
/// server's own configuration (the `host-partition` chaos scenario measures it).
struct PostgresConnector: Sendable {
    let location: PostgresLocation
    /// A schema of its own (the tests': one per test); nil uses the server's default search path.
    let schema: String?
    let poolSize: Int

    /// The parameters every session starts with.
    var startupParameters: [(String, String)] {
        var parameters = [
            ("application_name", "code-runner"),
            ("tcp_keepalives_idle", "5"),
            ("tcp_keepalives_interval", "2"),
            ("tcp_keepalives_count", "3"),
            ("tcp_user_timeout", "11000"),
            ("idle_in_transaction_session_timeout", "60000"),
        ]
        if let schema { parameters.append(("search_path", schema)) }
        return parameters
    }

    /// The TLS settings `sslmode` asks for (see `PostgresLocation`).
    func tlsConfiguration() -> TLSConfiguration? {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch location.sslMode {
        case .disable: return nil
        case .allow, .prefer, .require: tls.certificateVerification = .none
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        return tls
    }

    /// Whether TLS must be used (`require` and the `verify-*` modes) rather than preferred.
    private var requiresTLS: Bool {
        [.require, .verifyCA, .verifyFull].contains(location.sslMode)
    }

    func clientConfiguration() -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let socket = location.unixSocketPath {
            configuration = .init(unixSocketPath: socket, username: location.username, password: location.password, database: location.database)
        } else {
            let tls: PostgresClient.Configuration.TLS =
                tlsConfiguration().map { requiresTLS ? .require($0) : .prefer($0) } ?? .disable
            configuration = .init(
                host: location.host,
                port: location.port,
                username: location.username,
                password: location.password,
                database: location.database,
                tls: tls
            )
        }
        configuration.options.additionalStartupParameters = startupParameters
        configuration.options.connectTimeout = .seconds(Int64(location.connectTimeoutSeconds))
        configuration.options.maximumConnections = poolSize
        configuration.options.minimumConnections = 1
        return configuration
    }

    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let socket = location.unixSocketPath {
            configuration = .init(unixSocketPath: socket, username: location.username, password: location.password, database: location.database)
        } else {
            let tls: PostgresConnection.Configuration.TLS =
                try tlsConfiguration().map {
                    requiresTLS ? .require(try NIOSSLContext(configuration: $0)) : .prefer(try NIOSSLContext(configuration: $0))
                }
                ?? .disable
            configuration = .init(
                host: location.host,
                port: location.port,
                username: location.username,
                password: location.password,
                database: location.database,
                tls: tls
            )
        }
        configuration.options.additionalStartupParameters = startupParameters
        configuration.options.connectTimeout = .seconds(Int64(location.connectTimeoutSeconds))
        return configuration
    }

    /// One connection outside the pool (the start-up check and migrations, the LISTEN session).
    func connect(id: Int, logger: Logger) async throws -> PostgresConnection {
        try await PostgresConnection.connect(configuration: try connectionConfiguration(), id: id, logger: logger)
    }
}
