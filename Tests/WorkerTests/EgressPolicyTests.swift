import Queue
import Testing

@testable import Worker

/// `EgressPolicy`: the rules of a deployment's sandbox network, exactly as `iptables -S` prints
/// them, in the order that decides (DNS, operator denials, operator allowances, default denials).
struct EgressPolicyTests {
    func range(_ text: String) throws -> IPv4Network { try IPv4Network.parse(text).get() }

    @Test("forward chain: DNS to the resolvers, EGRESS_DENY_CIDRS, EGRESS_ALLOW_CIDRS, the default denials, then the rest")
    func forwardRules() throws {
        let policy = EgressPolicy(
            deploymentID: "0123456789ab",
            bridge: "cr-0123456789ab",
            resolvers: [try range("10.255.255.53")],
            allowed: [try range("10.1.0.0/16")],
            denied: [try range("203.0.113.0/24")]
        )
        let reject = "-j CR-0123456789ab-no"
        #expect(
            policy.forwardRules == [
                "-N CR-0123456789ab",
                "-A CR-0123456789ab -d 10.255.255.53/32 -p udp -m udp --dport 53 -j RETURN",
                "-A CR-0123456789ab -d 10.255.255.53/32 -p tcp -m tcp --dport 53 -j RETURN",
                "-A CR-0123456789ab -d 203.0.113.0/24 \(reject)",
                "-A CR-0123456789ab -d 10.1.0.0/16 -j RETURN",
                "-A CR-0123456789ab -d 0.0.0.0/8 \(reject)",
                "-A CR-0123456789ab -d 10.0.0.0/8 \(reject)",
                "-A CR-0123456789ab -d 100.64.0.0/10 \(reject)",
                "-A CR-0123456789ab -d 127.0.0.0/8 \(reject)",
                "-A CR-0123456789ab -d 169.254.0.0/16 \(reject)",
                "-A CR-0123456789ab -d 172.16.0.0/12 \(reject)",
                "-A CR-0123456789ab -d 192.0.0.0/24 \(reject)",
                "-A CR-0123456789ab -d 192.168.0.0/16 \(reject)",
                "-A CR-0123456789ab -d 198.18.0.0/15 \(reject)",
                "-A CR-0123456789ab -d 224.0.0.0/4 \(reject)",
                "-A CR-0123456789ab -d 240.0.0.0/4 \(reject)",
                "-A CR-0123456789ab -j RETURN",
            ]
        )
        #expect(
            policy.inputRules == [
                "-N CR-0123456789ab-in",
                "-A CR-0123456789ab-in -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
                "-A CR-0123456789ab-in -d 10.255.255.53/32 -p udp -m udp --dport 53 -j RETURN",
                "-A CR-0123456789ab-in -d 10.255.255.53/32 -p tcp -m tcp --dport 53 -j RETURN",
                "-A CR-0123456789ab-in \(reject)",
            ]
        )
        #expect(
            policy.refuseRules == [
                "-N CR-0123456789ab-no",
                "-A CR-0123456789ab-no -p tcp -j REJECT --reject-with tcp-reset",
                "-A CR-0123456789ab-no -j REJECT --reject-with icmp-port-unreachable",
            ]
        )
        #expect(
            policy.jumps == [
                .init(from: "DOCKER-USER", rule: ["-i", "cr-0123456789ab", "-j", "CR-0123456789ab"]),
                .init(from: "INPUT", rule: ["-i", "cr-0123456789ab", "-j", "CR-0123456789ab-in"]),
            ]
        )
    }

    @Test("the restore input rewrites both chains in one transaction, with the same rules")
    func restoreInput() throws {
        let policy = EgressPolicy(deploymentID: "tests", bridge: "cr-tests", resolvers: [], allowed: [], denied: [])
        let lines = policy.restoreInput.split(separator: "\n").map(String.init)
        #expect(lines.prefix(4) == ["*filter", ":CR-tests - [0:0]", ":CR-tests-in - [0:0]", ":CR-tests-no - [0:0]"])
        #expect(lines.last == "COMMIT")
        let added = (policy.forwardRules + policy.inputRules + policy.refuseRules).filter { $0.hasPrefix("-A") }
        #expect(Array(lines.dropFirst(4).dropLast()) == added)
    }

    @Test("chain names stay within iptables' 28 characters; the bridge within Linux's 15")
    func nameLengths() {
        let long = String(repeating: "f", count: 40)
        let policy = EgressPolicy(deploymentID: long, bridge: SandboxSpec.bridgeName(deploymentID: long), resolvers: [], allowed: [], denied: [])
        #expect(policy.chains.allSatisfy { $0.count <= 28 })
        #expect(policy.bridge.count <= 15)
    }

    @Test("resolvers: the IPv4 nameservers of resolv.conf, not loopback ones or IPv6")
    func resolvers() {
        let text = "# comment\nnameserver 10.255.255.53\nnameserver\t192.0.2.53\nnameserver 127.0.0.53\nnameserver fd00::53\nsearch example\n"
        #expect(EgressPolicy.resolvers(inResolvConf: text).map(\.description) == ["10.255.255.53/32", "192.0.2.53/32"])
    }

    @Test("a networked sandbox and a build container have IPv6 off; a run without network has no sysctls")
    func ipv6Off() {
        var networked = RunPayload.testRun("print(1)")
        networked.allowNetwork = true
        let config = SandboxSpec.container(for: networked, jobID: "j", workerID: "w", deploymentID: "d", runtime: nil)
        #expect(config.hostConfig.sysctls?["net.ipv6.conf.all.disable_ipv6"] == "1")
        let offline = SandboxSpec.container(for: .testRun("print(1)"), jobID: "j", workerID: "w", deploymentID: "d", runtime: nil)
        #expect(offline.hostConfig.sysctls == nil)
        #expect(SandboxSpec.network(deploymentID: "d").options[SandboxSpec.bridgeNameOption] == "cr-d")
    }
}
