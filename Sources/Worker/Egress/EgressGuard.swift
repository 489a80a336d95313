import Foundation
import Logging
import Queue

/// What a networked run needs before its container is created: the deployment's network, and
/// the egress policy in force on it. The service's is `EgressGuard`; tests that exercise the
/// engine without a firewall bring their own.
protocol SandboxNetwork: Sendable {
    /// Makes the network ready for a networked container run by the OCI runtime `runtime` (nil:
    /// the engine's default), or throws why it cannot be.
    func prepare(deploymentID: String, runtime: String?) async throws(ExecutionFailure)

    /// Admits a run limited to `hosts` (`allowed_hosts`, in `HostPattern` spelling): the
    /// deployment's allowlist network and proxy ready, and a grant for the run written, which
    /// lapses after `lifetimeSeconds` unless revoked first.
    func admit(_ hosts: [String], deploymentID: String, runtime: String?, lifetimeSeconds: Int) async throws(ExecutionFailure) -> ProxyGrant

    /// Withdraws a grant: the proxy refuses its token from now on.
    func revoke(_ grant: ProxyGrant) async
}

/// Keeps the deployment's egress policy (`EgressPolicy`) in force on its sandbox network: before
/// every networked run or prebuild, and on every heartbeat, it checks the rules and writes them
/// again when they differ or vanished (a `dockerd` restart may rewrite chains). When they cannot
/// be installed, networked runs are refused with a 503 and the heartbeat carries the reason
/// (`problem`), which `/health` shows: a sandbox network is never left open.
actor EgressGuard: SandboxNetwork {
    private let docker: DockerClient
    private let firewall: EgressFirewall
    private let allowed: [IPv4Network]
    private let denied: [IPv4Network]
    private let resolvConf: String
    private let logger: Logger
    /// The policy last installed, to remove it with the network.
    private var installed: EgressPolicy?
    /// The last policy check begun (`enforce`), which the next one waits for.
    private var enforcement: Task<String?, Never>?
    /// The allowlist proxy's start or reload under way, which concurrent admissions share.
    private var proxyStart: (configuration: ProxyConfiguration, task: Task<Result<Void, AllowlistProxy.Failure>, Never>)?
    /// Nil while networked runs may start; otherwise why they may not.
    private(set) var problem: String?
    /// The executable squid runs as the allowlist proxy's helpers (`proxy-helper`): this one.
    private let helperExecutable: String

    init(
        docker: DockerClient,
        settings: ServiceSettings,
        firewall: EgressFirewall = EgressFirewall(),
        resolvConf: String = "/etc/resolv.conf",
        helperExecutable: String = EgressGuard.ownExecutable(),
        logger: Logger
    ) {
        self.helperExecutable = helperExecutable
        self.docker = docker
        self.firewall = firewall
        self.allowed = settings.egressAllowCIDRs
        self.denied = settings.egressDenyCIDRs
        self.resolvConf = resolvConf
        self.logger = logger
    }

    func prepare(deploymentID: String, runtime: String?) async throws(ExecutionFailure) {
        try await refuseWithoutNetwork(runtime)
        try await ensure(SandboxSpec.network(deploymentID: deploymentID))
        if let problem = await enforce(deploymentID: deploymentID) {
            throw Self.unavailable("Networked runs", problem)
        }
    }

    func admit(_ hosts: [String], deploymentID: String, runtime: String?, lifetimeSeconds: Int) async throws(ExecutionFailure) -> ProxyGrant {
        try await refuseWithoutNetwork(runtime)
        try await ensure(SandboxSpec.allowlistNetwork(deploymentID: deploymentID))
        let gateway: IPv4Network
        do {
            guard let network = try await docker.bridgeNetwork(SandboxSpec.allowlistNetworkName(deploymentID: deploymentID)),
                let address = network.gateway
            else {
                throw Self.unavailable("Allowlisted runs", "the allowlist network has no IPv4 gateway for the proxy to listen on")
            }
            gateway = address
        } catch let failure as ExecutionFailure {
            throw failure
        } catch {
            throw .internalError(error, while: "inspecting the allowlist network")
        }
        if let problem = await enforce(deploymentID: deploymentID) {
            throw Self.unavailable("Allowlisted runs", problem)
        }
        let proxy = AllowlistProxy(deploymentID: deploymentID)
        let listenAddress = String(gateway.description.dropLast(3))
        do {
            try await startProxy(proxy, configuration(of: proxy, listeningOn: listenAddress))
            let token = try proxy.grant(hosts, lifetimeSeconds: lifetimeSeconds)
            return ProxyGrant(
                token: token,
                proxyAddress: listenAddress,
                proxyPort: AllowlistProxy.port,
                deploymentID: deploymentID,
                resolvConfPath: proxy.resolvConfPath,
                networkName: SandboxSpec.allowlistNetworkName(deploymentID: deploymentID)
            )
        } catch {
            throw Self.unavailable("Allowlisted runs", "the allowlist proxy could not be used: \(error)")
        }
    }

    func revoke(_ grant: ProxyGrant) async {
        AllowlistProxy(deploymentID: grant.deploymentID).revoke(token: grant.token)
    }

    /// Checks the policy of the deployment's networks (the sandbox network and the allowlist
    /// network), if either exists, and repairs it; without a network, checks that the firewall
    /// can be used at all. Returns (and keeps in `problem`) why networked runs cannot start, or
    /// nil.
    ///
    /// One check at a time: the actor lets another call in at every `iptables` it awaits, and two
    /// interleaved checks could each install what they read and remove the other's rules (the
    /// allowlist chain while allowlisted runs use it). Each waits for the one before.
    @discardableResult
    func enforce(deploymentID: String) async -> String? {
        let previous = enforcement
        let check = Task { () -> String? in
            _ = await previous?.value
            return await self.enforceNow(deploymentID: deploymentID)
        }
        enforcement = check
        return await check.value
    }

    private func enforceNow(deploymentID: String) async -> String? {
        let sandboxNetwork: BridgeNetwork?
        let allowlistNetwork: BridgeNetwork?
        do {
            sandboxNetwork = try await docker.bridgeNetwork(SandboxSpec.networkName(deploymentID: deploymentID))
            allowlistNetwork = try await docker.bridgeNetwork(SandboxSpec.allowlistNetworkName(deploymentID: deploymentID))
        } catch {
            return record("the sandbox network could not be inspected: \(error)")
        }
        guard sandboxNetwork != nil || allowlistNetwork != nil else {
            do {
                try await firewall.checkUsable()
                return record(nil)
            } catch {
                return record("the egress firewall cannot be used: \(error)")
            }
        }
        // Rules written in another network namespace (a worker under systemd's PrivateNetwork,
        // or in a container of its own) would hold there and police nothing.
        for bridge in [sandboxNetwork, allowlistNetwork].compactMap(\.?.interface)
        where !FileManager.default.fileExists(atPath: "/sys/class/net/\(bridge)") {
            return record(
                "the sandbox bridge \(bridge) is not visible to this worker: it must share the network namespace of the engine's host"
            )
        }
        var allowlist: EgressPolicy.AllowlistBridge?
        if let allowlistNetwork {
            guard let gateway = allowlistNetwork.gateway else {
                return record("the allowlist network \(allowlistNetwork.interface) has no IPv4 gateway")
            }
            allowlist = EgressPolicy.AllowlistBridge(interface: allowlistNetwork.interface, gateway: gateway, proxyPort: AllowlistProxy.port)
            let lapsed = AllowlistProxy(deploymentID: deploymentID).removeLapsedGrants()
            if lapsed > 0 { logger.info("removed lapsed allowlist grants", metadata: ["count": "\(lapsed)"]) }
        }
        let bridge = sandboxNetwork?.interface ?? SandboxSpec.bridgeName(deploymentID: deploymentID)
        let policy = policy(deploymentID: deploymentID, bridge: bridge, allowlist: allowlist)
        if await firewall.isInstalled(policy) {
            installed = policy
            return record(nil)
        }
        do {
            try await firewall.install(policy)
        } catch {
            return record("the egress policy could not be installed: \(error)")
        }
        guard await firewall.isInstalled(policy) else {
            return record("the egress policy did not hold after it was installed (another program rewrites the firewall?)")
        }
        if let previous = installed, previous != policy { await firewall.remove(previous, keeping: policy) }
        if installed == nil {
            logger.info("egress policy installed", metadata: ["bridge": "\(bridge)", "chain": "\(policy.forwardChain)"])
        } else {
            logger.warning("egress policy was missing or changed; installed again", metadata: ["bridge": "\(bridge)"])
        }
        installed = policy
        return record(nil)
    }

    /// Removes the deployment's networks unless a container is still attached to one, and with
    /// them the allowlist proxy and the rules. True when both networks are gone.
    func removeNetwork(deploymentID: String) async throws -> Bool {
        let name = SandboxSpec.networkName(deploymentID: deploymentID)
        let allowlistName = SandboxSpec.allowlistNetworkName(deploymentID: deploymentID)
        // a network removed by someone else leaves its rules to us: those of the bridge name
        // this service gives it
        let bridge = try await docker.networkBridge(name) ?? SandboxSpec.bridgeName(deploymentID: deploymentID)
        guard try await docker.removeNetworkIfUnused(allowlistName) else { return false }
        do {
            try await AllowlistProxy(deploymentID: deploymentID).stop()
        } catch {
            logger.warning("the allowlist proxy did not stop cleanly", metadata: ["error": "\(error)"])
        }
        guard try await docker.removeNetworkIfUnused(name) else { return false }
        // the allowlist chain goes whatever its gateway was: only its name matters here
        let allowlist = EgressPolicy.AllowlistBridge(
            interface: SandboxSpec.allowlistBridgeName(deploymentID: deploymentID),
            gateway: .everything,
            proxyPort: AllowlistProxy.port
        )
        await firewall.remove(policy(deploymentID: deploymentID, bridge: bridge, allowlist: allowlist))
        if let installed, installed.bridge != bridge || installed.allowlist?.interface != allowlist.interface {
            await firewall.remove(installed)
        }
        installed = nil
        return true
    }

    /// This process's executable, by the path it was started from: after an upgrade replaced the
    /// file, `/proc/self/exe` reads `<path> (deleted)`, and the path names the new binary.
    static func ownExecutable() -> String {
        guard let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            return CommandLine.arguments[0]
        }
        return path.hasSuffix(" (deleted)") ? String(path.dropLast(" (deleted)".count)) : path
    }

    private func refuseWithoutNetwork(_ runtime: String?) async throws(ExecutionFailure) {
        // gVisor registered with --network=none (the only way it runs on hosts like this one)
        // gives its sandboxes loopback only: a networked run would quietly have no network
        if let runtime, await registeredWithoutNetwork(runtime) {
            throw Self.unavailable(
                "Networked runs",
                "SANDBOX_RUNTIME=\(runtime) is registered with --network=none, so its sandboxes have no network"
            )
        }
    }

    private func ensure(_ network: NetworkCreate) async throws(ExecutionFailure) {
        do {
            try await docker.ensureNetwork(network)
        } catch let error as DockerEngineError {
            throw ExecutionFailure(engineError: error, image: "")
        } catch {
            throw .internalError(error, while: "creating the sandbox network")
        }
    }

    /// The 503 of `kind` ("Networked runs") refused for `reason`.
    private static func unavailable(_ kind: String, _ reason: String) -> ExecutionFailure {
        ExecutionFailure(failure: JobFailure(statusCode: 503, detail: "\(kind) are unavailable: \(reason)"), retryable: false)
    }

    /// Starts or reloads the proxy; admissions that arrive meanwhile with the same
    /// configuration wait for the same start.
    private func startProxy(_ proxy: AllowlistProxy, _ configuration: ProxyConfiguration) async throws(AllowlistProxy.Failure) {
        if let current = proxyStart, current.configuration == configuration {
            return try await current.task.value.get()
        }
        let task = Task { () -> Result<Void, AllowlistProxy.Failure> in
            do throws(AllowlistProxy.Failure) {
                try await proxy.ensureRunning(configuration)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        proxyStart = (configuration, task)
        let outcome = await task.value
        if proxyStart?.task == task { proxyStart = nil }
        try outcome.get()
    }

    private func configuration(of proxy: AllowlistProxy, listeningOn address: String) -> ProxyConfiguration {
        ProxyConfiguration(
            listenAddress: address,
            port: AllowlistProxy.port,
            directory: proxy.directory,
            helperExecutable: helperExecutable,
            allowed: allowed,
            denied: denied,
            hostAddresses: HostAddresses.ipv4(),
            hostAddresses6: HostAddresses.ipv6(),
            hostsFileDigest: SHA256.hexDigest(Array(FileManager.default.contents(atPath: "/etc/hosts") ?? Data()))
        )
    }

    /// True when the engine registers `runtime` with `--network=none`. An engine that cannot say
    /// is logged and taken as not: its container create then fails on its own.
    private func registeredWithoutNetwork(_ runtime: String) async -> Bool {
        do {
            return try await docker.info().runtimes?[runtime]?.runtimeArgs?.contains("--network=none") == true
        } catch {
            logger.warning("could not read the engine's runtimes", metadata: ["runtime": "\(runtime)", "error": "\(error)"])
            return false
        }
    }

    private func policy(deploymentID: String, bridge: String, allowlist: EgressPolicy.AllowlistBridge? = nil) -> EgressPolicy {
        var resolvers: [IPv4Network] = []
        do {
            resolvers = EgressPolicy.resolvers(inResolvConf: try String(contentsOfFile: resolvConf, encoding: .utf8))
        } catch {
            // without them sandboxes keep Docker's embedded DNS, whose queries are then refused
            logger.warning(
                "could not read the host's resolvers; DNS from networked runs will fail",
                metadata: ["file": "\(resolvConf)", "error": "\(error)"]
            )
        }
        return EgressPolicy(
            deploymentID: deploymentID,
            bridge: bridge,
            resolvers: resolvers,
            allowed: allowed,
            denied: denied,
            allowlist: allowlist
        )
    }

    private func record(_ problem: String?) -> String? {
        if let problem, problem != self.problem {
            logger.error("networked runs are refused", metadata: ["reason": "\(problem)"])
        } else if problem == nil, let previous = self.problem {
            logger.notice("networked runs are possible again", metadata: ["previously": "\(previous)"])
        }
        self.problem = problem
        return problem
    }
}
