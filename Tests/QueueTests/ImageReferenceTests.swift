import Foundation
import Queue
import Testing

/// Image names and run defaults: the one place each is spelled (issue 13, item 2).
struct ImageReferenceTests {
    let runtimes = RuntimeCatalog.runtimeNames

    @Test("the catalogue is the list of runtimes, python first")
    func catalogue() {
        #expect(runtimes == ["python", "node", "bun", "go", "deno", "rust"])
        #expect(RuntimeCatalog.defaultRuntime == "python")
        #expect(RuntimeCatalog.builtInCatalog.defaultEntry.imageName == "code-runner-python")
        #expect(RuntimeCatalog.builtInCatalog.entries.map(\.imageName) == runtimes.map(ImageReference.runtimeImage))
    }

    @Test("a user's image name: runtime by short or full name, else a prebuilt tag of the pattern")
    func parsing() {
        #expect(ImageReference.parse("python", runtimes: runtimes) == .runtime("python"))
        #expect(ImageReference.parse("code-runner-rust", runtimes: runtimes) == .runtime("rust"))
        #expect(ImageReference.parse("prebuilt-tools", runtimes: runtimes) == .prebuilt(tag: "tools"))
        #expect(ImageReference.parse("tools", runtimes: runtimes) == .prebuilt(tag: "tools"))
        // a runtime's name with the other prefix is a tag, and a prefixed unknown runtime is a tag too
        #expect(ImageReference.parse("prebuilt-python", runtimes: runtimes) == .prebuilt(tag: "python"))
        #expect(ImageReference.parse("code-runner-cobol", runtimes: runtimes) == .prebuilt(tag: "code-runner-cobol"))
        for bad in ["", "Tools", "-x", "prebuilt-", "a/b", "a b", String(repeating: "a", count: 129)] {
            #expect(ImageReference.parse(bad, runtimes: runtimes) == nil, "\(bad)")
        }
        #expect(ImageReference.isValidTag(String(repeating: "a", count: 128)))
    }

    @Test("public names and the way back")
    func names() {
        #expect(ImageReference.runtime("go").publicName == "code-runner-go")
        #expect(ImageReference.prebuilt(tag: "x").publicName == "prebuilt-x")
        #expect(ImageReference.runtime(ofImage: "code-runner-node") == "node")
        #expect(ImageReference.runtime(ofImage: "prebuilt-x:o0123") == nil)
        #expect(ImageReference.runtimeName("code-runner-deno", among: runtimes) == "deno")
        #expect(ImageReference.runtimeName("cobol", among: runtimes) == nil)
        #expect(ImageReference.shortTag("prebuilt-x") == "x" && ImageReference.shortTag("x") == "x")
        #expect(ImageReference.servicePrefixes == ["code-runner-", "prebuilt-"])
    }

    @Test("run defaults: every setting's default, memory raised to the runtime's minimum and held to the maximum")
    func defaults() throws {
        var settings = ServiceSettings()
        settings.defaultMemory = "256m"
        settings.maxMemoryMB = 512
        settings.defaultCPUs = 0.5
        var entry = RuntimeCatalog.builtInCatalog.defaultEntry
        let plain = RunPayload.defaults(for: entry, settings: settings)
        #expect(plain.image == "code-runner-python" && plain.mainFile == "main.py" && plain.code.isEmpty)
        #expect(plain.memoryBytes == 256 << 20)
        #expect(plain.nanoCPUs == 500_000_000)
        #expect(plain.timeoutSeconds == settings.defaultTimeout && plain.diskBytes == settings.defaultDiskBytes)
        #expect(plain.pidsLimit == settings.defaultPidsLimit && plain.cpuShares == settings.defaultCPUShares)
        #expect(!plain.allowNetwork && plain.environment.isEmpty && plain.prebuild == nil)
        entry.minimumMemoryBytes = 384 << 20
        #expect(RunPayload.defaults(for: entry, settings: settings).memoryBytes == 384 << 20)
        entry.minimumMemoryBytes = 1 << 30
        #expect(RunPayload.defaults(for: entry, settings: settings).memoryBytes == 512 << 20)
    }

    @Test("the runtime a run is counted under")
    func runtimeLabel() throws {
        let entry = try #require(RuntimeCatalog.builtInCatalog.entry(for: "go"))
        var payload = RunPayload.defaults(for: entry, settings: ServiceSettings())
        #expect(payload.runtimeLabel == "go")
        payload.image = "prebuilt-x:o00"
        #expect(payload.runtimeLabel == "prebuilt")
        payload.prebuild = PrebuildPayload(
            action: .build,
            key: PrebuildKey(owner: "o", tag: "x"),
            baseRuntime: "node",
            setupScript: "",
            timeoutSeconds: 1
        )
        #expect(payload.runtimeLabel == "node")
    }
}
