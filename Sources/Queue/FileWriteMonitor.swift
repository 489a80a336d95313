import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc

/// Reports writes to files of one directory (Linux inotify), by any process, as they happen.
///
/// SQLite appends every commit to the `-wal` file, so a write event there is the cheapest
/// possible "the database may have changed" signal: no polling while nothing happens. A blocking
/// reader thread turns kernel events into calls of `onWrite`.
public final class FileWriteMonitor: Sendable {
    private let descriptor: Int32

    /// Which writes are reported.
    public enum Events: Sendable {
        /// Every write, as it happens (and a file created or moved in): SQLite's journal.
        case everyWrite
        /// A file closed after writing, or moved in (an editor's or `mv`'s replacement): a
        /// configuration file, read once it is whole.
        case completedWrites

        var mask: UInt32 {
            switch self {
            case .everyWrite: UInt32(IN_MODIFY) | UInt32(IN_CREATE) | UInt32(IN_MOVED_TO)
            case .completedWrites: UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO)
            }
        }
    }

    /// Watches `directory` for writes to files whose names are in `names`; nil when inotify is
    /// not available (the caller then polls).
    public init?(directory: String, names: Set<String>, events: Events = .everyWrite, onWrite: @escaping @Sendable () -> Void) {
        let descriptor = inotify_init1(Int32(IN_CLOEXEC))
        guard descriptor >= 0 else { return nil }
        let mask = events.mask
        guard inotify_add_watch(descriptor, directory, mask) >= 0 else {
            close(descriptor)
            return nil
        }
        self.descriptor = descriptor
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count <= 0 {
                    if count < 0 && errno == EINTR { continue }
                    return
                }
                var offset = 0
                var relevant = false
                while offset + MemoryLayout<inotify_event>.size <= count {
                    let (nameLength, name) = buffer.withUnsafeBytes { raw -> (Int, String) in
                        let event = raw.load(fromByteOffset: offset, as: inotify_event.self)
                        let start = offset + MemoryLayout<inotify_event>.size
                        let bytes = raw[start..<min(start + Int(event.len), count)].prefix { $0 != 0 }
                        return (Int(event.len), String(decoding: bytes, as: UTF8.self))
                    }
                    if names.contains(name) { relevant = true }
                    offset += MemoryLayout<inotify_event>.size + nameLength
                }
                if relevant { onWrite() }
            }
        }
        thread.name = "sqlite-write-monitor"
        thread.start()
    }

    deinit {
        close(descriptor)
    }
}
#else
public final class FileWriteMonitor: Sendable {
    public enum Events: Sendable { case everyWrite, completedWrites }
    public init?(directory: String, names: Set<String>, events: Events = .everyWrite, onWrite: @escaping @Sendable () -> Void) { nil }
}
#endif
