import Foundation

extension CallbackAddressPolicy {
    /// The longest `callback_url` accepted, in UTF-8 bytes.
    static let maximumURLBytes = 2048

    /// Why `url` cannot be a callback URL judged by its text alone, as a sentence for the 422, or
    /// nil when its shape is fine (its host still has to pass ``check(host:hostAddresses:)``).
    ///
    /// It must be `http` or `https` with a host, at most 2048 bytes, without `user:password@`
    /// (credentials would be stored with the job and logged) and without a `#fragment` (never
    /// sent, so probably a mistake). The host must be a plain name (letters, digits, `-`, `.`,
    /// `_`) or a literal address; hosts that parsers disagree on — percent-encoded, with a
    /// backslash, with an IPv6 zone — are refused rather than guessed at. A literal address,
    /// including the short and hex forms the resolver reads as IPv4 (`127.1`, `0x7f000001`), is
    /// judged here already with ``refusal(of:hostAddresses:)``.
    public func shapeRefusal(of url: String) -> String? {
        guard url.utf8.count <= Self.maximumURLBytes else {
            return "callback_url is \(url.utf8.count) bytes long; at most \(Self.maximumURLBytes) are accepted"
        }
        // A WHATWG parser reads "\" as "/" in http URLs ("http://a.example\@10.0.0.1/" has host
        // a.example there and 10.0.0.1 under RFC 3986): refuse what parsers would disagree on.
        guard url.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value != 0x7f && $0 != "\\" }) else {
            return "callback_url must be ASCII without spaces, control characters or backslashes (percent-encode them)"
        }
        guard let components = URLComponents(string: url), let scheme = components.scheme else {
            return "callback_url is not an absolute URL (http://… or https://…)"
        }
        guard ["http", "https"].contains(scheme.lowercased()) else { return "callback_url must use http or https, not \(scheme)" }
        guard components.percentEncodedUser == nil, components.percentEncodedPassword == nil else {
            return "callback_url must not contain a user name or password"
        }
        guard components.percentEncodedFragment == nil else { return "callback_url must not contain a fragment (#…)" }
        guard let host = components.percentEncodedHost, !host.isEmpty else { return "callback_url has no host" }
        if let port = components.port, !(1...65535).contains(port) { return "callback_url has port \(port), not 1-65535" }
        return hostRefusal(host)
    }

    /// The host part as the URL spells it (brackets kept for IPv6 literals).
    private func hostRefusal(_ host: String) -> String? {
        var literal: IPAddress?
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), let address = IPAddress(String(host.dropFirst().dropLast())), case .v6 = address else {
                return "callback_url's host \(host) is not an IPv6 address (zones such as %eth0 are not accepted)"
            }
            literal = address
        } else {
            guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_") }) else {
                return "callback_url's host \(host) may only contain letters, digits, '-', '.' and '_' (no percent-encoding)"
            }
            // URL parsers read "127.0.0.1." as 127.0.0.1, so a trailing dot does not hide an address.
            let bare = host.hasSuffix(".") ? String(host.dropLast()) : host
            literal = IPAddress(bare) ?? IPAddress(legacyIPv4: bare)
        }
        return literal.flatMap { refusal(of: $0) }
    }
}
