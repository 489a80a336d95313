import Queue

/// The container a setup script runs in: the confinement of a prebuild, in one place.
///
/// Builds do not use the Engine API's `/build`: the classic builder gives each `RUN` Docker's
/// default capability set (NET_RAW, SETUID, MKNOD, …), no pids limit, no way to drop
/// capabilities and the default bridge. Instead a build is create → run under limits → commit:
///
/// | setting | value |
/// |---|---|
/// | user | root (package managers need it), working directory `/app` (created by the engine) |
/// | capabilities | drop ALL, then only CHOWN, DAC_OVERRIDE, FOWNER, FSETID, SETUID, SETGID, KILL (what apt, dpkg and pip use); `no-new-privileges`; the engine's default seccomp profile |
/// | memory | `PREBUILD_MEMORY_MB`, no swap |
/// | CPU | `PREBUILD_CPUS` |
/// | processes | `PREBUILD_PIDS_LIMIT` |
/// | disk | the layer it adds is watched while it runs and checked before commit: at most `PREBUILD_MAX_LAYER_MB` |
/// | network | the deployment's sandbox bridge (inter-container traffic off), the network networked runs get and with it their egress policy; never the engine's default bridge |
/// | time | `PREBUILD_TIMEOUT`, then killed |
/// | log | json-file, at most 2 × 1 MiB kept (the end of a long log is what explains a failure) |
/// | labels | deployment, worker and `code-runner.job=prebuild` (so the orphan sweep knows it) |
enum BuildSandboxSpec {
    /// Where the wrapper, the setup script and the CA bundle are put before the start; the
    /// wrapper removes it before the commit, so nothing of it reaches the image.
    static let inputDirectory = "/tmp/.code-runner-build"
    /// The job label of build containers (they belong to the worker running the build).
    static let jobLabel = "prebuild"
    static let capabilities = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "SETUID", "SETGID", "KILL"]

    /// Resource limits of one build, from the service settings.
    struct Limits: Sendable, Equatable {
        var memoryBytes: Int64
        var nanoCPUs: Int64
        var pidsLimit: Int
        var maxLayerBytes: Int64

        init(memoryBytes: Int64, nanoCPUs: Int64, pidsLimit: Int, maxLayerBytes: Int64) {
            self.memoryBytes = memoryBytes
            self.nanoCPUs = nanoCPUs
            self.pidsLimit = pidsLimit
            self.maxLayerBytes = maxLayerBytes
        }

        init(settings: ServiceSettings, hostCPUs: Int) {
            self.init(
                memoryBytes: Int64(settings.prebuildMemoryMB) * ByteSize.mebibyte,
                nanoCPUs: SandboxSpec.clampedNanoCPUs(RunPayload.nanoCPUs(cores: settings.prebuildCPUs), hostCPUs: hostCPUs),
                pidsLimit: settings.prebuildPidsLimit,
                maxLayerBytes: Int64(settings.prebuildMaxLayerMB) * ByteSize.mebibyte
            )
        }
    }

    static func container(
        base: String,
        limits: Limits,
        deploymentID: String,
        workerID: String,
        host: String = ServiceSettings.machineHostName
    ) -> ContainerConfig {
        ContainerConfig(
            image: base,
            entrypoint: ["/bin/sh", "\(inputDirectory)/run.sh"],
            workingDirectory: "/app",
            user: "0:0",
            environment: [],
            labels: [
                SandboxSpec.deploymentLabel: deploymentID, SandboxSpec.jobLabel: jobLabel,
                SandboxSpec.workerLabel: workerID, SandboxSpec.processLabel: SandboxSpec.processToken,
                SandboxSpec.hostLabel: host,
            ],
            attachStdin: false,
            attachStdout: false,
            attachStderr: false,
            openStdin: false,
            stdinOnce: false,
            networkDisabled: false,
            hostConfig: HostConfig(
                memory: limits.memoryBytes,
                memorySwap: limits.memoryBytes,
                nanoCPUs: limits.nanoCPUs,
                cpuShares: 1024,
                pidsLimit: limits.pidsLimit,
                readonlyRootfs: false,
                tmpfs: [:],
                capDrop: ["ALL"],
                capAdd: capabilities,
                securityOptions: ["no-new-privileges"],
                networkMode: SandboxSpec.networkName(deploymentID: deploymentID),
                logConfig: LogConfiguration(type: "json-file", config: ["max-size": "1m", "max-file": "2"]),
                initProcess: true,
                shmSize: 64 << 20,
                sysctls: SandboxSpec.networkedSysctls
            )
        )
    }

    /// The files put into the container before it starts: the wrapper, the user's script and,
    /// when configured, the CA bundle (`PREBUILD_CA_BUNDLE`, for TLS-intercepting proxies).
    static func inputArchive(script: String, caBundle: [UInt8]?) -> [UInt8] {
        let directory = String(inputDirectory.dropFirst())
        var wrapper = """
            #!/bin/sh
            # code-runner build wrapper: runs the setup script as the seed did (sh, as root, in
            # /app), then removes its own inputs so that they do not reach the committed image.
            B=\(inputDirectory)

            """
        if caBundle != nil {
            wrapper += """
                export PIP_CERT=$B/ca.pem SSL_CERT_FILE=$B/ca.pem REQUESTS_CA_BUNDLE=$B/ca.pem \\
                    CURL_CA_BUNDLE=$B/ca.pem NODE_EXTRA_CA_CERTS=$B/ca.pem

                """
        }
        wrapper += """
            cd /app || exit 125
            /bin/sh "$B/setup.sh" </dev/null
            status=$?
            /bin/rm -rf "$B"
            exit $status

            """
        var archive = TarArchive()
        archive.addFile(path: "\(directory)/run.sh", contents: Array(wrapper.utf8))
        archive.addFile(path: "\(directory)/setup.sh", contents: Array(script.utf8))
        if let caBundle { archive.addFile(path: "\(directory)/ca.pem", contents: caBundle) }
        return archive.finished()
    }
}
