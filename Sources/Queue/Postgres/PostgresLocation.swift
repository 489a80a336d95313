import Foundation

/// A PostgreSQL server and database, as `DATABASE_URL` names them:
/// `postgres://user:password@host:port/database?sslmode=…` (also `postgresql://`), libpq's form.
///
/// - The user name and password are percent-decoded; the password is never shown
///   (`description` masks it).
/// - `host` may also come as the query parameter `host=`; a host that starts with `/` is a
///   directory holding the server's Unix socket (`.s.PGSQL.<port>`), as with libpq.
/// - `sslmode` is libpq's: `disable`; `allow` and `prefer` (the default) try TLS and fall back
///   to plain TCP; `require` insists on TLS without checking the certificate; `verify-ca` checks
///   the chain; `verify-full` checks the chain and the host name.
/// - `connect_timeout` (seconds) bounds each connection attempt (10 s by default).
/// - Any other query parameter is refused, so a typo is not silently ignored.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode
    public var connectTimeoutSeconds: Int

    /// The Unix socket's path when `host` is a directory, else nil.
    public var unixSocketPath: String? {
        host.hasPrefix("/") ? "\(host)/.s.PGSQL.\(port)" : nil
    }

    /// Parses a `postgres://` or `postgresql://` URL; the error says what is wrong, in one line
    /// that never includes the password.
    public init(url text: String) throws(InvalidDatabaseURL) {
        guard let components = URLComponents(string: text.trimmingCharacters(in: .whitespaces)) else {
            throw InvalidDatabaseURL("is not a URL")
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            throw InvalidDatabaseURL("must start with postgres:// or postgresql://")
        }
        var host = components.host ?? ""
        var sslMode = SSLMode.prefer
        var connectTimeout = 10
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    throw InvalidDatabaseURL(
                        "sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", ")), got '\(value)'"
                    )
                }
                sslMode = mode
            case "host":
                host = value
            case "connect_timeout":
                guard let seconds = Int(value), (1...300).contains(seconds) else {
                    throw InvalidDatabaseURL("connect_timeout must be 1 to 300 seconds, got '\(value)'")
                }
                connectTimeout = seconds
            default:
                throw InvalidDatabaseURL("unknown parameter '\(item.name)' (known: sslmode, host, connect_timeout)")
            }
        }
        guard !host.isEmpty else { throw InvalidDatabaseURL("names no host") }
        if let port = components.port, !(1...65_535).contains(port) {
            throw InvalidDatabaseURL("port must be between 1 and 65535")
        }
        guard let user = components.user, !user.isEmpty else {
            throw InvalidDatabaseURL("names no user (postgres://user:password@host/database)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw InvalidDatabaseURL("must name one database as its path (postgres://user:password@host/database)")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = user
        self.password = components.password
        self.database = database
        self.sslMode = sslMode
        self.connectTimeoutSeconds = connectTimeout
    }

    /// The URL with the password masked, for logs and errors.
    public var description: String {
        let secret = password == nil ? "" : ":***"
        let address = host.hasPrefix("/") ? "localhost" : (host.contains(":") ? "[\(host)]" : host)
        let socket = host.hasPrefix("/") ? "&host=\(host)" : ""
        return "postgres://\(username)\(secret)@\(address):\(port)/\(database)?sslmode=\(sslMode.rawValue)\(socket)"
    }
}

/// A `DATABASE_URL` that cannot be used; `reason` completes "DATABASE_URL …".
public struct InvalidDatabaseURL: Error, Equatable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { "DATABASE_URL \(reason)" }
}
