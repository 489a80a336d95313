import GRDB

/// Tells failures of the storage itself (disk full, read-only file, I/O error, lock timeout; a
/// PostgreSQL server that cannot be reached or is restarting) from other errors, so that the API
/// can answer them with a clear 503 instead of a 500: the request may succeed once an operator
/// fixed the disk or the server is back. On SQLite nothing was written; on PostgreSQL a write
/// given up at its deadline may still commit (`Deadline`), which an idempotency key makes safe
/// to retry.
public enum StorageFailure {
    /// A short reason when `error` means the database cannot be used right now; else nil.
    public static func reason(for error: any Error) -> String? {
        if let reason = PostgresErrorCode.unavailability(error) { return reason }
        guard let error = error as? DatabaseError else { return nil }
        switch error.resultCode {
        case .SQLITE_FULL: return "the disk is full"
        case .SQLITE_READONLY: return "the database file is read-only"
        case .SQLITE_IOERR: return "an I/O error occurred"
        case .SQLITE_CANTOPEN: return "the database file cannot be opened"
        case .SQLITE_BUSY, .SQLITE_LOCKED: return "the database is busy"
        case .SQLITE_PERM: return "access to the database file was denied"
        default: return nil
        }
    }
}
