import Queue
import Testing

@testable import Worker

/// The allowlist bridge's part of `EgressPolicy`: its sandboxes reach the proxy's port on the
/// gateway and nothing else; and replacing a policy never empties a chain the new one uses.
struct AllowlistPolicyTests {
    func policy(allowlist: Bool) throws -> EgressPolicy {
        EgressPolicy(
            deploymentID: "0123456789ab",
            bridge: "cr-0123456789ab",
            resolvers: [try IPv4Network.parse("10.255.255.53").get()],
            allowed: [],
            denied: [],
            allowlist: allowlist
                ? EgressPolicy.AllowlistBridge(
                    interface: "ca-0123456789ab",
                    gateway: try IPv4Network.parse("172.20.0.1").get(),
                    proxyPort: 23128
                ) : nil
        )
    }

    @Test("without an allowlist network: no allowlist chain, no jumps for its bridge")
    func absent() throws {
        let policy = try policy(allowlist: false)
        #expect(policy.chains == ["CR-0123456789ab", "CR-0123456789ab-in", "CR-0123456789ab-no"])
        #expect(policy.allowlistRules.isEmpty)
        #expect(policy.jumps.count == 2)
        #expect(!policy.restoreInput.contains("-al"))
    }

    @Test("the allowlist bridge: forwarded traffic refused outright, of the host only the proxy's port on the gateway")
    func allowlistRules() throws {
        let policy = try policy(allowlist: true)
        #expect(policy.chains == ["CR-0123456789ab", "CR-0123456789ab-in", "CR-0123456789ab-al", "CR-0123456789ab-no"])
        #expect(
            policy.allowlistRules == [
                "-N CR-0123456789ab-al",
                "-A CR-0123456789ab-al -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
                "-A CR-0123456789ab-al -d 172.20.0.1/32 -p tcp -m tcp --dport 23128 -j RETURN",
                "-A CR-0123456789ab-al -j CR-0123456789ab-no",
            ]
        )
        #expect(
            policy.jumps.suffix(2) == [
                .init(from: "DOCKER-USER", rule: ["-i", "ca-0123456789ab", "-j", "CR-0123456789ab-no"]),
                .init(from: "INPUT", rule: ["-i", "ca-0123456789ab", "-j", "CR-0123456789ab-al"]),
            ]
        )
        #expect(policy.rules["CR-0123456789ab-al"] == policy.allowlistRules)
        // declared before any rule, so that one chain may jump to another declared later
        let lines = policy.restoreInput.split(separator: "\n").map(String.init)
        let lastDeclaration = try #require(lines.lastIndex { $0.hasPrefix(":") })
        let firstRule = try #require(lines.firstIndex { $0.hasPrefix("-A ") })
        #expect(lastDeclaration < firstRule)
        #expect(lines.contains(":CR-0123456789ab-al - [0:0]"))
        #expect(lines.contains("-A CR-0123456789ab-al -d 172.20.0.1/32 -p tcp -m tcp --dport 23128 -j RETURN"))
    }
}
