import NIOCore
import PostgresNIO
import _ConnectionPoolModule

/// What a PostgreSQL error means to this service: its SQLSTATE, whether retrying the
/// transaction helps, whether the server is unavailable (the API's 503), and a line for a
/// person.
enum PostgresErrorCode {
    static let uniqueViolation = "23505"
    static let deadlockDetected = "40P01"
    static let serializationFailure = "40001"

    /// The SQLSTATE of a server error, else nil.
    static func of(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// A deadlock or a serialisation failure: the transaction may simply run again.
    static func isTransient(_ error: any Error) -> Bool {
        [deadlockDetected, serializationFailure].contains(of(error))
    }

    /// Why the server cannot be used right now, when that is what `error` says; else nil
    /// (a bug, a constraint: a 500, not a 503).
    static func unavailability(_ error: any Error) -> String? {
        if let error = error as? PostgresUnavailable { return error.description }
        if let error = error as? PostgresTransactionError {
            return (error.beginError ?? error.commitError ?? error.closureError).flatMap(unavailability)
        }
        if error is ConnectionPoolError { return "no connection to the PostgreSQL server" }
        if error is IOError || error is ChannelError { return "the connection to the PostgreSQL server failed" }
        guard let error = error as? PSQLError else { return nil }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .uncleanShutdown:
            return "the connection to the PostgreSQL server was lost"
        case .server:
            // 08: connection exceptions; 53: insufficient resources (too many connections, disk
            // full); 57P01-57P03: the server shuts down or starts; 58: system errors.
            guard let state = of(error) else { return nil }
            if state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("58") || ["57P01", "57P02", "57P03"].contains(state) {
                return "the PostgreSQL server is unavailable (\(error.serverInfo?[.message] ?? state))"
            }
            return nil
        default:
            return nil
        }
    }

    /// One line about a failure to connect or migrate, without a password or a stack.
    static func explanation(of error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                return message + state
            }
            if let underlying = error.underlying { return "\(error.code): \(underlying)" }
            return "\(error.code)"
        }
        if let error = error as? PostgresTransactionError {
            return (error.beginError ?? error.closureError ?? error.commitError).map(explanation) ?? "a transaction failed"
        }
        return "\(error)"
    }
}
