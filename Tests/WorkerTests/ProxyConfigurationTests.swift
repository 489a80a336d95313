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
            hostAddresses6: ["::1", "2001:db8::9"],
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

    @Test("access: credentials, never the cache manager, the run's hosts (before any lookup), then every resolved address against the refused ranges")
    func accessOrder() throws {
        let lines = lines(try configuration(allowed: ["10.1.0.0/16", "203.0.113.0/24"], denied: ["198.51.100.0/24"]))
        #expect(
            lines.filter { $0.hasPrefix("http_access") } == [
                "http_access deny !authenticated",
                "http_access deny manager",
                "http_access deny !allowed_host all",
                "http_access deny refused_destination",
                "http_access allow all",
            ]
        )
        #expect(lines.contains("cachemgr_passwd disable all"))
        let line = try #require(lines.first { $0.hasPrefix("acl refused_destination dst ") })
        let refused = line.split(separator: " ").dropFirst(3).compactMap { try? IPv4Network.parse(String($0)).get() }
        // the operator's deny range; the default denials but the operator's allow range
        for range in [
            "198.51.100.0/24", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "10.128.0.0/9", "10.0.0.0/16",
        ] {
            #expect(refused.map(\.description).contains(range), "\(range)")
        }
        let allowedAddress = try IPv4Network.parse("10.1.2.3").get()
        #expect(!refused.contains { $0.contains(allowedAddress) })
        // the host's own address, although the operator allows its range
        #expect(refused.map(\.description).contains("203.0.113.9/32"))
        #expect(
            lines.filter { $0.hasPrefix("ssl_bump") } == [
                "ssl_bump splice !tls_port", "ssl_bump peek tls_hello_unseen", "ssl_bump splice allowed_sni", "ssl_bump terminate all",
            ]
        )
        #expect(lines.contains("acl tls_port port 443"))
    }

    @Test("no operator ranges: the default denials and the host's addresses, no IPv6 keyword (the kernel refuses squid's IPv6)")
    func noOperatorRanges() throws {
        let text = try configuration().text
        #expect(!text.contains("dst ipv6"))
        #expect(text.contains("cache_effective_user code-runner-proxy\n"))
        let refused = try #require(lines(try configuration()).first { $0.hasPrefix("acl refused_destination dst ") })
        #expect(refused.hasSuffix(" 240.0.0.0/4 203.0.113.9/32 ::1 :: 2001:db8::9"))
    }

    @Test("the hosts file's digest is part of the text: an edit makes the proxy reload")
    func hostsDigest() throws {
        var changed = try configuration()
        changed.hostsFileDigest = "def"
        #expect(changed.text != (try configuration()).text)
    }
}
