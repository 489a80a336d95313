import Queue

/// The allowlist proxy's `squid.conf`, as a plain value: `AllowlistProxy` writes it (and tells
/// a running squid to reload when the text changed); `Tests/WorkerTests/ProxyConfigurationTests.swift`
/// asserts it without a squid.
///
/// What a request through the proxy must pass, in order:
/// 1. credentials: a run's grant token as user name (`ProxyGrant`), checked by the auth helper
///    (`code-runner-worker proxy-helper auth`); without them, 407;
/// 2. the run's `allowed_hosts`: the requested host (the URL's for plain HTTP, the CONNECT
///    line's for HTTPS), checked by the host helper (`proxy-helper host`); a name not allowed is
///    refused (403: the trailing `all` keeps squid from answering a 407 that clients retry)
///    before it is even resolved;
/// 3. the egress ceiling, on every address the name resolves to (squid's `dst`, on the same
///    resolution it then connects with, so a name that resolves differently a moment later
///    cannot slip past): `EGRESS_DENY_CIDRS` refused, `EGRESS_ALLOW_CIDRS` allowed, the
///    default-denied ranges and the host's own addresses refused, IPv6 refused;
/// 4. for a CONNECT, the TLS client hello's server name (SNI), peeked at and checked by the
///    SNI helper (`proxy-helper sni`): a tunnel opened to an allowed name that then asks for
///    another (domain fronting) is cut. A hello without SNI (an address-only client) and
///    a tunnel that carries no TLS pass on the CONNECT check alone.
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
    /// The host's own IPv4 addresses: refused like the default-denied ranges (a public one
    /// would otherwise be a way to the host's services).
    var hostAddresses: [IPv4Network]
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
        let refused = EgressCeiling.defaultDenied + hostAddresses.filter { address in !EgressCeiling.defaultDenied.contains { $0.contains(address) } }
        var lines = [
            "# The allowlist proxy of a Code Runner deployment, written by its workers (AllowlistProxy); do not edit.",
            "# hosts file: \(hostsFileDigest)",
            "http_port \(listenAddress):\(port) ssl-bump tls-cert=\(certificatePath) generate-host-certificates=off",
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
            "auth_param basic program \(helper) auth \(grantsDirectory)",
            "auth_param basic children 8 startup=1 idle=1",
            "auth_param basic realm code-runner allowlist",
            "auth_param basic credentialsttl 5 seconds",
            "external_acl_type cr_host ttl=5 negative_ttl=0 children-max=8 children-startup=1 %LOGIN %DST \(helper) host \(grantsDirectory)",
            "external_acl_type cr_sni ttl=5 negative_ttl=0 children-max=8 children-startup=1 %LOGIN %ssl::>sni \(helper) sni \(grantsDirectory)",
            "acl authenticated proxy_auth REQUIRED",
            "acl allowed_host external cr_host",
            "acl allowed_sni external cr_sni",
            "acl ipv6_destination dst ipv6",
            "acl refused_destination dst \(refused.map(\.description).joined(separator: " "))",
        ]
        if !denied.isEmpty { lines.append("acl operator_denied dst \(denied.map(\.description).joined(separator: " "))") }
        if !allowed.isEmpty { lines.append("acl operator_allowed dst \(allowed.map(\.description).joined(separator: " "))") }
        lines += [
            "acl tls_hello_unseen at_step SslBump1", "http_access deny !authenticated", "http_access deny !allowed_host all",
            "http_access deny ipv6_destination",
        ]
        if !denied.isEmpty { lines.append("http_access deny operator_denied") }
        if !allowed.isEmpty { lines.append("http_access allow operator_allowed") }
        lines += [
            "http_access deny refused_destination",
            "http_access allow all",
            "ssl_bump peek tls_hello_unseen",
            "ssl_bump splice allowed_sni",
            "ssl_bump terminate all",
            "on_unsupported_protocol tunnel all",
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}
