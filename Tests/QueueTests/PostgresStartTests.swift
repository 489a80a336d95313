import Foundation
import Logging
import Testing

@testable import Queue

/// A process does not start without its PostgreSQL database, and says why in one line.
struct PostgresStartTests {
    func failure(_ url: String) async throws -> String {
        do {
            let store = try await PostgresJobStore(location: try PostgresLocation(url: url), logger: Logger(label: "queue-tests"))
            store.close()
            return "started"
        } catch {
            return "\(error)"
        }
    }

    @Test("a wrong password, an unknown database, or no server: one line without the password", arguments: StoreKind.all.filter { $0 == .postgres })
    func refusedAtStart(_ kind: StoreKind) async throws {
        let database = try TestDatabase(kind)
        let location = try PostgresLocation(url: database.location)
        var wrong = location
        wrong.password = "not-the-password"
        let badPassword = try await failure(url(wrong))
        #expect(badPassword.contains("password authentication failed"), "\(badPassword)")
        #expect(!badPassword.contains("not-the-password") && !badPassword.contains("\n"))
        var unknown = location
        unknown.database = "no_such_database"
        let badDatabase = try await failure(url(unknown))
        #expect(badDatabase.contains("no_such_database") && badDatabase.contains("does not exist"), "\(badDatabase)")
        var closed = location
        closed.host = "127.0.0.1"
        closed.port = 9  // nothing listens on discard here
        let noServer = try await failure(url(closed))
        #expect(noServer.hasPrefix("cannot use the PostgreSQL database") && !noServer.contains("\n"), "\(noServer)")
    }

    @Test(
        "every session asks for keepalives and a bound on unacknowledged sends, whatever the server's settings",
        arguments: StoreKind.all.filter { $0 == .postgres }
    )
    func sessionsAskForDeadPeerDetection(_ kind: StoreKind) async throws {
        let database = try TestDatabase(kind)
        let rows = try await database.rows(
            """
            SELECT name, setting, source FROM pg_settings
            WHERE name IN ('tcp_keepalives_idle', 'tcp_keepalives_interval', 'tcp_keepalives_count',
                           'tcp_user_timeout', 'idle_in_transaction_session_timeout')
            ORDER BY name
            """
        )
        let settings = Dictionary(uniqueKeysWithValues: rows.map { ($0[0] ?? "", "\($0[1] ?? "") \($0[2] ?? "")") })
        #expect(
            settings == [
                "idle_in_transaction_session_timeout": "60000 client",
                "tcp_keepalives_count": "3 client",
                "tcp_keepalives_idle": "5 client",
                "tcp_keepalives_interval": "2 client",
                "tcp_user_timeout": "11000 client",
            ],
            "\(settings)"
        )
    }

    /// A location written back as a URL (tests only: no escaping needed for these values).
    func url(_ location: PostgresLocation) -> String {
        "postgres://\(location.username):\(location.password ?? "")@\(location.host):\(location.port)/\(location.database)?sslmode=\(location.sslMode.rawValue)"
    }
}
