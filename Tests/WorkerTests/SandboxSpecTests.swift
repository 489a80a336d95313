import Foundation
import Queue
import Testing

@testable import Worker

/// The container spec of a run, as the Engine API receives it, against the table in
/// `SandboxSpec`'s doc comment (issue 13, item 3) — no engine needed.
struct SandboxSpecTests {
    func payload(network: Bool) -> RunPayload {
        RunPayload(
            code: "print(1)",
            image: "code-runner-python",
            mainFile: "main.py",
            timeoutSeconds: 5,
            memoryBytes: 128 << 20,
            cpuShares: 512,
            nanoCPUs: 1_500_000_000,
            diskBytes: 32 << 20,
            pidsLimit: 99,
            allowNetwork: network,
            environment: [EnvironmentVariable(name: "A", value: "1")],
            maxOutputBytes: 1 << 20,
            maxMetadataBytes: 1 << 20
        )
    }

    /// The create body as JSON, as the engine reads it.
    func wire(network: Bool, runtime: String? = nil, hostCPUs: Int = 4, cores: Double = 1.5) throws -> [String: Any] {
        var run = payload(network: network)
        run.nanoCPUs = RunPayload.nanoCPUs(cores: cores)
        let config = SandboxSpec.container(
            for: run,
            jobID: "job-1",
            workerID: "worker-1",
            deploymentID: "dep",
            host: "host-a",
            runtime: runtime,
            hostCPUs: hostCPUs
        )
        return try json(config)
    }

    func json(_ value: some Encodable) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any])
    }

    @Test("every row of the sandbox table: user, capabilities, seccomp, root, tmpfs, memory = swap, CPU, pids, network, init, logging, labels")
    func table() throws {
        let body = try wire(network: false)
        let host = try #require(body["HostConfig"] as? [String: Any])
        #expect(body["User"] as? String == "1000:1000")
        #expect(body["Image"] as? String == "code-runner-python")
        #expect(body["Env"] as? [String] == ["A=1"])
        #expect(host["CapDrop"] as? [String] == ["ALL"])
        #expect(host["CapAdd"] == nil)
        // The engine's default seccomp profile stays: no `seccomp=unconfined` among the options.
        #expect(host["SecurityOpt"] as? [String] == ["no-new-privileges"])
        #expect(host["ReadonlyRootfs"] as? Bool == true)
        #expect(host["Tmpfs"] as? [String: String] == ["/tmp": "rw,exec,nosuid,nodev,size=\(32 << 20),uid=1000,gid=1000,mode=0755"])
        #expect(host["ShmSize"] as? Int == 1 << 20)
        #expect(host["Memory"] as? Int == 128 << 20)
        #expect(host["MemorySwap"] as? Int == 128 << 20)
        #expect(host["NanoCpus"] as? Int == 1_500_000_000)
        #expect(host["CpuShares"] as? Int == 512)
        #expect(host["PidsLimit"] as? Int == 99)
        #expect(body["NetworkDisabled"] as? Bool == true)
        #expect(host["NetworkMode"] == nil)
        #expect(host["Init"] as? Bool == true)
        #expect((host["LogConfig"] as? [String: Any])?["Type"] as? String == "none")
        #expect(host["Runtime"] == nil)
        #expect(
            body["Labels"] as? [String: String] == [
                "code-runner.deployment": "dep", "code-runner.job": "job-1", "code-runner.worker": "worker-1",
                "code-runner.worker-process": SandboxSpec.processToken, "code-runner.host": "host-a",
            ]
        )
    }

    @Test("a networked run gets the deployment's own bridge; SANDBOX_RUNTIME reaches the engine")
    func networkAndRuntime() throws {
        let body = try wire(network: true, runtime: "runsc")
        let host = try #require(body["HostConfig"] as? [String: Any])
        #expect(body["NetworkDisabled"] as? Bool == false)
        #expect(host["NetworkMode"] as? String == "code-runner-dep")
        #expect(host["Runtime"] as? String == "runsc")
    }

    @Test("an allowlisted run joins the allowlist bridge, with the proxy in both spellings of the proxy variables, replacing the run's own")
    func allowlisted() throws {
        var run = payload(network: true)
        run.allowedHosts = ["pypi.org"]
        run.environment = [EnvironmentVariable(name: "https_proxy", value: "http://elsewhere:1"), EnvironmentVariable(name: "B", value: "2")]
        let grant = ProxyGrant(
            token: "0123456789abcdef0123456789abcdef",
            proxyAddress: "172.20.0.1",
            proxyPort: 23128,
            deploymentID: "dep",
            resolvConfPath: "/run/code-runner-proxy/dep/resolv.conf",
            networkName: SandboxSpec.allowlistNetworkName(deploymentID: "dep")
        )
        let body = try json(
            SandboxSpec.container(for: run, jobID: "j", workerID: "w", deploymentID: "dep", runtime: nil, proxy: grant)
        )
        let host = try #require(body["HostConfig"] as? [String: Any])
        #expect(host["NetworkMode"] as? String == "code-runner-dep-allowlist")
        #expect(body["NetworkDisabled"] as? Bool == false)
        #expect((host["Sysctls"] as? [String: String])?["net.ipv6.conf.all.disable_ipv6"] == "1")
        #expect(host["Binds"] as? [String] == ["/run/code-runner-proxy/dep/resolv.conf:/etc/resolv.conf:ro"])
        let url = "http://0123456789abcdef0123456789abcdef:allowlist@172.20.0.1:23128"
        #expect(
            body["Env"] as? [String] == [
                "B=2", "HTTP_PROXY=\(url)", "HTTPS_PROXY=\(url)", "http_proxy=\(url)", "https_proxy=\(url)",
                "NO_PROXY=localhost,127.0.0.1,::1", "no_proxy=localhost,127.0.0.1,::1",
            ]
        )
        let network = try json(SandboxSpec.allowlistNetwork(deploymentID: "dep"))
        #expect(network["Name"] as? String == "code-runner-dep-allowlist")
        #expect(
            network["Options"] as? [String: String] == [
                "com.docker.network.bridge.enable_icc": "false", "com.docker.network.bridge.name": "ca-dep",
                "com.docker.network.bridge.enable_ip_masquerade": "false",
            ]
        )
    }

    @Test("the network a networked run joins: a labelled bridge without inter-container traffic, named for its egress rules")
    func network() throws {
        let body = try json(SandboxSpec.network(deploymentID: "dep"))
        #expect(body["Name"] as? String == "code-runner-dep")
        #expect(body["Driver"] as? String == "bridge")
        #expect(body["CheckDuplicate"] as? Bool == true)
        #expect(
            body["Options"] as? [String: String] == [
                "com.docker.network.bridge.enable_icc": "false", "com.docker.network.bridge.name": "cr-dep",
            ]
        )
        #expect(body["Labels"] as? [String: String] == ["code-runner.deployment": "dep"])
    }

    @Test(
        "CPU: the request's cores, at most the host's processors (Docker refuses more)",
        arguments: [
            (cores: 0.5, hostCPUs: 2, expected: 500_000_000),
            (cores: 2.0, hostCPUs: 2, expected: 2_000_000_000),
            (cores: 4.0, hostCPUs: 2, expected: 2_000_000_000),
            (cores: 1.5, hostCPUs: 1, expected: 1_000_000_000),
        ]
    )
    func cpuClamp(cores: Double, hostCPUs: Int, expected: Int) throws {
        let host = try #require(try wire(network: false, hostCPUs: hostCPUs, cores: cores)["HostConfig"] as? [String: Any])
        #expect(host["NanoCpus"] as? Int == expected)
    }

    @Test("a build's CPU limit is PREBUILD_CPUS held to the host's processors")
    func buildCPUClamp() {
        var settings = ServiceSettings()
        settings.prebuildCPUs = 3
        #expect(BuildSandboxSpec.Limits(settings: settings, hostCPUs: 2).nanoCPUs == 2_000_000_000)
        settings.prebuildCPUs = 0.5
        #expect(BuildSandboxSpec.Limits(settings: settings, hostCPUs: 2).nanoCPUs == 500_000_000)
    }

    @Test("a build container: root in /app, the package manager's capabilities only, the sandbox bridge, limits")
    func buildContainer() throws {
        let limits = BuildSandboxSpec.Limits(memoryBytes: 256 << 20, nanoCPUs: 1_000_000_000, pidsLimit: 64, maxLayerBytes: 1 << 30)
        let config = BuildSandboxSpec.container(base: "code-runner-python", limits: limits, deploymentID: "dep", workerID: "w")
        let body = try json(config)
        let host = try #require(body["HostConfig"] as? [String: Any])
        #expect(body["User"] as? String == "0:0")
        #expect(body["WorkingDir"] as? String == "/app")
        #expect(host["CapDrop"] as? [String] == ["ALL"])
        #expect(host["CapAdd"] as? [String] == ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "SETUID", "SETGID", "KILL"])
        #expect(host["SecurityOpt"] as? [String] == ["no-new-privileges"])
        #expect(host["Memory"] as? Int == 256 << 20 && host["MemorySwap"] as? Int == 256 << 20)
        #expect(host["PidsLimit"] as? Int == 64)
        #expect(host["NetworkMode"] as? String == "code-runner-dep")
        #expect((body["Labels"] as? [String: String])?["code-runner.job"] == BuildSandboxSpec.jobLabel)
    }
}
