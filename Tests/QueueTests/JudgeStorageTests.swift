import Foundation
import Testing

@testable import Queue

/// Judge mode on both stores: a run's cases travel in its payload and its verdicts in its
/// result, and both come back from the database as they went in (names, stdin with every
/// byte a JSON string may hold, expected outputs, a report with `null`s).
struct JudgeStorageTests {
    @Test("a judge payload and its report survive the store", arguments: StoreKind.all)
    func roundTrip(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, _ in
            var payload = RunPayload(
                code: "package main",
                image: "code-runner-go",
                mainFile: "main.go",
                timeoutSeconds: 10,
                memoryBytes: 1 << 28,
                cpuShares: 512,
                nanoCPUs: 1_000_000_000,
                diskBytes: 1 << 26,
                pidsLimit: 256,
                maxOutputBytes: 1 << 20,
                maxMetadataBytes: 1 << 16
            )
            payload.judge = JudgePayload(
                cases: [
                    JudgeCase(name: "é ✓", stdin: "1\n\t\u{1}\"\\", expectedOutput: "2\n", timeoutMilliseconds: 250),
                    JudgeCase(name: "2", stdin: "", expectedOutput: nil, timeoutMilliseconds: 10_000),
                ],
                comparison: .float(tolerance: 1e-9),
                stopOnFirstFailure: true,
                buildCommand: "go build -o /tmp/.code-runner/main .",
                runCommand: "exec /tmp/.code-runner/main"
            )
            guard
                case .created(let job) = try await store.enqueue(
                    NewJob(kind: .run, owner: "o", payload: JSONEncoder().encode(payload)),
                    maxQueueDepth: nil
                )
            else {
                Issue.record("not created")
                return
            }
            let claimed = try #require(try await store.claim(worker: "w", limit: 1, leaseSeconds: 30).first)
            #expect(try JSONDecoder().decode(RunPayload.self, from: claimed.job.payload) == payload)

            let report = JudgeReport(cases: [
                CaseResult(name: "é ✓", verdict: .accepted, exitCode: 0, stdout: "2\n", time: 0.0012, cpuTime: 0.001, memoryBytes: 1_234_567),
                .notRun("2", .skipped),
            ])
            let result = RunResult(stdout: "", stderr: "built", exitCode: 0, executionTime: 0.31, judge: report)
            #expect(try await store.complete(claimed.lease, result: JSONEncoder().encode(result)))
            let stored = try #require(try await store.job(publicID: job.publicID, owner: "o"))
            let read = try JSONDecoder().decode(RunResult.self, from: try #require(stored.result))
            #expect(read == result)
            #expect(read.judge?.verdict == .skipped && read.judge?.passed == 1 && read.judge?.total == 2)
        }
    }
}
