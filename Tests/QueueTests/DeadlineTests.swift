import Synchronization
import Testing

@testable import Queue

/// `Deadline`: the caller hears "unavailable" in time; what lands late is handed back.
struct DeadlineTests {
    @Test("an answer in time is the caller's; a late one goes to lateSuccess, outside the cancelled task")
    func lateSuccess() async throws {
        #expect(try await Deadline.run(within: .seconds(5), "quick") { 42 } == 42)
        let (late, lateArrived) = AsyncStream<(Int, Bool)>.makeStream()
        let gate = AsyncStream<Void>.makeStream()
        await #expect(throws: PostgresUnavailable.self) {
            let report: @Sendable (Int) async -> Void = { value in lateArrived.yield((value, Task.isCancelled)) }
            return try await Deadline.run(within: .milliseconds(20), "slow", lateSuccess: report) {
                for await _ in gate.stream {}  // ends after the deadline (cancelled) or when the test lets it
                return 7
            }
        }
        gate.continuation.finish()
        var values = late.makeAsyncIterator()
        let delivered = await values.next()
        #expect(delivered?.0 == 7)
        #expect(delivered?.1 == false)  // a task that could still lease a connection
    }
}
