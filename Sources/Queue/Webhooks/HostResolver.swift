import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The system resolver (`getaddrinfo`: /etc/hosts, DNS, numeric hosts), for the callback checks.
enum HostResolver {
    /// Every distinct address `name` resolves to, in the resolver's order, or why it does not
    /// resolve. `getaddrinfo` blocks for as long as DNS takes, so it runs on a Dispatch thread
    /// rather than on one of the few threads of Swift's cooperative pool, which it would stall.
    static func addresses(of name: String) async -> Result<[IPAddress], CallbackRefused> {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: resolve(name))
            }
        }
    }

    private static func resolve(_ name: String) -> Result<[IPAddress], CallbackRefused> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)  // one answer per address, not one per socket type
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name, nil, &hints, &list)
        guard status == 0 else {
            let reason = status == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(status))
            return .failure(CallbackRefused("the callback host '\(name)' does not resolve (\(reason))"))
        }
        defer { freeaddrinfo(list) }
        var addresses: [IPAddress] = []
        var entry = list
        while let current = entry {
            if let socketAddress = current.pointee.ai_addr, let address = IPAddress(socketAddress: socketAddress),
                !addresses.contains(address)
            {
                addresses.append(address)
            }
            entry = current.pointee.ai_next
        }
        return .success(addresses)
    }
}
