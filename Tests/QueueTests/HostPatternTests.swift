import Queue
import Testing

/// `HostPattern`: one entry of a run's `allowed_hosts`, as the API parses it and the allowlist
/// proxy matches requests against it.
struct HostPatternTests {
    func canonical(_ text: String) -> String? {
        try? HostPattern.parse(text).get().description
    }

    func failure(_ text: String) -> String {
        switch HostPattern.parse(text) {
        case .success(let pattern): "parsed as \(pattern)"
        case .failure(let failure): failure.description
        }
    }

    func pattern(_ text: String) throws -> HostPattern {
        try HostPattern.parse(text).get()
    }

    static let longLabel = String(repeating: "a", count: 63)
    /// 253 characters: three labels of 63, one of 61.
    static let longestName = [longLabel, longLabel, longLabel, String(repeating: "b", count: 61)].joined(separator: ".")

    @Test(
        "good entries and their canonical spelling: lower case, no trailing dot, /32 as a bare address",
        arguments: [
            ("pypi.org", "pypi.org"),
            ("PyPI.Org.", "pypi.org"),
            ("files.pythonhosted.org", "files.pythonhosted.org"),
            ("*.pythonhosted.org", "*.pythonhosted.org"),
            ("*.PythonHosted.ORG.", "*.pythonhosted.org"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("123.example.org", "123.example.org"),
            ("a-b.c-d.org", "a-b.c-d.org"),
            ("203.0.113.7", "203.0.113.7"),
            ("203.0.113.7/32", "203.0.113.7"),
            ("203.0.113.0/24", "203.0.113.0/24"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("\(longLabel).org", "\(longLabel).org"),
            (longestName, longestName),
            ("*.\(longestName).", "*.\(longestName)"),
        ]
    )
    func good(text: String, expected: String) throws {
        #expect(canonical(text) == expected)
        // the canonical spelling is itself an entry, the same one
        #expect(try pattern(expected) == pattern(text))
    }

    @Test("the three kinds")
    func kinds() throws {
        #expect(try pattern("PyPI.org") == .name("pypi.org"))
        #expect(try pattern("*.pythonhosted.org") == .domain("pythonhosted.org"))
        #expect(try pattern("203.0.113.0/24") == .network(IPv4Network.parse("203.0.113.0/24").get()))
    }

    @Test(
        "each bad kind is refused with its reason",
        arguments: [
            (
                "pypi.org:443",
                "'pypi.org:443' is IPv6 or has a port; give a host name or an IPv4 range (sandboxes have IPv6 off, and every port of an allowed host is allowed)"
            ),
            (
                "2001:db8::1",
                "'2001:db8::1' is IPv6 or has a port; give a host name or an IPv4 range (sandboxes have IPv6 off, and every port of an allowed host is allowed)"
            ),
            (
                "https://pypi.org",
                "'https://pypi.org' is IPv6 or has a port; give a host name or an IPv4 range (sandboxes have IPv6 off, and every port of an allowed host is allowed)"
            ),
            ("10.0.0.1/8", "'10.0.0.1/8' has bits set below its prefix; did you mean 10.0.0.0/8?"),
            ("256.1.1.1", "'256.1.1.1' is not an IPv4 address or range (four numbers 0-255, no leading zeros)"),
            ("1.2.3", "'1.2.3' is not an IPv4 address or range (four numbers 0-255, no leading zeros)"),
            ("203.0.113.07", "'203.0.113.07' is not an IPv4 address or range (four numbers 0-255, no leading zeros)"),
            ("10.0.0.0/33", "'10.0.0.0/33' has a prefix length that is not 0-32"),
            ("", "'': the name is empty"),
            ("*.", "'*.': the name is empty"),
            (".", "'.': the name is empty"),
            ("localhost", "'localhost': a host name needs at least two labels (example.org)"),
            ("*.org", "'*.org': a host name needs at least two labels (example.org)"),
            ("a..org", "'a..org': each label has 1 to 63 characters"),
            (".pypi.org", "'.pypi.org': each label has 1 to 63 characters"),
            ("\(longLabel)a.org", "'\(longLabel)a.org': each label has 1 to 63 characters"),
            ("\(longestName)c", "'\(longestName)c': a host name has at most 253 characters"),
            (
                "a_b.org",
                "'a_b.org': only letters, digits, hyphens and dots are allowed (and '*.' at the start); write internationalised names in their xn-- form"
            ),
            (
                "pypi.org/simple",
                "'pypi.org/simple': only letters, digits, hyphens and dots are allowed (and '*.' at the start); write internationalised names in their xn-- form"
            ),
            (
                "*.*.org",
                "'*.*.org': only letters, digits, hyphens and dots are allowed (and '*.' at the start); write internationalised names in their xn-- form"
            ),
            (
                "a.*.org",
                "'a.*.org': only letters, digits, hyphens and dots are allowed (and '*.' at the start); write internationalised names in their xn-- form"
            ),
            (
                "bücher.example",
                "'bücher.example': only letters, digits, hyphens and dots are allowed (and '*.' at the start); write internationalised names in their xn-- form"
            ),
            (
                " pypi.org",
                "' pypi.org': only letters, digits, hyphens and dots are allowed (and '*.' at the start); write internationalised names in their xn-- form"
            ),
            ("-pypi.org", "'-pypi.org': a label may not start or end with a hyphen"),
            ("pypi-.org", "'pypi-.org': a label may not start or end with a hyphen"),
            ("0x7f.1", "'0x7f.1': this is a numeric address in another notation; write an IPv4 address as four decimal numbers"),
            (
                "0xa9.0xfe.0xa9.0xfe",
                "'0xa9.0xfe.0xa9.0xfe': this is a numeric address in another notation; write an IPv4 address as four decimal numbers"
            ),
        ]
    )
    func bad(text: String, expected: String) {
        #expect(failure(text) == expected)
    }

    @Test("a name matches itself only, in any case and with a trailing dot")
    func exactName() throws {
        let entry = try pattern("pypi.org")
        for host in ["pypi.org", "PYPI.ORG", "PyPi.org.", "pypi.org."] {
            #expect(entry.matches(host: host), "\(host)")
        }
        for host in ["www.pypi.org", "pypi.org.evil.example", "xpypi.org", "pypi.or", "org", "", "pypi.org..", "151.101.0.223"] {
            #expect(!entry.matches(host: host), "\(host)")
        }
    }

    @Test("*.domain matches names below it at any depth, not the domain itself nor look-alikes")
    func domainDepth() throws {
        let entry = try pattern("*.pythonhosted.org")
        for host in ["files.pythonhosted.org", "a.b.c.pythonhosted.org", "FILES.PythonHosted.ORG", "files.pythonhosted.org."] {
            #expect(entry.matches(host: host), "\(host)")
        }
        for host in ["pythonhosted.org", "pythonhosted.org.", "evilpythonhosted.org", "pythonhosted.org.evil.example", "org", ".pythonhosted.org.x"] {
            #expect(!entry.matches(host: host), "\(host)")
        }
    }

    @Test("a range contains addresses; a bare address is one address")
    func networkContainsAddress() throws {
        let range = try pattern("203.0.113.0/24")
        for host in ["203.0.113.0", "203.0.113.7", "203.0.113.255"] {
            #expect(range.matches(host: host), "\(host)")
        }
        for host in ["203.0.114.1", "203.0.112.255", "203.0.113.07", "203.0.113.7.nip.io", "example.org"] {
            #expect(!range.matches(host: host), "\(host)")
        }
        let single = try pattern("198.51.100.9")
        #expect(single.matches(host: "198.51.100.9"))
        #expect(!single.matches(host: "198.51.100.10"))
        #expect(try pattern("0.0.0.0/0").matches(host: "8.8.8.8"))
    }

    @Test("names never match addresses, and ranges never match names")
    func namesAndNetworksApart() throws {
        #expect(!(try pattern("example.org").matches(host: "93.184.215.14")))
        #expect(!(try pattern("*.example.org").matches(host: "1.93.184.215.14")))
        #expect(!(try pattern("0.0.0.0/0").matches(host: "example.org")))
        #expect(!(try pattern("93.184.215.14").matches(host: "example.org")))
    }
}

/// `EgressCeiling`: which `allowed_hosts` ranges the operator's egress policy refuses entirely.
struct EgressCeilingTests {
    func refusal(_ text: String, _ variables: [String: String] = [:]) throws -> String? {
        let settings = try ServiceSettings(variables: variables)
        return EgressCeiling.refuses(try IPv4Network.parse(text).get(), settings: settings)
    }

    @Test("the default-denied ranges are the worker's firewall's")
    func defaultDenied() {
        #expect(
            EgressCeiling.defaultDenied.map(\.description) == [
                "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
                "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
            ]
        )
    }

    @Test("by default: a range inside a denied one is refused, naming it; public and documentation ranges are not")
    func defaults() throws {
        #expect(try refusal("10.1.0.0/16") == "'10.1.0.0/16' is inside 10.0.0.0/8, which this service's egress policy refuses")
        #expect(try refusal("10.0.0.0/8") == "'10.0.0.0/8' is inside 10.0.0.0/8, which this service's egress policy refuses")
        #expect(try refusal("169.254.169.254") == "'169.254.169.254' is inside 169.254.0.0/16, which this service's egress policy refuses")
        #expect(try refusal("127.0.0.1") == "'127.0.0.1' is inside 127.0.0.0/8, which this service's egress policy refuses")
        #expect(try refusal("255.255.255.255") == "'255.255.255.255' is inside 240.0.0.0/4, which this service's egress policy refuses")
        for reachable in ["8.8.8.8", "203.0.113.0/24", "198.51.100.7", "11.0.0.0/8", "1.1.1.1/32"] {
            #expect(try refusal(reachable) == nil, "\(reachable)")
        }
    }

    @Test("a range only partly refused is accepted")
    func partlyRefused() throws {
        #expect(try refusal("10.0.0.0/7") == nil)  // 10/8 refused, 11/8 public
        #expect(try refusal("0.0.0.0/0") == nil)
        #expect(try refusal("192.0.0.0/16") == nil)  // holds 192.0.0.0/24 and 192.0.2.0/24
    }

    @Test("a range refused only by several together is refused, naming them")
    func refusedTogether() throws {
        #expect(
            try refusal("224.0.0.0/3")
                == "'224.0.0.0/3' lies wholly in ranges this service's egress policy refuses (224.0.0.0/4, 240.0.0.0/4)"
        )
        #expect(
            try refusal("203.0.113.0/24", ["EGRESS_DENY_CIDRS": "203.0.113.128/25,203.0.113.0/25"])
                == "'203.0.113.0/24' lies wholly in ranges this service's egress policy refuses (203.0.113.128/25, 203.0.113.0/25)"
        )
    }

    @Test("EGRESS_ALLOW_CIDRS opens default-denied ranges, wholly or in part")
    func allowOpens() throws {
        let allow = ["EGRESS_ALLOW_CIDRS": "10.1.0.0/16"]
        #expect(try refusal("10.1.2.0/24", allow) == nil)
        #expect(try refusal("10.1.0.0/16", allow) == nil)
        #expect(try refusal("10.0.0.0/8", allow) == nil)  // the allowed part is reachable
        #expect(try refusal("10.2.0.0/16", allow) == "'10.2.0.0/16' is inside 10.0.0.0/8, which this service's egress policy refuses")
    }

    @Test("EGRESS_DENY_CIDRS refuses public ranges, and wins over EGRESS_ALLOW_CIDRS")
    func denyWins() throws {
        let deny = ["EGRESS_DENY_CIDRS": "203.0.113.0/24"]
        #expect(try refusal("203.0.113.9", deny) == "'203.0.113.9' is inside 203.0.113.0/24, which this service's egress policy refuses")
        #expect(try refusal("203.0.112.0/23", deny) == nil)
        let both = ["EGRESS_ALLOW_CIDRS": "10.1.0.0/16", "EGRESS_DENY_CIDRS": "10.1.0.0/16"]
        #expect(try refusal("10.1.2.0/24", both) == "'10.1.2.0/24' is inside 10.1.0.0/16, which this service's egress policy refuses")
        // the allow range reaches into 10/8 but is itself denied: all of 10/8 stays refused
        #expect(
            try refusal("10.0.0.0/8", both) == "'10.0.0.0/8' lies wholly in ranges this service's egress policy refuses (10.1.0.0/16, 10.0.0.0/8)"
        )
    }

    @Test("the refused ranges: deny ranges, default denials without allow ranges, none inside another")
    func refusedRanges() throws {
        let allowed = [try IPv4Network.parse("10.1.0.0/16").get()]
        let denied = [try IPv4Network.parse("10.1.2.0/24").get(), try IPv4Network.parse("203.0.113.0/24").get()]
        let ranges = EgressCeiling.refusedRanges(allowed: allowed, denied: denied).map(\.description)
        #expect(ranges.contains("203.0.113.0/24"))
        #expect(ranges.contains("10.1.2.0/24"))  // denied wins over the allow range around it
        #expect(!ranges.contains("10.0.0.0/8"))
        // 10.0.0.0/8 without 10.1.0.0/16: eight ranges, none of them overlapping the hole
        let tenPieces = ranges.filter { $0.hasPrefix("10.") && $0 != "10.1.2.0/24" }
        #expect(
            tenPieces == ["10.0.0.0/16", "10.2.0.0/15", "10.4.0.0/14", "10.8.0.0/13", "10.16.0.0/12", "10.32.0.0/11", "10.64.0.0/10", "10.128.0.0/9"]
        )
        #expect(ranges.contains("169.254.0.0/16") && ranges.contains("127.0.0.0/8"))
        #expect(EgressCeiling.refusedRanges(allowed: [], denied: []) == EgressCeiling.defaultDenied)
    }
}
