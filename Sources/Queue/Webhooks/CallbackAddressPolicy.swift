import Foundation

/// Which callback URLs and addresses the service may call: the guard against server-side request
/// forgery, where a job's `callback_url` makes the service POST to something only it can reach
/// (its own admin ports, the database, the cloud metadata service at 169.254.169.254, the
/// deployment's private network).
///
/// A URL is judged twice: its shape when the job is submitted (``shapeRefusal(of:)``, a 422), and
/// the addresses its host resolves to (``check(host:hostAddresses:)``) both then and again right
/// before each delivery, whose connection then goes to a checked address only — a name that
/// resolved to a public address at submission and to 127.0.0.1 an hour later (DNS rebinding) is
/// refused at delivery.
public struct CallbackAddressPolicy: Sendable {
    /// Ranges that are always fine, whatever else they are.
    public var allowed: [IPAddressRange]

    /// `allowed`: the operator's `WEBHOOK_ALLOW_CIDRS` (IPv4 and IPv6), which override every
    /// refusal — e.g. `127.0.0.0/8` for a receiver on the same machine.
    public init(allowed: [IPAddressRange] = []) {
        self.allowed = allowed
    }

    /// The ranges of a setting such as `"10.0.0.0/8, 127.0.0.0/8,::1/128"` (separated by commas
    /// and/or white space; empty text is no ranges).
    /// - Throws: ``IPAddressRange/ParseFailure`` naming the first bad entry.
    public static func parseRanges(_ text: String) throws -> [IPAddressRange] {
        try text.split(whereSeparator: { $0 == "," || $0.isWhitespace }).map { try IPAddressRange.parse(String($0)).get() }
    }

    /// Why `address` may not be called, as a sentence for a 422 or a delivery's `last_error`, or
    /// nil when it may.
    ///
    /// Refused: loopback, unspecified, private, link-local (with the cloud metadata service),
    /// shared CGNAT, multicast, reserved, broadcast and benchmarking ranges, IPv6 unique-local,
    /// site-local, link-local and multicast; IPv6 forms that carry an IPv4 address (IPv4-mapped
    /// and -compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged as that IPv4 address,
    /// since that is where the packets end up; and any of `hostAddresses` (the machine's own, which
    /// may be public). An address in ``allowed`` — itself or the IPv4 address it carries — is
    /// always fine.
    public func refusal(of address: IPAddress, hostAddresses: Set<IPAddress> = []) -> String? {
        reason(for: address, hostAddresses: hostAddresses).map {
            "\(address) is \($0); callbacks to it are refused unless WEBHOOK_ALLOW_CIDRS allows it"
        }
    }

    /// What `address` is, when that is a reason to refuse it.
    func reason(for address: IPAddress, hostAddresses: Set<IPAddress>) -> String? {
        let carried = Self.carriedIPv4(in: address)
        let judged = [address] + (carried.map { [IPAddress.v4($0.address)] } ?? [])
        if allowed.contains(where: { range in judged.contains(where: range.contains) }) { return nil }
        if case .v6(let bytes) = address, bytes.count != 16 { return "not an IPv6 address (\(bytes.count) bytes, not 16)" }
        if hostAddresses.contains(address) { return "an address of this machine" }
        if let refused = Self.refusedRanges.first(where: { $0.range.contains(address) }) { return refused.reason }
        guard let (form, inner) = carried else { return nil }
        if hostAddresses.contains(.v4(inner)) { return "\(form) for \(IPAddress.v4(inner)), an address of this machine" }
        guard let refused = Self.refusedRanges.first(where: { $0.range.contains(.v4(inner)) }) else { return nil }
        return "\(form) for \(IPAddress.v4(inner)), \(refused.reason)"
    }

    /// Resolves `host` (a name, or a literal address with or without brackets) and checks every
    /// address it resolves to: refused when any one is (a name with one public and one private
    /// address is refused: the connection could go to either), or when it does not resolve.
    /// - Returns: the addresses, in the resolver's order, for the caller to connect to one of them
    ///   and nothing else (resolving again could give another answer).
    /// - Throws: ``CallbackRefused``.
    public func check(host: String, hostAddresses: Set<IPAddress> = []) async throws -> [IPAddress] {
        var name = host
        if name.hasPrefix("["), name.hasSuffix("]"), name.count >= 2 { name = String(name.dropFirst().dropLast()) }
        guard !name.isEmpty, !name.utf8.contains(0) else { throw CallbackRefused("the callback host '\(host)' is empty or invalid") }
        let addresses = try await HostResolver.addresses(of: name).get()
        guard !addresses.isEmpty else { throw CallbackRefused("the callback host '\(host)' does not resolve to any address") }
        for address in addresses {
            guard let reason = reason(for: address, hostAddresses: hostAddresses) else { continue }
            let subject = IPAddress(name) == address ? "\(address) is" : "the callback host '\(host)' resolves to \(address), which is"
            throw CallbackRefused("\(subject) \(reason); callbacks to it are refused unless WEBHOOK_ALLOW_CIDRS allows it")
        }
        return addresses
    }

    /// A refused range and what it is, as the refusal says it.
    private struct RefusedRange {
        var range: IPAddressRange
        var reason: String

        init?(_ cidr: String, _ what: String) {
            guard let range = IPAddressRange(cidr) else { return nil }
            self.range = range
            self.reason = "\(what) (\(range))"
        }
    }

    /// Most specific first, so that each address gets the name it is known by.
    private static let refusedRanges: [RefusedRange] = [
        RefusedRange("255.255.255.255/32", "the broadcast address"),
        RefusedRange("0.0.0.0/8", "an unspecified (\"this network\") address"),
        RefusedRange("127.0.0.0/8", "a loopback address"),
        RefusedRange("10.0.0.0/8", "a private address"),
        RefusedRange("172.16.0.0/12", "a private address"),
        RefusedRange("192.168.0.0/16", "a private address"),
        RefusedRange("169.254.0.0/16", "a link-local address (where cloud metadata services answer)"),
        RefusedRange("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        RefusedRange("198.18.0.0/15", "a benchmarking address"),
        RefusedRange("224.0.0.0/4", "a multicast address"),
        RefusedRange("240.0.0.0/4", "a reserved address"),
        RefusedRange("::/128", "the unspecified IPv6 address"),
        RefusedRange("::1/128", "the IPv6 loopback address"),
        RefusedRange("fc00::/7", "a unique-local (private) IPv6 address"),
        RefusedRange("fe80::/10", "a link-local IPv6 address"),
        RefusedRange("fec0::/10", "a site-local (private) IPv6 address"),
        RefusedRange("ff00::/8", "a multicast IPv6 address"),
        RefusedRange("64:ff9b:1::/48", "a local-use NAT64 address"),
    ].compactMap { $0 }

    /// IPv6 forms whose packets go to an IPv4 address they carry: the form's name, its range, and
    /// the byte offset of the IPv4 address inside.
    private static let carryingForms: [(form: String, range: IPAddressRange, offset: Int)] = [
        ("an IPv4-mapped IPv6 address", "::ffff:0:0/96", 12),
        ("an IPv4-translated IPv6 address", "::ffff:0:0:0/96", 12),
        ("a NAT64 address", "64:ff9b::/96", 12),
        ("a 6to4 address", "2002::/16", 2),
        ("an IPv4-compatible IPv6 address", "::/96", 12),
    ].compactMap { form, cidr, offset in IPAddressRange(cidr).map { (form, $0, offset) } }

    /// The IPv4 address an IPv6 address carries, and the name of the form that carries it.
    static func carriedIPv4(in address: IPAddress) -> (form: String, address: UInt32)? {
        guard case .v6(let bytes) = address, bytes.count == 16,
            let carrying = carryingForms.first(where: { $0.range.contains(address) })
        else { return nil }
        let inner = bytes[carrying.offset..<carrying.offset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return (carrying.form, inner)
    }
}

/// A callback URL or address the service will not call, and why (a sentence for the 422 or the
/// delivery's `last_error`).
public struct CallbackRefused: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
