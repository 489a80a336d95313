import CodeRunnerClient
import Testing

@Suite("health and runtimes", .needsService)
struct OperationsTests {
    let client = Service.client

    @Test("health: ok with a worker, auth on")
    func health() async throws {
        let health = try await client.health()
        #expect(health.isOK)
        #expect(health.dockerConnected)
        #expect(health.workers >= 1)
        #expect(health.authEnabled == (Service.apiKey != nil))
    }

    @Test("health needs no key")
    func healthWithoutKey() async throws {
        let health = try await Service.clientWithWrongKey.health()
        #expect(health.workers >= 1)
    }

    @Test("runtimes: the six, python available")
    func runtimes() async throws {
        let runtimes = try await client.runtimes()
        #expect(Set(runtimes.map(\.runtime)) == Set(Runtime.all))
        let python = runtimes.first { $0.runtime == .python }
        #expect(python?.mainFile == "main.py")
        #expect(python?.available == true)
        #expect(python?.packages?.contains { $0.name == "numpy" && !$0.version.isEmpty } == true, "\(python?.packages ?? [])")
    }
}
