import Queue

extension RunPayload {
    /// A run with the limits the engine suites use: 256 MiB without swap, one core, 64 MiB of
    /// `/tmp`, 128 processes, 1 MiB of output per stream and of metadata.
    static func testRun(_ code: String, image: String = "code-runner-python", timeout: Int = 20) -> RunPayload {
        RunPayload(
            code: code,
            image: image,
            mainFile: "main.py",
            timeoutSeconds: timeout,
            memoryBytes: 256 << 20,
            cpuShares: 512,
            nanoCPUs: 1_000_000_000,
            diskBytes: 64 << 20,
            pidsLimit: 128,
            maxOutputBytes: 1 << 20,
            maxMetadataBytes: 1 << 20
        )
    }
}
