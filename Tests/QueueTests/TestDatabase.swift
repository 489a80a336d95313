import Foundation
import GRDB
import Logging
import PostgresNIO
import Testing

@testable import Queue

/// The stores every conformance test runs against (River's driver suite, in Swift Testing's
/// arguments): SQLite always; PostgreSQL when `TEST_POSTGRES_URL` names a server (`make test`
/// starts one: `scripts/postgres-server.sh`), and also when `CODE_RUNNER_REQUIRE_POSTGRES=1`
/// (then a missing URL fails those tests instead of skipping them).
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    static let postgresURL = ProcessInfo.processInfo.environment["TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }

    static var all: [StoreKind] {
        postgresURL != nil || ProcessInfo.processInfo.environment["CODE_RUNNER_REQUIRE_POSTGRES"] == "1" ? [.sqlite, .postgres] : [.sqlite]
    }

    var testDescription: String { rawValue }
}

/// A fresh, empty database of one kind: a temporary SQLite file, or a schema of its own in the
/// test server's database (`t_<uuid>`), so tests running at once never meet.
struct TestDatabase: Sendable {
    let kind: StoreKind
    /// The file's path or the server's URL: what `queue-probe --database` takes.
    let location: String
    /// The PostgreSQL schema; nil for SQLite.
    let schema: String?

    init(_ kind: StoreKind) throws {
        self.kind = kind
        switch kind {
        case .sqlite:
            location = temporaryDatabasePath()
            schema = nil
        case .postgres:
            guard let url = StoreKind.postgresURL else {
                throw TestFailure("TEST_POSTGRES_URL is not set (start a server: bash scripts/postgres-server.sh start)")
            }
            location = url
            schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        }
    }

    /// The arguments that point a `queue-probe` at this database.
    var probeArguments: [String] {
        ["--database", location] + (schema.map { ["--schema", $0] } ?? [])
    }

    /// A store on this database, as one more process would open it.
    func open() async throws -> any JobStore {
        try await JobStores.open(database: location, schema: schema, logger: Logger(label: "queue-tests"))
    }

    /// Runs one statement of test set-up or inspection and returns its rows, every value as text
    /// (write `CAST(x AS TEXT)` for other columns: both engines read that the same way).
    @discardableResult
    func rows(_ sql: String) async throws -> [[String?]] {
        switch kind {
        case .sqlite:
            let queue = try DatabaseQueue(path: location)
            defer { try? queue.close() }
            return try await queue.write { db in
                try Row.fetchAll(db, sql: sql).map { row in
                    row.databaseValues.map { value in value.isNull ? nil : String.fromDatabaseValue(value) ?? "\(value)" }
                }
            }
        case .postgres:
            return try await withConnection { connection in
                try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "queue-tests")).collect().map { row in
                    try row.map { cell in try cell.decode(String?.self) }
                }
            }
        }
    }

    /// Drops the schema (PostgreSQL; a SQLite file is left in the temporary directory).
    func remove() async throws {
        guard kind == .postgres, let schema else { return }
        try await withConnection(inSchema: false) { connection in
            try await connection.query(
                PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(PostgresIdentifier.quoted(schema)) CASCADE"),
                logger: Logger(label: "queue-tests")
            )
        }
    }

    /// Runs `body` on a connection of its own to this database (PostgreSQL only).
    func withConnection<Value>(inSchema: Bool = true, _ body: (PostgresConnection) async throws -> Value) async throws -> Value {
        let connector = PostgresConnector(location: try PostgresLocation(url: location), schema: inSchema ? schema : nil, poolSize: 1)
        let connection = try await connector.connect(id: 9, logger: Logger(label: "queue-tests"))
        do {
            let value = try await body(connection)
            try await connection.close()
            return value
        } catch {
            try? await connection.close()
            throw error
        }
    }
}

/// Runs `body` with a store on a fresh database of `kind`; closes the stores and drops the
/// database (PostgreSQL's schema) afterwards, also when `body` throws.
func withStore<Value>(_ kind: StoreKind, _ body: (any JobStore, TestDatabase) async throws -> Value) async throws -> Value {
    let database = try TestDatabase(kind)
    let store = try await database.open()
    do {
        let value = try await body(store, database)
        (store as? PostgresJobStore)?.close()
        try await database.remove()
        return value
    } catch {
        (store as? PostgresJobStore)?.close()
        try? await database.remove()
        throw error
    }
}
