import Glibc
import Queue

/// The IPv4 addresses of this host's interfaces.
enum HostAddresses {
    /// Each as a `/32`, loopback included, in interface order, without repeats.
    static func ipv4() -> [IPv4Network] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var addresses: [IPv4Network] = []
        var entry: UnsafeMutablePointer<ifaddrs>? = first
        while let current = entry {
            if let address = current.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) {
                let value = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
                if let network = IPv4Network(address: value, prefixLength: 32), !addresses.contains(network) {
                    addresses.append(network)
                }
            }
            entry = current.pointee.ifa_next
        }
        return addresses
    }
}
