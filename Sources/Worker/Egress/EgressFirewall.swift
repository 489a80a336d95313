import Foundation
import Logging

/// Installs, checks and removes an `EgressPolicy` with the host's `iptables` (the same binary,
/// and so the same nftables or legacy backend, that Docker uses). Needs root on the engine's
/// host: a worker that talks to a remote engine cannot police its sandboxes' traffic, and says
/// so (`EgressGuard`).
struct EgressFirewall: Sendable {
    /// Why the firewall could not do what was asked: the command and what it printed.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Where `iptables` and `iptables-restore` are looked up (the worker's `PATH`).
    var searchPath: String = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"

    /// Checks that the firewall can be used at all: the binaries exist, this process may use
    /// them, and the engine's `DOCKER-USER` chain is there (it is not with `dockerd --iptables=false`).
    func checkUsable() async throws(Failure) {
        _ = try await iptables(["-S", "DOCKER-USER"])
    }

    /// Writes the chains in one `iptables-restore` transaction, then adds the jumps that are
    /// missing (at the top of their chains).
    func install(_ policy: EgressPolicy) async throws(Failure) {
        _ = try await run("iptables-restore", ["-w", "--noflush"], input: policy.restoreInput)
        for jump in policy.jumps where !(await holds(jump)) {
            _ = try await iptables(["-I", jump.from, "1"] + jump.rule)
        }
    }

    /// True when every chain holds exactly the policy's rules and both jumps are in place.
    func isInstalled(_ policy: EgressPolicy) async -> Bool {
        for chain in policy.chains where (try? await iptables(["-S", chain])) != policy.rules[chain] { return false }
        for jump in policy.jumps where !(await holds(jump)) { return false }
        return true
    }

    /// Removes the jumps (every copy) and the chains, but those `kept` (the policy now in force)
    /// also has: emptying a chain the new policy shares would open it. What is already gone is
    /// fine.
    func remove(_ policy: EgressPolicy, keeping kept: EgressPolicy? = nil) async {
        for jump in policy.jumps where kept?.jumps.contains(jump) != true {
            while await holds(jump) {
                guard (try? await iptables(["-D", jump.from] + jump.rule)) != nil else { break }
            }
        }
        let chains = policy.chains.filter { kept?.chains.contains($0) != true }
        for chain in chains { _ = try? await iptables(["-F", chain]) }
        for chain in chains { _ = try? await iptables(["-X", chain]) }
    }

    private func holds(_ jump: EgressPolicy.Jump) async -> Bool {
        (try? await iptables(["-C", jump.from] + jump.rule)) != nil
    }

    /// `iptables -w <arguments>`: the lines it printed.
    private func iptables(_ arguments: [String]) async throws(Failure) -> [String] {
        try await run("iptables", ["-w"] + arguments, input: nil)
            .split(separator: "\n").map(String.init)
    }

    private func run(_ tool: String, _ arguments: [String], input: String?) async throws(Failure) -> String {
        do {
            return try await HostCommand(searchPath: searchPath).run(tool, arguments, input: input)
        } catch {
            throw Failure(description: error.description)
        }
    }
}
