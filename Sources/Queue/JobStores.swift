import Logging

/// Opens the job store the settings name: PostgreSQL when `DATABASE_URL` is set, else the
/// SQLite file at `DATABASE_PATH`. API and worker processes open it the same way.
public enum JobStores {
    /// Throws when the database cannot be used (`PostgresStartFailure` says why in one line, as
    /// does SQLite's error): the process does not start without it.
    public static func open(settings: ServiceSettings, logger: Logger) async throws -> any JobStore {
        if let location = settings.databaseURL {
            let store = try await PostgresJobStore(
                location: location,
                poolSize: settings.databasePoolSize,
                outageGrace: settings.leaseSeconds,
                logger: logger
            )
            logger.info("job queue on PostgreSQL", metadata: ["database": "\(location)"])
            return store
        }
        return try SQLiteJobStore(path: settings.databasePath)
    }
}

extension JobStores {
    /// Opens the store at `database`: a `postgres://` or `postgresql://` URL (in `schema`, when
    /// given), else a SQLite file's path. For tools and tests (`code-runner-bench queue-probe`).
    public static func open(database: String, schema: String? = nil, logger: Logger) async throws -> any JobStore {
        let lowered = database.lowercased()
        guard lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") else {
            return try SQLiteJobStore(path: database)
        }
        return try await PostgresJobStore(location: try PostgresLocation(url: database), poolSize: 4, schema: schema, logger: logger)
    }
}
