import CodeRunnerClient
import Testing

@Suite("typed errors", .needsService)
struct ErrorTests {
    let client = Service.client

    @Test("a wrong API key is unauthorized")
    func wrongKey() async {
        let error = await thrownError { () async throws(CodeRunnerError) in
            try await Service.clientWithWrongKey.run(RunRequest(code: "print(1)"))
        }
        #expect(error == .unauthorized("Invalid API Key"))
    }

    @Test("no API key is unauthorized")
    func missingKey() async {
        let anonymous = CodeRunnerClient(baseURL: Service.url ?? "", apiKey: nil)
        let error = await thrownError { () async throws(CodeRunnerError) in try await anonymous.jobs() }
        guard case .unauthorized(let message) = error else {
            Issue.record("expected unauthorized, got \(String(describing: error))")
            return
        }
        #expect(message.hasPrefix("Not authenticated."))
    }

    @Test("an unknown job is notFound")
    func unknownJob() async {
        let error = await thrownError { () async throws(CodeRunnerError) in try await client.job(id: "no-such-job") }
        #expect(error == .notFound("Job 'no-such-job' not found."))
        let cancelError = await thrownError { () async throws(CodeRunnerError) in try await client.cancel(id: "no-such-job") }
        #expect(cancelError == .notFound("Job 'no-such-job' not found."))
    }

    @Test("a name that is neither a runtime nor a tag is an invalid request naming the field")
    func unknownRuntime() async {
        let error = await thrownError { () async throws(CodeRunnerError) in
            try await client.run(RunRequest(runtime: "COBOL 85", code: "DISPLAY 'HI'."))
        }
        guard case .invalidRequest(let status, _, let issues) = error else {
            Issue.record("expected invalidRequest, got \(String(describing: error))")
            return
        }
        #expect(status == 422)
        #expect(issues.map(\.location) == [["body", "image"]])
    }

    @Test("out-of-range limits list every bad field")
    func badLimits() async {
        let error = await thrownError { () async throws(CodeRunnerError) in
            try await client.submit(RunRequest(code: "print(1)", timeout: 0, memoryLimit: "lots"))
        }
        guard case .invalidRequest(422, _, let issues) = error else {
            Issue.record("expected a 422, got \(String(describing: error))")
            return
        }
        #expect(Set(issues.map(\.location)) == [["body", "timeout"], ["body", "mem_limit"]])
    }

    @Test("a bad allowed_hosts entry is an invalid request at its index, with the reason")
    func badAllowedHost() async {
        let error = await thrownError { () async throws(CodeRunnerError) in
            try await client.submit(RunRequest(code: "print(1)", allowedHosts: ["pypi.org", "localhost", "10.1.0.0/16"]))
        }
        guard case .invalidRequest(422, _, let issues) = error else {
            Issue.record("expected a 422, got \(String(describing: error))")
            return
        }
        #expect(issues.map(\.location) == [["body", "allowed_hosts", "1"], ["body", "allowed_hosts", "2"]])
        #expect(
            issues.map(\.message) == [
                "Value error, 'localhost': a host name needs at least two labels (example.org)",
                "Value error, '10.1.0.0/16' is inside 10.0.0.0/8, which this service's egress policy refuses",
            ]
        )
    }

    @Test("allowed_hosts with allowNetwork false, or empty, is an invalid request on the field")
    func allowedHostsConflicts() async {
        for (request, message) in [
            (
                RunRequest(code: "print(1)", allowNetwork: false, allowedHosts: ["pypi.org"]),
                "Value error, allowed_hosts gives the run network access to those hosts; it cannot be combined with allow_network: false"
            ),
            (RunRequest(code: "print(1)", allowedHosts: []), "Value error, allowed_hosts must name at least one host; leave it out for no allowlist"),
        ] {
            let error = await thrownError { () async throws(CodeRunnerError) in try await client.run(request) }
            guard case .invalidRequest(422, _, let issues) = error else {
                Issue.record("expected a 422, got \(String(describing: error))")
                continue
            }
            #expect(issues.map(\.location) == [["body", "allowed_hosts"]])
            #expect(issues.map(\.message) == [message])
        }
    }

    @Test("no code and no entrypoint is a 400")
    func emptyRequest() async {
        let error = await thrownError { () async throws(CodeRunnerError) in try await client.run(RunRequest(code: "")) }
        #expect(error == .invalidRequest(status: 400, message: "Either code or entrypoint must be provided.", issues: []))
    }

    @Test("an unknown prebuilt image is notFound")
    func unknownPrebuiltImage() async {
        let error = await thrownError { () async throws(CodeRunnerError) in
            try await client.run(RunRequest(prebuilt: "never-built-here", code: "print(1)"))
        }
        guard case .notFound(let message) = error else {
            Issue.record("expected notFound, got \(String(describing: error))")
            return
        }
        #expect(message.contains("prebuilt-never-built-here"))
    }

    @Test("an unreachable service is a transport error")
    func unreachable() async {
        let nowhere = CodeRunnerClient(baseURL: "http://127.0.0.1:1", apiKey: "k", requestTimeout: .seconds(5))
        let error = await thrownError { () async throws(CodeRunnerError) in try await nowhere.health() }
        guard case .transport = error else {
            Issue.record("expected transport, got \(String(describing: error))")
            return
        }
    }
}
