import CodeRunnerClient
import Testing

@Suite("prebuilds", .needsService, .serialized)  // one build at a time per key
struct PrebuildTests {
    let client = Service.client

    @Test("an unknown tag is notFound for get and delete")
    func unknownTag() async {
        let expected = CodeRunnerError.notFound("Prebuilt image 'prebuilt-no-such-tag' not found.")
        #expect(await thrownError { () async throws(CodeRunnerError) in try await client.prebuild(tag: "no-such-tag") } == expected)
        #expect(await thrownError { () async throws(CodeRunnerError) in try await client.deletePrebuild(tag: "no-such-tag") } == expected)
    }

    @Test("a bad tag or base image is an invalid request")
    func invalidSpec() async {
        let error = await thrownError { () async throws(CodeRunnerError) in
            try await client.createPrebuild(PrebuildRequest(tag: "Bad Tag!", baseImage: "cobol", setupScript: "true"))
        }
        guard case .invalidRequest(422, _, let issues) = error else {
            Issue.record("expected a 422, got \(String(describing: error))")
            return
        }
        #expect(Set(issues.map(\.location)) == [["body", "tag"], ["body", "base_image"]])
    }

    @Test("a failing setup script is prebuildFailed with its log, and the image is marked failed")
    func failingScript() async throws {
        let tag = "client-fail-\(UInt32.random(in: 0...UInt32.max))"
        let error = await thrownError { () async throws(CodeRunnerError) in
            try await client.createPrebuild(PrebuildRequest(tag: tag, baseImage: .python, setupScript: "echo setup-broke; exit 3"))
        }
        guard case .prebuildFailed(let log) = error else {
            Issue.record("expected prebuildFailed, got \(String(describing: error))")
            return
        }
        #expect(log.contains("setup-broke"))
        let prebuild = try await client.prebuild(tag: tag)
        #expect(prebuild.status == .failed)
        try await client.deletePrebuild(tag: tag)
    }

    @Test("build, list, run in it, delete")
    func buildUseDelete() async throws {
        let tag = "client-ok-\(UInt32.random(in: 0...UInt32.max))"
        let built = try await client.createPrebuild(
            PrebuildRequest(tag: tag, baseImage: .python, setupScript: "echo hello-setup")
        )
        #expect(built.tag == "prebuilt-\(tag)")
        #expect(built.status == .ready)
        #expect(try await client.prebuilds().contains { $0.tag == "prebuilt-\(tag)" })
        let result = try await client.run(RunRequest(prebuilt: tag, code: "print('in prebuilt')"))
        #expect(result.stdout == "in prebuilt\n")
        try await client.deletePrebuild(tag: tag)
        #expect(try await client.prebuilds().allSatisfy { $0.tag != "prebuilt-\(tag)" })
    }
}
