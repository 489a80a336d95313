/// An IPv4 range in CIDR form (`10.0.0.0/8`; a bare address is a `/32`), as the egress settings
/// (`EGRESS_ALLOW_CIDRS`, `EGRESS_DENY_CIDRS`) and the sandbox firewall use it.
///
/// Parsing is strict, so that a typo is a start-up error rather than a rule that means something
/// else: four decimal octets without leading zeros, a prefix length 0…32, and no bits set below
/// the prefix (`10.0.0.1/8` is refused, naming `10.0.0.0/8`). IPv6 ranges are not accepted:
/// networked sandboxes have IPv6 turned off.
public struct IPv4Network: Sendable, Hashable, CustomStringConvertible {
    /// The first address, host bits zero.
    public var address: UInt32
    public var prefixLength: Int

    public init?(address: UInt32, prefixLength: Int) {
        guard (0...32).contains(prefixLength), address & ~Self.mask(prefixLength) == 0 else { return nil }
        self.address = address
        self.prefixLength = prefixLength
    }

    /// `0.0.0.0/0`.
    public static let everything = IPv4Network(checkedAddress: 0, prefixLength: 0)

    private init(checkedAddress: UInt32, prefixLength: Int) {
        self.address = checkedAddress
        self.prefixLength = prefixLength
    }

    /// `a.b.c.d/n`, as iptables prints it.
    public var description: String {
        let octets = [24, 16, 8, 0].map { String((address >> UInt32($0)) & 0xff) }
        return octets.joined(separator: ".") + "/\(prefixLength)"
    }

    /// True when `other` lies wholly inside this range.
    public func contains(_ other: IPv4Network) -> Bool {
        other.prefixLength >= prefixLength && other.address & Self.mask(prefixLength) == address
    }

    /// True when the two ranges share an address (CIDR ranges either nest or are disjoint).
    public func overlaps(_ other: IPv4Network) -> Bool { contains(other) || other.contains(self) }

    /// This range without the addresses of `holes`, as the fewest CIDR ranges, lowest first.
    public func subtracting(_ holes: [IPv4Network]) -> [IPv4Network] {
        if holes.contains(where: { $0.contains(self) }) { return [] }
        guard holes.contains(where: { overlaps($0) }), prefixLength < 32 else { return [self] }
        let halves = [address, address | (UInt32(1) << UInt32(31 - prefixLength))].compactMap {
            IPv4Network(address: $0, prefixLength: prefixLength + 1)
        }
        return halves.flatMap { $0.subtracting(holes) }
    }

    static func mask(_ prefixLength: Int) -> UInt32 {
        prefixLength == 0 ? 0 : UInt32.max << UInt32(32 - prefixLength)
    }

    /// Why `text` is not a range, or the range.
    public static func parse(_ text: String) -> Result<IPv4Network, ParseFailure> {
        if text.contains(":") { return .failure(ParseFailure("'\(text)' is IPv6; networked sandboxes have IPv6 off, so only IPv4 ranges apply")) }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let addressPart = parts.first else { return .failure(ParseFailure("'\(text)' is not an IPv4 address or range")) }
        guard let address = parseAddress(addressPart) else {
            return .failure(ParseFailure("'\(text)' is not an IPv4 address or range (four numbers 0-255, no leading zeros)"))
        }
        var prefixLength = 32
        if parts.count == 2 {
            let prefix = parts[1]
            guard !prefix.isEmpty, prefix.allSatisfy(\.isASCII), prefix.allSatisfy(\.isNumber), prefix.count <= 2,
                let value = Int(prefix), (0...32).contains(value), prefix == "\(value)"
            else {
                return .failure(ParseFailure("'\(text)' has a prefix length that is not 0-32"))
            }
            prefixLength = value
        }
        guard let network = IPv4Network(address: address, prefixLength: prefixLength) else {
            let base = IPv4Network(address: address & mask(prefixLength), prefixLength: prefixLength)
            return .failure(ParseFailure("'\(text)' has bits set below its prefix; did you mean \(base.map(\.description) ?? "?")?"))
        }
        return .success(network)
    }

    private static func parseAddress(_ text: Substring) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var address: UInt32 = 0
        for octet in octets {
            guard !octet.isEmpty, octet.count <= 3, octet.allSatisfy({ $0.isASCII && $0.isNumber }),
                let value = UInt32(octet), value <= 255, octet == "\(value)"
            else { return nil }
            address = address << 8 | value
        }
        return address
    }

    public struct ParseFailure: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }
}
