import Queue
import Testing

/// `IPv4Network`: the strict CIDR parser of the egress settings.
struct IPv4NetworkTests {
    func parsed(_ text: String) -> String? {
        try? IPv4Network.parse(text).get().description
    }

    func failure(_ text: String) -> String {
        guard case .failure(let failure) = IPv4Network.parse(text) else { return "parsed" }
        return failure.description
    }

    @Test("ranges and bare addresses, printed as iptables prints them")
    func valid() {
        #expect(parsed("10.0.0.0/8") == "10.0.0.0/8")
        #expect(parsed("203.0.113.7") == "203.0.113.7/32")
        #expect(parsed("0.0.0.0/0") == "0.0.0.0/0")
        #expect(parsed("255.255.255.255/32") == "255.255.255.255/32")
        #expect(parsed("100.64.0.0/10") == "100.64.0.0/10")
    }

    @Test(
        "typos are refused: octets, prefix, leading zeros, spaces, IPv6",
        arguments: [
            "", "10.0.0", "10.0.0.0.0", "256.0.0.0/8", "10.0.0.0/33", "10.0.0.0/", "010.0.0.0/8", "10.0.0.0/08",
            " 10.0.0.0/8", "10.0.0.0 /8", "10.0.0.0/8/8", "a.b.c.d", "10.0.0.-1", "fd00::/8", "::1",
        ]
    )
    func invalid(_ text: String) {
        #expect(parsed(text) == nil, "\(text)")
    }

    @Test("host bits below the prefix are refused, naming the range meant")
    func hostBits() {
        #expect(failure("10.1.2.3/8").contains("did you mean 10.0.0.0/8?"))
        #expect(failure("fd00::/8").contains("IPv6"))
    }

    @Test("containment")
    func containment() throws {
        let private10 = try IPv4Network.parse("10.0.0.0/8").get()
        #expect(private10.contains(try IPv4Network.parse("10.213.0.0/24").get()))
        #expect(!private10.contains(try IPv4Network.parse("11.0.0.0/24").get()))
        #expect(!private10.contains(try IPv4Network.parse("0.0.0.0/0").get()))
    }

    @Test("EGRESS_ALLOW_CIDRS and EGRESS_DENY_CIDRS: lists, and a start-up error naming the setting")
    func settings() throws {
        let settings = try ServiceSettings(variables: ["EGRESS_ALLOW_CIDRS": "10.1.0.0/16, 192.168.5.5", "EGRESS_DENY_CIDRS": "203.0.113.0/24"])
        #expect(settings.egressAllowCIDRs.map(\.description) == ["10.1.0.0/16", "192.168.5.5/32"])
        #expect(settings.egressDenyCIDRs.map(\.description) == ["203.0.113.0/24"])
        #expect(ServiceSettings().egressAllowCIDRs.isEmpty)
        do {
            _ = try ServiceSettings(variables: ["EGRESS_ALLOW_CIDRS": "10.0.0.1/8", "EGRESS_DENY_CIDRS": "nope"])
            Issue.record("bad ranges were accepted")
        } catch {
            #expect(error.problems.contains { $0.hasPrefix("EGRESS_ALLOW_CIDRS: '10.0.0.1/8' has bits set below its prefix") })
            #expect(error.problems.contains { $0.hasPrefix("EGRESS_DENY_CIDRS: 'nope'") })
        }
    }
}
