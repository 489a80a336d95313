import Foundation
import Queue

/// The container every run gets: the sandbox's whole table in one place, asserted row by row
/// without an engine by `Tests/WorkerTests/SandboxSpecTests.swift`.
///
/// | setting | value |
/// |---|---|
/// | user | 1000:1000 from the start |
/// | capabilities | drop ALL; `no-new-privileges`; the engine's default seccomp profile |
/// | root filesystem | read-only |
/// | writable space | `/tmp` tmpfs of `disk_limit` bytes, exec, nosuid, nodev, owned by 1000 (its pages count against memory); `/dev/shm` only 1 MiB |
/// | OCI runtime | `SANDBOX_RUNTIME` (e.g. runsc) or the engine's default |
/// | memory | `Memory = MemorySwap` (no swap) |
/// | CPU | `NanoCpus` (the request's `cpus`, at most the host's processors: Docker refuses more) and `CpuShares` |
/// | processes | `PidsLimit` |
/// | network | `NetworkDisabled` (only `lo`) unless asked for; then the deployment's own bridge (`network(deploymentID:)`) with inter-container traffic disabled, the egress policy on its traffic (`EgressPolicy`) and IPv6 off; a run with `allowed_hosts` joins the allowlist bridge instead (`allowlistNetwork(deploymentID:)`), where it reaches the allowlist proxy and nothing else, and gets the proxy's URL in `HTTP_PROXY`/`HTTPS_PROXY` (`ProxyGrant`) and a `resolv.conf` naming only its own loopback, so a name it looks up itself fails at once (Docker's embedded DNS would take 10 s to give up on the refused upstream) |
/// | logging | none: output is read live through attach |
/// | PID 1 | docker-init, which reaps zombies; the container ends when the entrypoint does |
/// | labels | deployment, job, worker, the worker's process (`processLabel`), its host (`hostLabel`) |
enum SandboxSpec {
    static let deploymentLabel = "code-runner.deployment"
    static let jobLabel = "code-runner.job"
    static let workerLabel = "code-runner.worker"
    /// Which process created the container. A restarted worker keeps its id (systemd's
    /// `code-runner-worker@N`, `scripts/run-service.sh`), so only this label tells the warm and
    /// build containers its killed predecessor left, which nobody will use again, from its own.
    static let processLabel = "code-runner.worker-process"
    /// The worker's host (`WORKER_HOST`): on hosts that share one engine, a worker's orphan
    /// sweep leaves another host's containers alone (`OrphanSweeper`).
    static let hostLabel = "code-runner.host"
    /// This process's value of `processLabel`: new at every start.
    static let processToken = UUID().uuidString.lowercased()

    /// Size of `/dev/shm` in every run.
    static let shmBytes: Int64 = 1 << 20

    /// The processors of this host: `NanoCpus` above them is refused by Docker.
    static let hostCPUs = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// The bridge network of a deployment's sandboxes that asked for network access (and of
    /// prebuilds): `code-runner-<deployment>`.
    static func networkName(deploymentID: String) -> String { "code-runner-\(deploymentID)" }

    /// The network `networkName` names: a bridge with inter-container traffic disabled
    /// (`enable_icc=false`), so sandboxes that asked for network reach the outside, not each
    /// other. Created by the first worker that needs it.
    static func network(deploymentID: String) -> NetworkCreate {
        NetworkCreate(
            name: networkName(deploymentID: deploymentID),
            driver: "bridge",
            checkDuplicate: true,
            options: [
                "com.docker.network.bridge.enable_icc": "false",
                bridgeNameOption: bridgeName(deploymentID: deploymentID),
            ],
            labels: [deploymentLabel: deploymentID]
        )
    }

    /// The bridge network of a deployment's allowlisted runs (`allowed_hosts`):
    /// `code-runner-<deployment>-allowlist`.
    static func allowlistNetworkName(deploymentID: String) -> String { networkName(deploymentID: deploymentID) + "-allowlist" }

    /// The network `allowlistNetworkName` names: like `network(deploymentID:)`, on the bridge
    /// `allowlistBridgeName`, whose sandboxes the egress policy lets reach the allowlist proxy on
    /// the bridge's gateway and nothing else (`EgressPolicy.allowlist`).
    /// Docker does not masquerade its traffic either: should its rules ever be missing, what
    /// leaves it leaves with a private source address no one outside answers.
    static func allowlistNetwork(deploymentID: String) -> NetworkCreate {
        var spec = network(deploymentID: deploymentID)
        spec.name = allowlistNetworkName(deploymentID: deploymentID)
        spec.options[bridgeNameOption] = allowlistBridgeName(deploymentID: deploymentID)
        spec.options["com.docker.network.bridge.enable_ip_masquerade"] = "false"
        return spec
    }

    /// `ca-<deployment>`: the allowlist network's host interface.
    static func allowlistBridgeName(deploymentID: String) -> String { "ca-" + String(deploymentID.prefix(12)) }

    /// The network option that names the bridge interface on the host.
    static let bridgeNameOption = "com.docker.network.bridge.name"

    /// `cr-<deployment>`: the host interface the egress policy's rules match
    /// (`EgressPolicy`); at most 15 characters, as Linux allows.
    static func bridgeName(deploymentID: String) -> String { "cr-" + String(deploymentID.prefix(12)) }

    /// A networked sandbox has no IPv6 (the egress policy is IPv4's): set in its own namespace.
    static let networkedSysctls = ["net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"]

    /// `cpus` up to `MAX_CPU_CORES` is valid in a request, but Docker refuses more than the
    /// host has: the CPU cap a run gets on this host.
    static func nanoCPUs(for payload: RunPayload, hostCPUs: Int = hostCPUs) -> Int64 {
        clampedNanoCPUs(payload.nanoCPUs, hostCPUs: hostCPUs)
    }

    /// `requested` billionths of a core, at most `hostCPUs` whole cores.
    static func clampedNanoCPUs(_ requested: Int64, hostCPUs: Int) -> Int64 {
        min(requested, Int64(max(1, hostCPUs)) * 1_000_000_000)
    }

    static func container(
        for payload: RunPayload,
        jobID: String,
        workerID: String,
        deploymentID: String,
        host: String = ServiceSettings.machineHostName,
        runtime: String?,
        proxy: ProxyGrant? = nil,
        hostCPUs: Int = hostCPUs,
        command: [String]? = nil
    ) -> ContainerConfig {
        var environment = payload.environment.map { ($0.name, $0.value) }
        if let proxy {
            environment.removeAll { ProxyGrant.variableNames.contains($0.0) }
            environment += proxy.environment
        }
        return ContainerConfig(
            image: payload.image,
            entrypoint: nil,
            command: command,
            user: "1000:1000",
            environment: environment.map { "\($0.0)=\($0.1)" },
            labels: [
                deploymentLabel: deploymentID, jobLabel: jobID, workerLabel: workerID, processLabel: processToken, hostLabel: host,
            ],
            // an allowlisted payload without its proxy grant gets no network at all
            networkDisabled: proxy == nil && !payload.allowNetwork,
            hostConfig: HostConfig(
                memory: payload.memoryBytes,
                memorySwap: payload.memoryBytes,
                nanoCPUs: nanoCPUs(for: payload, hostCPUs: hostCPUs),
                cpuShares: payload.cpuShares,
                pidsLimit: payload.pidsLimit,
                readonlyRootfs: true,
                tmpfs: ["/tmp": "rw,exec,nosuid,nodev,size=\(payload.diskBytes),uid=1000,gid=1000,mode=0755"],
                capDrop: ["ALL"],
                securityOptions: ["no-new-privileges"],
                networkMode: proxy?.networkName ?? (payload.allowNetwork ? networkName(deploymentID: deploymentID) : nil),
                logConfig: LogConfiguration(type: "none"),
                initProcess: true,
                runtime: runtime,
                // `/dev/shm` stays (POSIX semaphores: Python's multiprocessing needs it) but at
                // 1 MiB, so it is no second disk: the only real writable space is `/tmp`.
                shmSize: shmBytes,
                sysctls: proxy != nil || payload.allowNetwork ? networkedSysctls : nil,
                binds: proxy.map { ["\($0.resolvConfPath):/etc/resolv.conf:ro"] }
            )
        )
    }
}
