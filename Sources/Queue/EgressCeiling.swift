/// The operator's ceiling on what networked runs reach, as the API can judge it without the
/// worker: the ranges the sandbox firewall refuses (`EgressPolicy` in the worker installs them)
/// and the two settings that adjust them. The API refuses an `allowed_hosts` range that this
/// ceiling refuses entirely: the run could reach none of it, so the request is a mistake.
///
/// A range counts as refused when every address in it is refused, in the firewall's order:
/// `EGRESS_DENY_CIDRS` first, then `EGRESS_ALLOW_CIDRS`, then `defaultDenied`. So an address is
/// refused when it is in a deny range, or in a default-denied range and in no allow range. A
/// range that is only partly refused is accepted (the run reaches the rest).
public enum EgressCeiling {
    /// The ranges no networked sandbox reaches unless `EGRESS_ALLOW_CIDRS` names them:
    /// this-network, RFC 1918, CGNAT, loopback, link-local (cloud metadata), IETF protocol
    /// assignments, benchmarking, multicast, and reserved with broadcast. The documentation
    /// ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) are not in it: the internet does
    /// not route them, and test set-ups use them as stand-ins for public hosts.
    public static let defaultDenied: [IPv4Network] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
    ].compactMap { try? IPv4Network.parse($0).get() }

    /// Every address the policy refuses, as CIDR ranges: `denied`, and the default-denied ranges
    /// without `allowed` (the firewall's order: a deny range wins over an allow range), none
    /// inside another. What the allowlist proxy refuses a request for when any address the name
    /// resolves to falls in it.
    public static func refusedRanges(allowed: [IPv4Network], denied: [IPv4Network]) -> [IPv4Network] {
        let ranges = denied + defaultDenied.flatMap { $0.subtracting(allowed) }
        return ranges.filter { range in !ranges.contains { $0 != range && $0.contains(range) } }
            .reduce(into: [IPv4Network]()) { kept, range in if !kept.contains(range) { kept.append(range) } }
    }

    /// Why the egress policy of `settings` refuses every address of `network`, naming the range
    /// that does (`'10.1.0.0/16' is inside 10.0.0.0/8, which this service's egress policy
    /// refuses`); nil when some address of it is reachable.
    public static func refuses(_ network: IPv4Network, settings: ServiceSettings) -> String? {
        let entry = HostPattern.network(network).description
        let refused = Span.union(
            settings.egressDenyCIDRs.map(Span.init) + Span.subtracting(settings.egressAllowCIDRs.map(Span.init), from: defaultDenied.map(Span.init))
        )
        let wanted = Span(network)
        guard refused.contains(where: { $0.covers(wanted) }) else { return nil }
        // One range of the policy refuses it all: name that one (a deny range before a default
        // one, which counts only when no allow range reaches into the entry).
        let opened = settings.egressAllowCIDRs.contains { Span($0).overlaps(wanted) }
        let single =
            settings.egressDenyCIDRs.first { $0.contains(network) } ?? (opened ? nil : defaultDenied.first { $0.contains(network) })
        if let single {
            return "'\(entry)' is inside \(single), which this service's egress policy refuses"
        }
        let parts = (settings.egressDenyCIDRs + defaultDenied).filter { Span($0).overlaps(wanted) }.map(\.description)
        return "'\(entry)' lies wholly in ranges this service's egress policy refuses (\(parts.joined(separator: ", ")))"
    }

    /// A half-open range of addresses, `lower ..< upper` (64 bits, so 255.255.255.255 fits).
    struct Span: Equatable {
        var lower: UInt64
        var upper: UInt64

        init(lower: UInt64, upper: UInt64) {
            self.lower = lower
            self.upper = upper
        }

        init(_ network: IPv4Network) {
            lower = UInt64(network.address)
            upper = lower + (UInt64(1) << UInt64(32 - network.prefixLength))
        }

        func covers(_ other: Span) -> Bool { lower <= other.lower && other.upper <= upper }
        func overlaps(_ other: Span) -> Bool { lower < other.upper && other.lower < upper }

        /// Sorted, with overlapping and touching spans merged.
        static func union(_ spans: [Span]) -> [Span] {
            var merged: [Span] = []
            for span in spans.sorted(by: { $0.lower < $1.lower }) where span.lower < span.upper {
                if let last = merged.last, span.lower <= last.upper {
                    merged[merged.count - 1].upper = max(last.upper, span.upper)
                } else {
                    merged.append(span)
                }
            }
            return merged
        }

        /// The addresses of `spans` outside every one of `holes`.
        static func subtracting(_ holes: [Span], from spans: [Span]) -> [Span] {
            let holes = union(holes)
            return union(spans).flatMap { span -> [Span] in
                var pieces: [Span] = []
                var start = span.lower
                for hole in holes where hole.upper > start && hole.lower < span.upper {
                    if hole.lower > start { pieces.append(Span(lower: start, upper: hole.lower)) }
                    start = max(start, hole.upper)
                }
                if start < span.upper { pieces.append(Span(lower: start, upper: span.upper)) }
                return pieces
            }
        }
    }
}
