import Queue

/// The allowlist proxy's `squid.conf`, as a plain value: `AllowlistProxy` writes it (and tells
/// a running squid to reload when the text changed); `Tests/WorkerTests/ProxyConfigurationTests.swift`
/// asserts it without a squid.
///
/// What a request through the proxy must pass, in order:
/// 1. credentials: a run's grant token as user name (`ProxyGrant`), checked by the auth helper
///    (`code-runner-worker proxy-helper auth`); without them, 407;
/// 2. not squid's cache manager (`cache_object://`, `/squid-internal-mgr/`), whose reports would
///    show other runs' requests and tokens: 403;
/// 3. the run's `allowed_hosts`: the requested host (the URL's for plain HTTP, the CONNECT
///    line's for HTTPS), checked by the host helper (`proxy-helper host`); a name not allowed is
///    refused (403: the trailing `all` keeps squid from answering a 407 that clients retry)
///    before it is even resolved;
/// 4. the egress ceiling, on every IPv4 address the name resolves to (squid's `dst` matches when
///    any of them is in the list, on the same resolution it then connects with, so a name that
///    resolves differently a moment later cannot slip past): `EgressCeiling.refusedRanges` —
///    `EGRESS_DENY_CIDRS`, and the default-denied ranges but `EGRESS_ALLOW_CIDRS` — and the
///    host's own addresses, whatever the settings: 403;
/// 5. IPv6: the kernel refuses every IPv6 connection of squid's user but over loopback
///    (`AllowlistProxy`; squid talks to its helpers over `::1`), so a name's IPv6 addresses are
///    never reached and a dual-stack name is reached over IPv4; what goes over loopback — `::1`,
///    `::` and every IPv6 address of the host — is in the refused list of step 4, which squid's
///    `dst ipv6` keyword would not cover;
/// 6. for a CONNECT to port 443, the TLS client hello's server name (SNI), peeked at and checked
///    by the SNI helper (`proxy-helper sni`): a tunnel opened to an allowed name whose hello names
///    a host not on the list is cut. A hello without SNI (an address-only client) passes on the
///    CONNECT check alone, and so does a tunnel to another port (spliced at once: protocols where
///    the server speaks first would wait forever for a hello), or one that carries no TLS.
///
/// The proxy caches nothing, adds no `Via` or `X-Forwarded-For`, and logs only errors
/// (`cache.log` in its directory).
struct ProxyConfiguration: Sendable, Equatable {
    /// The allowlist bridge's gateway, where the proxy listens (and nowhere else).
    var listenAddress: String
    var port: Int
    /// The proxy's directory (owned by squid's user): pid file, log, certificate, grants.
    var directory: String
    /// The executable whose `proxy-helper` subcommand answers squid's helper protocol.
    var helperExecutable: String
    var allowed: [IPv4Network]
    var denied: [IPv4Network]
    /// The host's own IPv4 addresses: refused whatever the settings say (a public one, or one
    /// inside an `EGRESS_ALLOW_CIDRS` range, would otherwise be a way to the host's services).
    var hostAddresses: [IPv4Network]
    /// The host's own IPv6 addresses: the kernel lets squid's IPv6 out through loopback only
    /// (its helpers talk to it over `::1`), and every address of the host is reached that way,
    /// so these are refused here, with `::1` and `::` always among them.
    var hostAddresses6: [String] = []
    /// The user squid runs as, whose IPv6 the kernel refuses.
    var user: String = AllowlistProxy.user
    /// A digest of the hosts file squid reads at start: part of the text, so a change to it
    /// makes the text differ and the proxy reload.
    var hostsFileDigest: String

    var grantsDirectory: String { directory + "/grants" }
    var certificatePath: String { directory + "/proxy.pem" }
    var pidPath: String { directory + "/squid.pid" }
    var logPath: String { directory + "/cache.log" }

    /// The text of `squid.conf`.
    var text: String {
        let helper = "\(helperExecutable) proxy-helper"
        // squid warns of (and ignores) a range inside another of the same list
        let ranges = EgressCeiling.refusedRanges(allowed: allowed, denied: denied)
        let refused =
            (ranges + hostAddresses.filter { address in !ranges.contains { $0.contains(address) } }).map(\.description)
            + (["::1", "::"] + hostAddresses6.filter { $0 != "::1" && $0 != "::" })
        return [
            "# The allowlist proxy of a Code Runner deployment, written by its workers (AllowlistProxy); do not edit.",
            "# hosts file: \(hostsFileDigest)",
            "http_port \(listenAddress):\(port) ssl-bump tls-cert=\(certificatePath) generate-host-certificates=off",
            "cache_effective_user \(user)",
            "pid_filename \(pidPath)",
            "cache_log \(logPath)",
            "access_log none",
            "cache deny all",
            "cache_mem 8 MB",
            "coredump_dir \(directory)",
            "shutdown_lifetime 1 seconds",
            "pinger_enable off",
            "netdb_filename none",
            "hosts_file /etc/hosts",
            "forwarded_for delete",
            "via off",
            "httpd_suppress_version_string on",
            "cachemgr_passwd disable all",
            "auth_param basic program \(helper) auth \(grantsDirectory)",
            "auth_param basic children 8 startup=1 idle=1",
            "auth_param basic realm code-runner allowlist",
            "auth_param basic credentialsttl 5 seconds",
            "external_acl_type cr_host ttl=5 negative_ttl=0 children-max=8 children-startup=1 %LOGIN %DST \(helper) host \(grantsDirectory)",
            "external_acl_type cr_sni ttl=5 negative_ttl=0 children-max=8 children-startup=1 %LOGIN %ssl::>sni \(helper) sni \(grantsDirectory)",
            "acl authenticated proxy_auth REQUIRED",
            "acl allowed_host external cr_host",
            "acl allowed_sni external cr_sni",
            "acl refused_destination dst \(refused.joined(separator: " "))",
            "acl tls_port port 443",
            "acl tls_hello_unseen at_step SslBump1",
            "http_access deny !authenticated",
            "http_access deny manager",
            "http_access deny !allowed_host all",
            "http_access deny refused_destination",
            "http_access allow all",
            "ssl_bump splice !tls_port",
            "ssl_bump peek tls_hello_unseen",
            "ssl_bump splice allowed_sni",
            "ssl_bump terminate all",
            "on_unsupported_protocol tunnel all",
        ].joined(separator: "\n") + "\n"
    }
}
