import Testing

@testable import Queue

/// `CallbackAddressPolicy`, `IPAddress`, `IPAddressRange`: which webhook URLs and addresses the
/// service may call (the SSRF guard).
struct CallbackAddressPolicyTests {
    let policy = CallbackAddressPolicy()

    func address(_ text: String) throws -> IPAddress {
        try #require(IPAddress(text), "\(text)")
    }

    func refusal(_ text: String, _ policy: CallbackAddressPolicy = CallbackAddressPolicy()) throws -> String? {
        policy.refusal(of: try address(text))
    }

    // MARK: - Addresses and ranges

    @Test("addresses parse in their standard forms only and print in canonical form")
    func addresses() throws {
        #expect(try address("127.0.0.1") == .v4(0x7f00_0001))
        #expect(try address("::1") == .v6(Array(repeating: 0, count: 15) + [1]))
        #expect(try address("::FFFF:127.0.0.1") == address("::ffff:7f00:1"))
        let printed = [
            ("10.1.2.3", "10.1.2.3"), ("2606:4700:0:0:0:0:0:1111", "2606:4700::1111"), ("::", "::"), ("::1", "::1"),
            ("FE80::0:1", "fe80::1"), ("::ffff:7f00:1", "::ffff:127.0.0.1"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
            ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"), ("64:ff9b::a00:1", "64:ff9b::a00:1"),
        ]
        for (text, canonical) in printed {
            #expect(try address(text).description == canonical)
        }
        let notStandard = ["", "127.1", "0x7f.0.0.1", "010.0.0.1", "256.0.0.1", "1.2.3.4 ", "[::1]", "fe80::1%eth0", "::g", "localhost"]
        for text in notStandard + ["127.0.0.1\u{0}x"] {
            #expect(IPAddress(text) == nil, "\(text)")
        }
        #expect(IPAddress(legacyIPv4: "127.1") == .v4(0x7f00_0001))
        #expect(IPAddress(legacyIPv4: "0x7f000001") == .v4(0x7f00_0001))
        #expect(IPAddress(legacyIPv4: "2130706433") == .v4(0x7f00_0001))
        #expect(IPAddress(legacyIPv4: "127.0.0.1 x") == nil)
        #expect(IPAddress(legacyIPv4: "example") == nil)
    }

    @Test("ranges: IPv4 and IPv6, strict, with contains")
    func ranges() throws {
        let v4 = try #require(IPAddressRange("10.0.0.0/8"))
        #expect(v4.contains(try address("10.255.0.1")))
        #expect(!v4.contains(try address("11.0.0.1")))
        #expect(!v4.contains(try address("::ffff:10.0.0.1")), "families do not mix")
        let v6 = try #require(IPAddressRange("fd00::/8"))
        #expect(v6.contains(try address("fd12:3456::1")))
        #expect(!v6.contains(try address("fe00::1")))
        #expect(!v6.contains(.v6([0xfd])), "a malformed address lies in no range")
        #expect(IPAddressRange("::1")?.description == "::1/128")
        #expect(IPAddressRange("127.0.0.1")?.description == "127.0.0.1/32")
        #expect(IPAddressRange("::/0")?.contains(try address("2001:db8::1")) == true)
        #expect(IPAddressRange("fe80::/10")?.contains(try address("febf::1")) == true)
        #expect(IPAddressRange("fe80::/10")?.contains(try address("fec0::1")) == false)
        for text in ["", "fd00::/129", "fd00::/", "fd00::/08", "fd00::1/8", "fd00::/8/8", "[::1]", "::g/8", "10.0.0.1/8", "10.0.0.0/33"] {
            #expect(IPAddressRange(text) == nil, "\(text)")
        }
        #expect(IPAddressRange(address: .v4(0x0a00_0000), prefixLength: 8) == v4)
        #expect(IPAddressRange(address: .v4(0x0a00_0001), prefixLength: 8) == nil)
        #expect(IPAddressRange(address: .v6([1, 2]), prefixLength: 8) == nil)
    }

    @Test("parseRanges: comma and space separated, IPv4 and IPv6; a bad entry is named")
    func parseRanges() throws {
        let ranges = try CallbackAddressPolicy.parseRanges("10.0.0.0/8, 127.0.0.0/8,::1/128  fd00::/8\n192.168.1.7")
        #expect(ranges.map(\.description) == ["10.0.0.0/8", "127.0.0.0/8", "::1/128", "fd00::/8", "192.168.1.7/32"])
        #expect(try CallbackAddressPolicy.parseRanges("").isEmpty)
        #expect(try CallbackAddressPolicy.parseRanges(" , ").isEmpty)
        let bad: [(String, String)] = [
            ("10.0.0.0/8, 10.0.0.1/8", "did you mean 10.0.0.0/8?"), ("127.0.0.0/8,fd00::1/8", "did you mean fd00::/8?"),
            ("::1/200", "'::1/200' has a prefix length that is not 0-128"), ("10.0.0.0/8 nonsense", "'nonsense'"),
            ("fd00::zz", "'fd00::zz' is not an IPv6 address or range"), ("10.0.0.0/40", "'10.0.0.0/40'"),
        ]
        for (text, message) in bad {
            let error = #expect(throws: IPAddressRange.ParseFailure.self, "\(text)") { try CallbackAddressPolicy.parseRanges(text) }
            #expect(error?.description.contains(message) == true, "\(text): \(error?.description ?? "parsed")")
        }
    }

    // MARK: - Refused and allowed addresses

    @Test(
        "every refused class, with a representative address",
        arguments: [
            ("127.0.0.1", "loopback"), ("127.255.255.254", "loopback"), ("::1", "loopback"),
            ("0.0.0.0", "unspecified"), ("0.1.2.3", "unspecified"), ("::", "unspecified"),
            ("10.0.0.1", "private"), ("172.16.0.1", "private"), ("172.31.255.255", "private"), ("192.168.1.1", "private"),
            ("fc00::1", "unique-local"), ("fd12:3456:789a::1", "unique-local"),
            ("169.254.169.254", "link-local"), ("169.254.0.1", "link-local"), ("fe80::1", "link-local"), ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("100.64.0.1", "carrier-grade NAT"), ("100.127.255.254", "carrier-grade NAT"),
            ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("ff02::1", "multicast"), ("ff0e::1", "multicast"),
            ("240.0.0.1", "reserved"), ("255.255.255.254", "reserved"), ("255.255.255.255", "broadcast"),
            ("198.18.0.1", "benchmarking"), ("198.19.255.255", "benchmarking"),
            ("64:ff9b:1::a00:1", "local-use NAT64"),
        ]
    )
    func refusedClasses(_ text: String, _ kind: String) throws {
        let message = try #require(try refusal(text), "\(text) should be refused")
        #expect(message.contains(kind), "\(message)")
        #expect(message.hasPrefix(try address(text).description + " is "), "\(message)")
        #expect(message.contains("WEBHOOK_ALLOW_CIDRS"), "the message says how to allow it")
    }

    @Test(
        "public addresses are fine, also next to the refused ranges",
        arguments: [
            "93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700::1111", "2001:4860:4860::8888", "172.15.255.255", "172.32.0.0",
            "100.63.255.255", "100.128.0.0", "169.253.255.255", "198.17.255.255", "198.20.0.0", "223.255.255.255", "11.0.0.0",
            "126.255.255.255", "128.0.0.0", "1.0.0.0", "fbff::1", "fe7f::1", "2002:5db8:d822::1", "64:ff9b::808:808",
            "::ffff:8.8.8.8", "::8.8.8.8",
        ]
    )
    func publicAddresses(_ text: String) throws {
        #expect(try refusal(text) == nil, "\(text)")
    }

    @Test(
        "IPv6 forms carrying 127.0.0.1 or 10.0.0.1 are judged as that IPv4 address",
        arguments: [
            ("::ffff:127.0.0.1", "IPv4-mapped", "127.0.0.1, a loopback"), ("::ffff:10.0.0.1", "IPv4-mapped", "10.0.0.1, a private"),
            ("::127.0.0.1", "IPv4-compatible", "127.0.0.1, a loopback"), ("::10.0.0.1", "IPv4-compatible", "10.0.0.1, a private"),
            ("64:ff9b::127.0.0.1", "NAT64", "127.0.0.1, a loopback"), ("64:ff9b::a00:1", "NAT64", "10.0.0.1, a private"),
            ("2002:7f00:1::", "6to4", "127.0.0.1, a loopback"), ("2002:a00:1:ffff::1", "6to4", "10.0.0.1, a private"),
            ("::ffff:0:127.0.0.1", "IPv4-translated", "127.0.0.1, a loopback"), ("::ffff:169.254.169.254", "IPv4-mapped", "link-local"),
            ("::ffff:0.0.0.0", "IPv4-mapped", "unspecified"),
        ]
    )
    func carriedIPv4(_ text: String, _ form: String, _ judged: String) throws {
        let message = try #require(try refusal(text), "\(text) should be refused")
        #expect(message.contains(form), "\(message)")
        #expect(message.contains(judged), "\(message)")
    }

    @Test("WEBHOOK_ALLOW_CIDRS overrides the refusals in its ranges only, also for IPv6 forms of an allowed IPv4 address")
    func allowList() throws {
        let loopback = CallbackAddressPolicy(allowed: try CallbackAddressPolicy.parseRanges("127.0.0.0/8"))
        #expect(try refusal("127.0.0.1", loopback) == nil)
        #expect(try refusal("127.8.9.10", loopback) == nil)
        #expect(try refusal("::ffff:127.0.0.1", loopback) == nil)
        #expect(try refusal("10.0.0.1", loopback) != nil)
        #expect(try refusal("::1", loopback) != nil, "an IPv4 range does not allow IPv6 loopback")
        let both = CallbackAddressPolicy(allowed: try CallbackAddressPolicy.parseRanges("::1/128, 10.1.0.0/16, fd00::/8"))
        #expect(try refusal("::1", both) == nil)
        #expect(try refusal("10.1.2.3", both) == nil)
        #expect(try refusal("10.2.0.1", both) != nil)
        #expect(try refusal("fd00::5", both) == nil)
        #expect(try refusal("127.0.0.1", both) != nil)
        let host = try address("203.0.113.9")
        #expect(
            CallbackAddressPolicy(allowed: try CallbackAddressPolicy.parseRanges("203.0.113.0/24")).refusal(of: host, hostAddresses: [host]) == nil,
            "allowed beats the machine's own addresses too"
        )
    }

    @Test("the machine's own addresses are refused, also in IPv6 forms that carry them")
    func hostAddresses() throws {
        let own: Set<IPAddress> = [try address("203.0.113.9"), try address("2001:db8::9")]
        for text in ["203.0.113.9", "2001:db8::9", "::ffff:203.0.113.9", "64:ff9b::203.0.113.9"] {
            let message = policy.refusal(of: try address(text), hostAddresses: own)
            #expect(message?.contains("an address of this machine") == true, "\(text): \(message ?? "fine")")
        }
        #expect(policy.refusal(of: try address("203.0.113.10"), hostAddresses: own) == nil)
        #expect(policy.refusal(of: try address("203.0.113.9")) == nil, "public when not the machine's")
    }

    @Test("a malformed IPv6 value is refused")
    func malformedAddress() {
        #expect(policy.refusal(of: .v6([1, 2, 3]))?.contains("not an IPv6 address") == true)
        #expect(policy.refusal(of: .v6([]))?.contains("not an IPv6 address") == true)
    }

    // MARK: - URL shape

    @Test(
        "URLs of a fine shape, with ports, paths, queries and names",
        arguments: [
            "https://hooks.example.com:8443/code-runner/done?token=abc&x=1", "http://example.com", "https://example.com/",
            "HTTPS://Example.COM/Hook", "http://93.184.216.34:8080/cb", "http://[2606:4700::1111]:443/cb", "https://my_host.example/",
            "https://localhost/",  // a name: judged when it is resolved (check(host:))
        ]
    )
    func fineShapes(_ url: String) {
        #expect(policy.shapeRefusal(of: url) == nil, "\(url): \(policy.shapeRefusal(of: url) ?? "")")
    }

    @Test(
        "URLs refused by their shape, with the reason",
        arguments: [
            ("ftp://example.com/file", "http or https"), ("file:///etc/passwd", "http or https"), ("gopher://example.com:70/", "http or https"),
            ("javascript:alert(1)", "http or https"), ("example.com/hook", "absolute"), ("/relative/path", "absolute"), ("", "absolute"),
            ("https:///path", "no host"), ("https://", "no host"), ("http:", "no host"), ("https://:8080/", "no host"),
            ("https://user:pw@example.com/", "user name or password"), ("https://user@example.com/", "user name or password"),
            ("https://:pw@example.com/", "user name or password"),
            ("https://example.com/#fragment", "fragment"), ("https://example.com/#", "fragment"),
            ("https://example.com/" + String(repeating: "a", count: 2029), "2049 bytes"),
            ("https://exa mple.com/", "ASCII"), ("https://example.com/\u{e9}", "ASCII"), ("https://example.com\\@10.0.0.1/", "backslash"),
            ("https://ex%61mple.com/", "percent-encoding"), ("http://[fe80::1%25eth0]/", "zones"), ("http://[::g]/", "not an IPv6"),
            ("http://example.com:0/", "port 0"),
            ("http://127.0.0.1:8000/hook", "loopback"), ("http://[::1]/", "loopback"), ("http://169.254.169.254/latest/meta-data/", "link-local"),
            ("http://10.0.0.1/", "private"), ("http://[::ffff:127.0.0.1]/", "IPv4-mapped"), ("http://127.1/", "loopback"),
            ("http://0x7f000001/", "loopback"), ("http://127.0.0.1./", "loopback"), ("http://2130706433/", "loopback"), ("http://0/", "unspecified"),
        ]
    )
    func refusedShapes(_ url: String, _ reason: String) {
        let message = policy.shapeRefusal(of: url)
        #expect(message?.contains(reason) == true, "\(url): \(message ?? "accepted")")
    }

    @Test("exactly 2048 bytes is fine; a literal address in an allowed range is fine")
    func shapeEdges() throws {
        let url = "https://example.com/" + String(repeating: "a", count: 2028)
        #expect(url.utf8.count == 2048)
        #expect(policy.shapeRefusal(of: url) == nil)
        let allowing = CallbackAddressPolicy(allowed: try CallbackAddressPolicy.parseRanges("127.0.0.0/8"))
        #expect(allowing.shapeRefusal(of: "http://127.0.0.1:9999/hook") == nil)
        #expect(allowing.shapeRefusal(of: "http://10.0.0.1/") != nil)
    }

    // MARK: - Resolution

    @Test("check(host:) refuses a literal loopback address, with or without brackets")
    func checkLiteral() async throws {
        for host in ["127.0.0.1", "::1", "[::1]", "127.1", "::ffff:127.0.0.1"] {
            let error = await #expect(throws: CallbackRefused.self, "\(host)") { try await policy.check(host: host) }
            #expect(error?.message.contains("loopback") == true, "\(host): \(error?.message ?? "")")
        }
    }

    @Test("check(host:) refuses localhost: it resolves to loopback")
    func checkLocalhost() async throws {
        let error = await #expect(throws: CallbackRefused.self) { try await policy.check(host: "localhost") }
        #expect(error?.message.contains("'localhost' resolves to") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("loopback") == true, "\(error?.message ?? "")")
    }

    @Test("check(host:) refuses a name that does not resolve, and an empty host")
    func checkUnresolvable() async throws {
        let error = await #expect(throws: CallbackRefused.self) { try await policy.check(host: "no-such-host.invalid") }
        #expect(error?.message.contains("does not resolve") == true, "\(error?.message ?? "")")
        await #expect(throws: CallbackRefused.self) { try await policy.check(host: "") }
        await #expect(throws: CallbackRefused.self) { try await policy.check(host: "[]") }
    }

    @Test("check(host:) returns the checked addresses when allowed, and refuses the machine's own")
    func checkAllowed() async throws {
        let allowing = CallbackAddressPolicy(allowed: try CallbackAddressPolicy.parseRanges("127.0.0.0/8, ::1/128"))
        #expect(try await allowing.check(host: "127.0.0.1") == [try address("127.0.0.1")])
        let resolved = try await allowing.check(host: "localhost")
        #expect(resolved.contains(try address("127.0.0.1")))
        #expect(Set(resolved).count == resolved.count, "no duplicates")
        let own = try address("93.184.216.34")
        #expect(try await policy.check(host: "93.184.216.34") == [own])
        let error = await #expect(throws: CallbackRefused.self) { try await policy.check(host: "93.184.216.34", hostAddresses: [own]) }
        #expect(error?.message.contains("an address of this machine") == true)
    }
}
