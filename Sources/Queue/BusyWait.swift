import Foundation
import GRDB

/// How a connection waits for SQLite's write lock held by another process.
///
/// SQLite's own busy timeout sleeps 1, 2, 5, 10, 15, 20, 25… ms between tries: with several
/// worker processes writing short transactions (claims, completions, heartbeats — each well
/// under a millisecond), almost every wait then costs far more than the lock was held. This
/// waits 50 µs per try for the first 20 ms, then 1 ms per try, and gives up (SQLITE_BUSY)
/// after about 10 s in all — the same bound as before.
enum BusyWait {
    /// Tries at the short interval before switching to the long one.
    static let shortTries = 400
    static let shortMicroseconds: UInt32 = 50
    static let longMicroseconds: UInt32 = 1000
    /// Total tries: 400 × 50 µs + 9,980 × 1 ms ≈ 10 s.
    static let maximumTries = 400 + 9_980

    static let mode: Database.BusyMode = .callback { tries in
        guard tries < maximumTries else { return false }
        usleep(tries < shortTries ? shortMicroseconds : longMicroseconds)
        return true
    }
}
