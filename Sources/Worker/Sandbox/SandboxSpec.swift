import Queue

/// The container every run gets: the sandbox table of `shared/spec/SANDBOX.md` in one place.
///
/// | setting | value |
/// |---|---|
/// | user | 1000:1000 from the start |
/// | capabilities | drop ALL; `no-new-privileges`; the engine's default seccomp profile |
/// | root filesystem | read-only |
/// | writable space | `/tmp` tmpfs of `disk_limit` bytes, exec, nosuid, nodev, owned by 1000 (its pages count against memory); `/dev/shm` only 1 MiB |
/// | OCI runtime | `SANDBOX_RUNTIME` (e.g. runsc) or the engine's default |
/// | memory | `Memory = MemorySwap` (no swap) |
/// | CPU | `NanoCpus` and `CpuShares` |
/// | processes | `PidsLimit` |
/// | network | `NetworkDisabled` (only `lo`) unless asked for; then the deployment's own bridge with inter-container traffic disabled |
/// | logging | none: output is read live through attach |
/// | PID 1 | docker-init, which reaps zombies; the container ends when the entrypoint does |
/// | labels | deployment, job, worker |
enum SandboxSpec {
    static let deploymentLabel = "code-runner.deployment"
    static let jobLabel = "code-runner.job"
    static let workerLabel = "code-runner.worker"

    /// Size of `/dev/shm` in every run.
    static let shmBytes: Int64 = 1 << 20

    /// The bridge network of a deployment's sandboxes that asked for network access.
    static func networkName(deploymentID: String) -> String { "code-runner-\(deploymentID)" }

    static func container(
        for payload: RunPayload, jobID: String, workerID: String, deploymentID: String, runtime: String?
    ) -> ContainerConfig {
        ContainerConfig(
            Image: payload.image,
            Entrypoint: nil,
            User: "1000:1000",
            Env: payload.environment.map { "\($0.name)=\($0.value)" },
            Labels: [deploymentLabel: deploymentID, jobLabel: jobID, workerLabel: workerID],
            NetworkDisabled: !payload.allowNetwork,
            HostConfig: HostConfig(
                Memory: payload.memoryBytes,
                MemorySwap: payload.memoryBytes,
                NanoCpus: payload.nanoCPUs,
                CpuShares: payload.cpuShares,
                PidsLimit: payload.pidsLimit,
                ReadonlyRootfs: true,
                Tmpfs: ["/tmp": "rw,exec,nosuid,nodev,size=\(payload.diskBytes),uid=1000,gid=1000,mode=0755"],
                CapDrop: ["ALL"],
                SecurityOpt: ["no-new-privileges"],
                NetworkMode: payload.allowNetwork ? networkName(deploymentID: deploymentID) : nil,
                LogConfig: LogConfiguration(type: "none"),
                Init: true,
                Runtime: runtime,
                // `/dev/shm` stays (POSIX semaphores: Python's multiprocessing needs it) but at
                // 1 MiB, so it is no second disk: the only real writable space is `/tmp`.
                ShmSize: shmBytes))
    }
}
