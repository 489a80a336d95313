extension RunPayload {
    /// A run of `runtime` with every setting's default and no code: what a request that gives
    /// only `code` is stored as, and the container the workers' warm pool keeps ready. Both the
    /// API (a request's fields laid over it) and the worker (the pool's template) start from
    /// here, so a run with default limits always matches a warm container.
    ///
    /// Memory is the larger of `DEFAULT_MEMORY` and the runtime's own minimum, held to
    /// `MAX_MEMORY_MB`. Output files: the runtime's automatic patterns, if it has any.
    public static func defaults(for runtime: RuntimeCatalog.Entry, settings: ServiceSettings) -> RunPayload {
        let memory = max(settings.defaultMemoryBytes, runtime.minimumMemoryBytes ?? 0)
        var payload = RunPayload(
            code: "",
            image: runtime.imageName,
            mainFile: runtime.mainFile,
            timeoutSeconds: settings.defaultTimeout,
            memoryBytes: min(memory, Int64(settings.maxMemoryMB) * ByteSize.mebibyte),
            cpuShares: settings.defaultCPUShares,
            nanoCPUs: nanoCPUs(cores: settings.defaultCPUs),
            diskBytes: settings.defaultDiskBytes,
            pidsLimit: settings.defaultPidsLimit,
            maxOutputBytes: settings.maxOutputBytes,
            maxMetadataBytes: settings.maxMetadataBytes
        )
        payload.outputFiles =
            OutputFilesRequest(
                patterns: runtime.autoOutputFiles,
                maxFiles: settings.maxOutputFiles,
                maxBytes: settings.maxOutputFileBytes,
                reportsEmpty: false
            ).nonEmpty
        return payload
    }

    /// Docker's `NanoCpus` for a share of cores (`1.5` → 1 500 000 000).
    public static func nanoCPUs(cores: Double) -> Int64 { Int64((cores * 1e9).rounded()) }

    /// The runtime a run is counted under: `python` for `code-runner-python`, a prebuilt
    /// image's base runtime, or `prebuilt` when that is unknown.
    public var runtimeLabel: String {
        prebuild?.baseRuntime ?? ImageReference.runtime(ofImage: image) ?? "prebuilt"
    }
}
