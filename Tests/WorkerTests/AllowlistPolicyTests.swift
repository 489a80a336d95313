import Foundation
import Queue
import Testing

@testable import Worker

/// The allowlist bridge's part of `EgressPolicy`: its sandboxes reach the proxy's port on the
/// gateway and nothing else; and replacing a policy never empties a chain the new one uses
/// (`EgressFirewall.remove(_:keeping:)`, against an `iptables` stand-in that records its calls).
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

    @Test("removing the policy a new one replaced: only the jumps and chains the new one lacks go")
    func removeKeepingShared() async throws {
        let directory = NSTemporaryDirectory() + "fake-iptables-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // holds every jump given in `jumps` until it is deleted; logs every call
        let script = """
            #!/bin/sh
            shift  # -w
            echo "$*" >> \(directory)/calls
            case "$1" in
              -C) shift; grep -qxF -- "$*" \(directory)/jumps ;;
              -D) shift; grep -vxF -- "$*" \(directory)/jumps > \(directory)/jumps.new; mv \(directory)/jumps.new \(directory)/jumps ;;
              *) exit 0 ;;
            esac
            """
        // written through a close-on-exec descriptor: a process another test spawns meanwhile
        // must not inherit it open for writing (the exec would fail with ETXTBSY)
        let descriptor = open(directory + "/iptables", O_WRONLY | O_CREAT | O_CLOEXEC, 0o755)
        #expect(descriptor >= 0)
        _ = Array(script.utf8).withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        let previous = try policy(allowlist: true)
        let next = try policy(allowlist: false)
        let jumps = previous.jumps.map { ([$0.from] + $0.rule).joined(separator: " ") }
        try (jumps.joined(separator: "\n") + "\n").write(toFile: directory + "/jumps", atomically: true, encoding: .utf8)
        await EgressFirewall(searchPath: directory).remove(previous, keeping: next)
        let calls = try String(contentsOfFile: directory + "/calls", encoding: .utf8).split(separator: "\n").map(String.init)
        let left = try String(contentsOfFile: directory + "/jumps", encoding: .utf8).split(separator: "\n").map(String.init)
        // the allowlist bridge's jumps went; the sandbox bridge's stayed
        #expect(left == ["DOCKER-USER -i cr-0123456789ab -j CR-0123456789ab", "INPUT -i cr-0123456789ab -j CR-0123456789ab-in"])
        // only the allowlist chain was emptied and deleted
        #expect(calls.filter { $0.hasPrefix("-F") || $0.hasPrefix("-X") } == ["-F CR-0123456789ab-al", "-X CR-0123456789ab-al"])
    }
}
