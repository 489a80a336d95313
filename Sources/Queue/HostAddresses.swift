import Glibc

/// The addresses of this host's interfaces: what the egress policy (the sandbox may not reach
/// its host) and the webhook check (a callback may not point at the service's host) refuse.
public enum HostAddresses {
    /// The IPv4 ones, each as a `/32`, loopback included, in interface order, without repeats.
    public static func ipv4() -> [IPv4Network] {
        unique(
            addresses(family: AF_INET) { address in
                address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    IPv4Network(address: UInt32(bigEndian: $0.pointee.sin_addr.s_addr), prefixLength: 32)
                }
            }
        )
    }

    /// The IPv6 ones (`::1` included), as `inet_ntop` spells them, without repeats.
    public static func ipv6() -> [String] {
        unique(
            addresses(family: AF_INET6) { address in
                var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                let spelled = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    withUnsafePointer(to: pointer.pointee.sin6_addr) { inet_ntop(AF_INET6, $0, &text, socklen_t(text.count)) }
                }
                return spelled == nil ? nil : String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        )
    }

    /// Every address, both families, as values (for `CallbackAddressPolicy`).
    public static func all() -> Set<IPAddress> {
        let v4: [IPAddress] = ipv4().map { IPAddress.v4($0.address) }
        let v6: [IPAddress] = ipv6().compactMap { (text: String) -> IPAddress? in IPAddress(text) }
        return Set(v4 + v6)
    }

    /// What `convert` makes of each interface address of `family`, in interface order.
    private static func addresses<Address>(family: Int32, _ convert: (UnsafeMutablePointer<sockaddr>) -> Address?) -> [Address] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var found: [Address] = []
        var entry: UnsafeMutablePointer<ifaddrs>? = first
        while let current = entry {
            if let address = current.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(family), let converted = convert(address) {
                found.append(converted)
            }
            entry = current.pointee.ifa_next
        }
        return found
    }

    private static func unique<Address: Equatable>(_ addresses: [Address]) -> [Address] {
        addresses.reduce(into: []) { kept, address in if !kept.contains(address) { kept.append(address) } }
    }
}
