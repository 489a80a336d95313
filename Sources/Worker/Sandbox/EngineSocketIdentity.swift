#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Which instance of the Docker engine's unix socket file is there: device, inode and change
/// time. dockerd creates its socket afresh every time it starts, so a different identity (or
/// none) means the engine restarted (or went away) in between. Used to tell a container that
/// ended by itself from one an engine restart ended (`SandboxRunner`).
struct EngineSocketIdentity: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var changedSeconds: Int
    var changedNanoseconds: Int

    /// The socket's identity now, nil when it cannot be read (no socket: the engine is gone).
    static func current(path: String) -> EngineSocketIdentity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return EngineSocketIdentity(
            device: UInt64(info.st_dev),
            inode: UInt64(info.st_ino),
            changedSeconds: Int(info.st_ctim.tv_sec),
            changedNanoseconds: Int(info.st_ctim.tv_nsec)
        )
    }
}
