/// SQL that reads the time from the database rather than from the calling process, so that
/// leases and schedules are compared against one clock (rule 4 of the architecture).
///
/// The system SQLite here is 3.40, which lacks `unixepoch('subsec')` (3.42+); `julianday('now')`
/// gives the same Unix time in seconds with millisecond precision.
enum DatabaseClock {
    /// Current Unix time in seconds, as a `REAL` SQL expression.
    static let now = "((julianday('now') - 2440587.5) * 86400.0)"
}
