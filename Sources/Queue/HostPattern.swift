/// One entry of a run's `allowed_hosts`: a host name, every name under a domain, or an IPv4
/// range. The API parses the request's entries with it (a bad one is a 422 naming it); the
/// allowlist proxy's helper (`code-runner-worker proxy-helper`) matches each request's host
/// against the run's entries with it.
///
/// | entry | matches |
/// |---|---|
/// | `pypi.org` | that name only (not `www.pypi.org`) |
/// | `*.pythonhosted.org` | every name below it, at any depth (`files.pythonhosted.org`, `a.b.pythonhosted.org`), not `pythonhosted.org` itself: list both for both |
/// | `203.0.113.7`, `203.0.113.0/24` | a request addressed to an IPv4 address in the range; not a name that resolves into it (list the name) |
///
/// Names are compared in lower case without a trailing dot. A name has at most 253 characters,
/// labels of 1 to 63 letters, digits and hyphens, not starting or ending with a hyphen, and at
/// least two labels (`localhost` is no internet host); `*` only as the whole first label; not
/// all of them numbers (`0x7f.1` is an address to inet_aton, and so to the proxy).
/// IPv6 is refused: sandboxes have IPv6 off.
public enum HostPattern: Sendable, Hashable, CustomStringConvertible {
    case name(String)
    /// `*.<domain>`: names strictly below `domain`.
    case domain(String)
    case network(IPv4Network)

    public struct ParseFailure: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// The entry as the request may spell it (`*.example.org`, `203.0.113.0/24`).
    public var description: String {
        switch self {
        case .name(let name): name
        case .domain(let domain): "*." + domain
        case .network(let network): network.prefixLength == 32 ? String(network.description.dropLast(3)) : network.description
        }
    }

    /// The entry, or why it is none.
    public static func parse(_ text: String) -> Result<HostPattern, ParseFailure> {
        if text.contains(":") {
            return .failure(
                ParseFailure(
                    "'\(text)' is IPv6 or has a port; give a host name or an IPv4 range (sandboxes have IPv6 off, and every port of an allowed host is allowed)"
                )
            )
        }
        if let first = text.unicodeScalars.first, ("0"..."9").contains(first),
            text.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) || $0 == "." || $0 == "/" })
        {
            return IPv4Network.parse(text).map(HostPattern.network).mapError { ParseFailure($0.description) }
        }
        if text.hasPrefix("*.") {
            let domain = normalized(String(text.dropFirst(2)))
            if let problem = problem(withName: domain) { return .failure(ParseFailure("'\(text)': \(problem)")) }
            return .success(.domain(domain))
        }
        let name = normalized(text)
        if let problem = problem(withName: name) { return .failure(ParseFailure("'\(text)': \(problem)")) }
        return .success(.name(name))
    }

    /// True when a request to `host` (a name or an IPv4 address, as the client asked for it) is
    /// one this entry allows.
    public func matches(host: String) -> Bool {
        let host = Self.normalized(host)
        switch self {
        case .name(let name): return host == name
        case .domain(let domain): return host.hasSuffix("." + domain)
        case .network(let network):
            guard !host.contains("/"), case .success(let address) = IPv4Network.parse(host) else { return false }
            return network.contains(address)
        }
    }

    /// Lower case, without one trailing dot.
    static func normalized(_ name: String) -> String {
        let lower = name.lowercased()
        return lower.hasSuffix(".") ? String(lower.dropLast()) : lower
    }

    private static func problem(withName name: String) -> String? {
        guard !name.isEmpty else { return "the name is empty" }
        guard name.utf8.count <= 253 else { return "a host name has at most 253 characters" }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return "a host name needs at least two labels (example.org)" }
        for label in labels {
            guard !label.isEmpty, label.utf8.count <= 63 else { return "each label has 1 to 63 characters" }
            guard label.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) else {
                return "only letters, digits, hyphens and dots are allowed (and '*.' at the start); write internationalised names in their xn-- form"
            }
            guard label.first != "-", label.last != "-" else { return "a label may not start or end with a hyphen" }
        }
        // `0x7f.1`, `017.0.0.1`: what inet_aton (and so squid) reads as an address
        let numeric = labels.allSatisfy { label in
            label.allSatisfy(\.isNumber) || (label.hasPrefix("0x") && label.dropFirst(2).allSatisfy(\.isHexDigit))
        }
        guard !numeric else { return "this is a numeric address in another notation; write an IPv4 address as four decimal numbers" }
        return nil
    }
}
