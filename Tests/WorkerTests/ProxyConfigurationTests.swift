import Queue
import Testing

@testable import Worker

/// The allowlist proxy's `squid.conf` (`ProxyConfiguration`): the order of its checks is the
/// policy, so it is asserted line by line.
struct ProxyConfigurationTests {
    func configuration(allowed: [String] = [], denied: [String] = []) throws -> ProxyConfiguration {
        ProxyConfiguration(
            listenAddress: "172.20.0.1",
            port: 23128,
            directory: "/run/code-runner-proxy/dep",
            helperExecutable: "/usr/bin/code-runner-worker",
            allowed: try allowed.map { try IPv4Network.parse($0).get() },
            denied: try denied.map { try IPv4Network.parse($0).get() },
            hostAddresses: [try IPv4Network.parse("203.0.113.9").get()],
            hostsFileDigest: "abc"
        )
    }

    func lines(_ configuration: ProxyConfiguration) -> [String] {
        configuration.text.split(separator: "\n").map(String.init)
    }

    @Test("listens on the gateway only, with ssl-bump (to peek at the server name) and nothing cached or logged")
    func listening() throws {
        let lines = lines(try configuration())
        #expect(lines.contains("http_port 172.20.0.1:23128 ssl-bump tls-cert=/run/code-runner-proxy/dep/proxy.pem generate-host-certificates=off"))
        #expect(lines.filter { $0.hasPrefix("http_port") || $0.hasPrefix("https_port") }.count == 1)
        for line in ["cache deny all", "access_log none", "via off", "forwarded_for delete", "pid_filename /run/code-runner-proxy/dep/squid.pid"] {
            #expect(lines.contains(line))
        }
    }

    @Test("helpers: this executable's proxy-helper in each mode, on the grants directory")
    func helpers() throws {
        let text = try configuration().text
        #expect(text.contains("auth_param basic program /usr/bin/code-runner-worker proxy-helper auth /run/code-runner-proxy/dep/grants\n"))
        #expect(text.contains("%LOGIN %DST /usr/bin/code-runner-worker proxy-helper host /run/code-runner-proxy/dep/grants\n"))
        #expect(text.contains("%LOGIN %ssl::>sni /usr/bin/code-runner-worker proxy-helper sni /run/code-runner-proxy/dep/grants\n"))
    }

    @Test(
        "access: credentials, then the run's hosts (before any lookup), IPv6, operator deny, operator allow, the default denials and host addresses"
    )
    func accessOrder() throws {
        let lines = lines(try configuration(allowed: ["10.1.0.0/16"], denied: ["198.51.100.0/24"]))
        #expect(
            lines.filter { $0.hasPrefix("http_access") } == [
                "http_access deny !authenticated",
                "http_access deny !allowed_host all",
                "http_access deny ipv6_destination",
                "http_access deny operator_denied",
                "http_access allow operator_allowed",
                "http_access deny refused_destination",
                "http_access allow all",
            ]
        )
        #expect(lines.contains("acl operator_denied dst 198.51.100.0/24"))
        #expect(lines.contains("acl operator_allowed dst 10.1.0.0/16"))
        let refused = try #require(lines.first { $0.hasPrefix("acl refused_destination dst ") })
        for range in ["10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "203.0.113.9/32"] {
            #expect(refused.split(separator: " ").contains(Substring(range)), "\(range)")
        }
        #expect(
            lines.filter { $0.hasPrefix("ssl_bump") } == ["ssl_bump peek tls_hello_unseen", "ssl_bump splice allowed_sni", "ssl_bump terminate all"]
        )
    }

    @Test("without operator ranges there is no empty acl (squid refuses one)")
    func noOperatorRanges() throws {
        let text = try configuration().text
        #expect(!text.contains("operator_denied"))
        #expect(!text.contains("operator_allowed"))
    }

    @Test("the hosts file's digest is part of the text: an edit makes the proxy reload")
    func hostsDigest() throws {
        var changed = try configuration()
        changed.hostsFileDigest = "def"
        #expect(changed.text != (try configuration()).text)
    }
}
