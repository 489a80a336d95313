import Queue

/// The firewall rules of one deployment's sandbox network, as plain values: what a networked
/// run (and a prebuild's setup script) may reach. `EgressFirewall` installs and checks them;
/// `Tests/WorkerTests/EgressPolicyTests.swift` asserts them without a kernel.
///
/// | traffic from the sandbox bridge | verdict |
/// |---|---|
/// | to any address of the host itself (bridge gateway, every interface) | refused (chain `<chain>-in`, jumped to from `INPUT`), but DNS to the host's resolvers and answers to connections the host opened |
/// | DNS (port 53) to the resolvers in the host's `/etc/resolv.conf` | allowed (Docker's embedded DNS forwards from the sandbox's namespace) |
/// | to `EGRESS_DENY_CIDRS` | refused |
/// | to `EGRESS_ALLOW_CIDRS` | allowed |
/// | to `defaultDenied`: this-network, RFC 1918, CGNAT, loopback, link-local (cloud metadata), IETF assignments, benchmarking, multicast, reserved and broadcast | refused |
/// | anything else (public unicast) | allowed (chain `<chain>`, jumped to from `DOCKER-USER`, which Docker evaluates first in `FORWARD`) |
///
/// The allowlist bridge (`SandboxSpec.allowlistNetwork`), once it exists, is policed by the same
/// policy (`allowlist`): everything its sandboxes send to other hosts is refused (`DOCKER-USER`
/// jumps straight to `<chain>-no`), and of the host only the allowlist proxy's port on the
/// bridge's gateway answers (chain `<chain>-al`, from `INPUT`). DNS is refused too: the proxy
/// resolves names, and a sandbox that asks a resolver instead learns at once that it may not.
///
/// Refused means a jump to `<chain>-no`, which `REJECT`s: TCP with a reset, anything else with
/// an ICMP port-unreachable, so a connection fails at once with "connection refused" instead of
/// hanging until its timeout (a reset, unlike the ICMP answers, is not rate-limited by the
/// kernel: measured, the ICMP-only version made every third refusal wait a second for a
/// retransmission). IPv6 is off in these sandboxes
/// (`SandboxSpec`), so there are no IPv6 rules. The documentation ranges (192.0.2.0/24,
/// 198.51.100.0/24, 203.0.113.0/24) are not denied: the internet does not route them, and
/// test set-ups (this repository's included) use them as stand-ins for public hosts.
///
/// Every rule is written exactly as `iptables -S` prints it, so `EgressFirewall` can check the
/// installed chains by comparing text.
struct EgressPolicy: Sendable, Equatable {
    /// The deployment whose network this is; names the chains.
    var deploymentID: String
    /// The network's bridge interface on the host (`cr-<deployment>`).
    var bridge: String
    /// The host's DNS resolvers (IPv4), reachable on port 53 only.
    var resolvers: [IPv4Network]
    var allowed: [IPv4Network]
    var denied: [IPv4Network]
    /// The allowlist bridge, when its network exists.
    var allowlist: AllowlistBridge? = nil

    /// Where allowlisted runs sit: their bridge, and the one port of the host they may reach.
    struct AllowlistBridge: Sendable, Equatable {
        var interface: String
        /// The bridge's gateway (a `/32`), where the allowlist proxy listens.
        var gateway: IPv4Network
        var proxyPort: Int
    }

    /// The ranges no networked sandbox reaches unless `EGRESS_ALLOW_CIDRS` names them.
    static let defaultDenied = EgressCeiling.defaultDenied

    /// The chain of forwarded traffic (to other hosts); at most 28 characters, as iptables requires.
    var forwardChain: String { "CR-" + String(deploymentID.prefix(20)) }
    /// The chain of traffic to the host itself.
    var inputChain: String { forwardChain + "-in" }
    /// The chain that refuses.
    var refuseChain: String { forwardChain + "-no" }
    /// The chain of traffic from the allowlist bridge to the host.
    var allowlistChain: String { forwardChain + "-al" }

    /// Every chain of the policy, the ones that jump first.
    var chains: [String] { [forwardChain, inputChain] + (allowlist == nil ? [] : [allowlistChain]) + [refuseChain] }

    /// A jump from a built-in or Docker chain into one of ours.
    struct Jump: Sendable, Equatable {
        var from: String
        var rule: [String]
    }

    var jumps: [Jump] {
        var jumps = [
            Jump(from: "DOCKER-USER", rule: ["-i", bridge, "-j", forwardChain]),
            Jump(from: "INPUT", rule: ["-i", bridge, "-j", inputChain]),
        ]
        if let allowlist {
            jumps.append(Jump(from: "DOCKER-USER", rule: ["-i", allowlist.interface, "-j", refuseChain]))
            jumps.append(Jump(from: "INPUT", rule: ["-i", allowlist.interface, "-j", allowlistChain]))
        }
        return jumps
    }

    private var dnsRules: [String] {
        resolvers.flatMap { resolver in
            ["udp", "tcp"].map { "-d \(resolver) -p \($0) -m \($0) --dport 53 -j RETURN" }
        }
    }

    private var refuse: String { "-j \(refuseChain)" }

    /// `iptables -S <forwardChain>` once installed.
    var forwardRules: [String] {
        let body =
            dnsRules + denied.map { "-d \($0) \(refuse)" } + allowed.map { "-d \($0) -j RETURN" }
            + Self.defaultDenied.map { "-d \($0) \(refuse)" } + ["-j RETURN"]
        return ["-N \(forwardChain)"] + body.map { "-A \(forwardChain) \($0)" }
    }

    private static let answers = "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"

    /// `iptables -S <inputChain>` once installed. Answers to connections the host opened to a
    /// sandbox pass; nothing the sandbox opens does, but DNS to the resolvers.
    var inputRules: [String] {
        ["-N \(inputChain)"] + ([Self.answers] + dnsRules + [refuse]).map { "-A \(inputChain) \($0)" }
    }

    /// `iptables -S <allowlistChain>` once installed (empty without an allowlist bridge): the
    /// proxy's port on the gateway, and nothing else of the host.
    var allowlistRules: [String] {
        guard let allowlist else { return [] }
        let proxy = "-d \(allowlist.gateway) -p tcp -m tcp --dport \(allowlist.proxyPort) -j RETURN"
        return ["-N \(allowlistChain)"] + [Self.answers, proxy, refuse].map { "-A \(allowlistChain) \($0)" }
    }

    /// `iptables -S <refuseChain>` once installed.
    var refuseRules: [String] {
        [
            "-N \(refuseChain)",
            "-A \(refuseChain) -p tcp -j REJECT --reject-with tcp-reset",
            "-A \(refuseChain) -j REJECT --reject-with icmp-port-unreachable",
        ]
    }

    /// Each chain's rules, as `iptables -S <chain>` prints them.
    var rules: [String: [String]] {
        var rules = [forwardChain: forwardRules, inputChain: inputRules, refuseChain: refuseRules]
        if allowlist != nil { rules[allowlistChain] = allowlistRules }
        return rules
    }

    /// What `iptables-restore --noflush` reads to (re)write the chains in one transaction: a
    /// chain named in the input is created, or emptied and refilled, atomically.
    var restoreInput: String {
        var lines = ["*filter"] + chains.map { ":\($0) - [0:0]" }
        lines += (forwardRules + inputRules + allowlistRules + refuseRules).filter { $0.hasPrefix("-A ") }
        lines.append("COMMIT")
        return lines.joined(separator: "\n") + "\n"
    }

    private static let loopback = try? IPv4Network.parse("127.0.0.0/8").get()

    /// The IPv4 resolvers named in a `resolv.conf` text, as /32 ranges.
    static func resolvers(inResolvConf text: String) -> [IPv4Network] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver",
                let resolver = try? IPv4Network.parse(String(fields[1])).get()
            else { return nil }
            // a resolver on the host's loopback is not one Docker hands to containers
            return loopback?.contains(resolver) == true ? nil : resolver
        }
    }
}
