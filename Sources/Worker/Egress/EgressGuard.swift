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
    /// Nil while networked runs may start; otherwise why they may not.
    private(set) var problem: String?

    init(
        docker: DockerClient,
        settings: ServiceSettings,
        firewall: EgressFirewall = EgressFirewall(),
        resolvConf: String = "/etc/resolv.conf",
        logger: Logger
    ) {
        self.docker = docker
        self.firewall = firewall
        self.allowed = settings.egressAllowCIDRs
        self.denied = settings.egressDenyCIDRs
        self.resolvConf = resolvConf
        self.logger = logger
    }

    func prepare(deploymentID: String, runtime: String?) async throws(ExecutionFailure) {
        // gVisor registered with --network=none (the only way it runs on hosts like this one)
        // gives its sandboxes loopback only: a networked run would quietly have no network
        if let runtime, await registeredWithoutNetwork(runtime) {
            throw ExecutionFailure(
                failure: JobFailure(
                    statusCode: 503,
                    detail:
                        "Networked runs are unavailable: SANDBOX_RUNTIME=\(runtime) is registered with --network=none, so its sandboxes have no network"
                ),
                retryable: false
            )
        }
        do {
            try await docker.ensureNetwork(SandboxSpec.network(deploymentID: deploymentID))
        } catch let error as DockerEngineError {
            throw ExecutionFailure(engineError: error, image: "")
        } catch {
            throw .internalError(error, while: "creating the sandbox network")
        }
        if let problem = await enforce(deploymentID: deploymentID) {
            throw ExecutionFailure(
                failure: JobFailure(statusCode: 503, detail: "Networked runs are unavailable: \(problem)"),
                retryable: false
            )
        }
    }

    /// Checks the policy of the deployment's network, if the network exists, and repairs it;
    /// without a network, checks that the firewall can be used at all. Returns (and keeps in
    /// `problem`) why networked runs cannot start, or nil.
    @discardableResult
    func enforce(deploymentID: String) async -> String? {
        let bridge: String?
        do {
            bridge = try await docker.networkBridge(SandboxSpec.networkName(deploymentID: deploymentID))
        } catch {
            return record("the sandbox network could not be inspected: \(error)")
        }
        guard let bridge else {
            do {
                try await firewall.checkUsable()
                return record(nil)
            } catch {
                return record("the egress firewall cannot be used: \(error)")
            }
        }
        // Rules written in another network namespace (a worker under systemd's PrivateNetwork,
        // or in a container of its own) would hold there and police nothing.
        guard FileManager.default.fileExists(atPath: "/sys/class/net/\(bridge)") else {
            return record(
                "the sandbox bridge \(bridge) is not visible to this worker: it must share the network namespace of the engine's host"
            )
        }
        let policy = policy(deploymentID: deploymentID, bridge: bridge)
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
        if let previous = installed, previous != policy { await firewall.remove(previous) }
        if installed == nil {
            logger.info("egress policy installed", metadata: ["bridge": "\(bridge)", "chain": "\(policy.forwardChain)"])
        } else {
            logger.warning("egress policy was missing or changed; installed again", metadata: ["bridge": "\(bridge)"])
        }
        installed = policy
        return record(nil)
    }

    /// Removes the deployment's network unless a container is still attached, and with it its
    /// rules. True when the network is gone.
    func removeNetwork(deploymentID: String) async throws -> Bool {
        let name = SandboxSpec.networkName(deploymentID: deploymentID)
        // a network removed by someone else leaves its rules to us: those of the bridge name
        // this service gives it
        let bridge = try await docker.networkBridge(name) ?? SandboxSpec.bridgeName(deploymentID: deploymentID)
        guard try await docker.removeNetworkIfUnused(name) else { return false }
        await firewall.remove(policy(deploymentID: deploymentID, bridge: bridge))
        if let installed, installed.bridge != bridge { await firewall.remove(installed) }
        installed = nil
        return true
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

    private func policy(deploymentID: String, bridge: String) -> EgressPolicy {
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
        return EgressPolicy(deploymentID: deploymentID, bridge: bridge, resolvers: resolvers, allowed: allowed, denied: denied)
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
