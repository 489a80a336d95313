#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as a value, so that the callback checks compare addresses, not
/// spellings: `::FFFF:127.0.0.1` and `::ffff:7f00:1` are the same address.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// In host byte order: 127.0.0.1 is `0x7f00_0001`.
    case v4(UInt32)
    /// The 16 bytes in network order. Any other count is not an address: it lies in no range and
    /// the callback policy refuses it.
    case v6([UInt8])

    /// The standard text forms only (`inet_pton`): a dotted quad without leading zeros or short
    /// forms, or IPv6 text without brackets or a zone (`%eth0`). Nil for anything else.
    public init?(_ text: String) {
        guard !text.utf8.contains(0) else { return nil }  // C would read only up to the NUL
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self = .v4(UInt32(bigEndian: v4.s_addr))
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self = .v6(withUnsafeBytes(of: v6) { Array($0) })
            return
        }
        return nil
    }

    /// What the resolver and browsers also read as IPv4 (`inet_aton`): `127.1`, `0x7f.0.0.1`,
    /// `017700000001`, `2130706433`. Such a URL host reaches the address it spells, so it is judged
    /// as that address.
    init?(legacyIPv4 text: String) {
        // Only digits, hex digits, `x` and dots: inet_aton would also take "1.2.3.4 anything".
        guard !text.isEmpty, text.allSatisfy({ $0 == "." || $0 == "x" || $0 == "X" || $0.isHexDigit && $0.isASCII }) else { return nil }
        var v4 = in_addr()
        guard inet_aton(text, &v4) != 0 else { return nil }
        self = .v4(UInt32(bigEndian: v4.s_addr))
    }

    /// The address a resolver answer (`getaddrinfo`'s `ai_addr`) holds, or nil for other families.
    init?(socketAddress: UnsafePointer<sockaddr>) {
        switch Int32(socketAddress.pointee.sa_family) {
        case AF_INET:
            self = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { .v4(UInt32(bigEndian: $0.pointee.sin_addr.s_addr)) }
        case AF_INET6:
            self = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                .v6(withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) })
            }
        default:
            return nil
        }
    }

    /// Dotted quad, or RFC 5952's IPv6 form: lower case, the longest run of zero groups as `::`,
    /// and IPv4-mapped addresses as `::ffff:a.b.c.d`.
    public var description: String {
        switch self {
        case .v4(let address): Self.dotted(address)
        case .v6(let bytes): Self.format(bytes)
        }
    }

    private static func dotted(_ address: UInt32) -> String {
        [24, 16, 8, 0].map { String((address >> UInt32($0)) & 0xff) }.joined(separator: ".")
    }

    private static func format(_ bytes: [UInt8]) -> String {
        guard bytes.count == 16 else { return "<\(bytes.count)-byte IPv6 address>" }
        let groups = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        if groups[0..<5].allSatisfy({ $0 == 0 }), groups[5] == 0xffff {
            return "::ffff:" + dotted(bytes[12..<16].reduce(0) { $0 << 8 | UInt32($1) })
        }
        var best = 0..<0
        var start = 0
        while start < groups.count {
            guard groups[start] == 0 else {
                start += 1
                continue
            }
            var end = start
            while end < groups.count, groups[end] == 0 { end += 1 }
            if end - start > best.count { best = start..<end }
            start = end
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.count >= 2 else { return hex.joined(separator: ":") }
        return hex[..<best.lowerBound].joined(separator: ":") + "::" + hex[best.upperBound...].joined(separator: ":")
    }
}

/// A range of IPv4 or IPv6 addresses in CIDR form (`10.0.0.0/8`, `fd00::/8`; a bare address is a
/// `/32` or `/128`), as `WEBHOOK_ALLOW_CIDRS` lists them.
///
/// Parsing is as strict as ``IPv4Network``'s (which parses the IPv4 ones), so that a typo is a
/// start-up error rather than a range that means something else: no leading zeros, a prefix
/// length in range, and no bits set below the prefix (`10.0.0.1/8` is refused, naming
/// `10.0.0.0/8`).
public struct IPAddressRange: Sendable, Hashable, CustomStringConvertible {
    /// The first address: every bit below the prefix is zero.
    public let address: IPAddress
    public let prefixLength: Int

    /// Nil unless `cidr` is a valid range; ``parse(_:)`` says what is wrong.
    public init?(_ cidr: String) {
        guard case .success(let range) = Self.parse(cidr) else { return nil }
        self = range
    }

    /// Nil when the prefix length does not fit the family or `address` has bits below it.
    public init?(address: IPAddress, prefixLength: Int) {
        switch address {
        case .v4(let value):
            guard let network = IPv4Network(address: value, prefixLength: prefixLength) else { return nil }
            self.prefixLength = network.prefixLength
        case .v6(let bytes):
            guard bytes.count == 16, (0...128).contains(prefixLength), Self.masked(bytes, to: prefixLength) == bytes else { return nil }
            self.prefixLength = prefixLength
        }
        self.address = address
    }

    /// True when `candidate` lies in this range. Families never mix: an IPv4 range does not
    /// contain `::ffff:10.0.0.1` (the callback policy unwraps such addresses itself).
    public func contains(_ candidate: IPAddress) -> Bool {
        switch (address, candidate) {
        case (.v4(let base), .v4(let value)): value & IPv4Network.mask(prefixLength) == base
        case (.v6(let base), .v6(let bytes)): bytes.count == 16 && Self.masked(bytes, to: prefixLength) == base
        default: false
        }
    }

    /// `address/prefixLength`, always with the prefix.
    public var description: String { "\(address)/\(prefixLength)" }

    /// The range, or why `text` is not one (naming it).
    public static func parse(_ text: String) -> Result<IPAddressRange, ParseFailure> {
        guard text.contains(":") else {
            return IPv4Network.parse(text)
                .map { IPAddressRange(checked: .v4($0.address), prefixLength: $0.prefixLength) }
                .mapError { ParseFailure($0.description) }
        }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let addressPart = parts.first, let address = IPAddress(String(addressPart)), case .v6(let bytes) = address
        else { return .failure(ParseFailure("'\(text)' is not an IPv6 address or range")) }
        var prefixLength = 128
        if parts.count == 2 {
            let prefix = parts[1]
            guard !prefix.isEmpty, prefix.count <= 3, prefix.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(prefix),
                (0...128).contains(value), prefix == "\(value)"
            else { return .failure(ParseFailure("'\(text)' has a prefix length that is not 0-128")) }
            prefixLength = value
        }
        guard let range = IPAddressRange(address: address, prefixLength: prefixLength) else {
            let base = IPAddressRange(checked: .v6(masked(bytes, to: prefixLength)), prefixLength: prefixLength)
            return .failure(ParseFailure("'\(text)' has bits set below its prefix; did you mean \(base)?"))
        }
        return .success(range)
    }

    private init(checked address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// `bytes` with every bit below the first `prefixLength` cleared.
    private static func masked(_ bytes: [UInt8], to prefixLength: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let kept = min(max(prefixLength - index * 8, 0), 8)
            return kept == 0 ? 0 : byte & UInt8(truncatingIfNeeded: 0xff << (8 - kept))
        }
    }

    /// Why a text is not a range, naming the text.
    public struct ParseFailure: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }
}
