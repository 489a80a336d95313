import Foundation
import Testing

@testable import Queue

/// What `JobStatements` documents of a job's lease, on every store: what each transition out of
/// `running` leaves behind, how a restarted worker's predecessor loses its leases, how a retry
/// requeues.
struct LeaseTransitionTests {
    /// A job's lease columns and state, read from its row.
    struct LeaseColumns: Equatable, CustomStringConvertible {
        var state: JobState
        var owner: String?
        var token: String?
        var expiresAt: Double?

        var description: String { "\(state) owner=\(owner ?? "nil") token=\(token ?? "nil") expires=\(expiresAt.map { "\($0)" } ?? "nil")" }
    }

    func leaseColumns(_ database: TestDatabase, _ id: Int64) async throws -> LeaseColumns {
        let rows = try await database.rows(
            "SELECT state, lease_owner, lease_token, CAST(lease_expires_at AS TEXT) FROM jobs WHERE id = \(id)"
        )
        let row = try #require(rows.first)
        return LeaseColumns(
            state: try #require(row[0].flatMap(JobState.init(rawValue:))),
            owner: row[1],
            token: row[2],
            expiresAt: row[3].flatMap(Double.init)
        )
    }

    /// What every transition out of `running` leaves: no token, no expiry, the claiming worker as owner.
    func endedLease(_ state: JobState, owner: String? = "w") -> LeaseColumns {
        LeaseColumns(state: state, owner: owner, token: nil, expiresAt: nil)
    }

    @Test("a new process with a dead worker's id gives that worker's runs to the reaper instead of keeping their leases", arguments: StoreKind.all)
    func previousProcessLeases(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            try await enqueueJobs(store, count: 2)
            let dead = try await store.claim(worker: "worker-1", limit: 1, leaseSeconds: 300)
            let other = try await store.claim(worker: "worker-2", limit: 1, leaseSeconds: 300)
            #expect(try await store.expireLeases(ofWorker: "worker-1") == 1)
            #expect(try await store.reapExpiredLeases() == 1)
            let requeued = try await leaseColumns(database, dead[0].job.id)
            #expect(requeued.state == .queued && requeued.token == nil)
            // the new worker-1's heartbeat holds nothing of its predecessor's; worker-2 keeps its run
            let status = WorkerStatus(id: "worker-1", pid: 2, host: "h", slots: 1, dockerConnected: true)
            #expect(try await store.heartbeat(status, holding: dead.map(\.lease), leaseSeconds: 300).isEmpty)
            #expect(try await leaseColumns(database, other[0].job.id).state == .running)
            #expect(try await store.expireLeases(ofWorker: "worker-1") == 0)
        }
    }

    @Test("every transition out of running ends the lease the same way: token and expiry cleared, lease_owner kept", arguments: StoreKind.all)
    func leaseColumnsAfterEachTransition(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let jobs = try await enqueueJobs(store, count: 8)
            let claimed = try await store.claim(worker: "w", limit: 6, leaseSeconds: 30)
            let running = try await leaseColumns(database, claimed[0].job.id)
            #expect(running.state == .running && running.owner == "w" && running.token == claimed[0].lease.token && running.expiresAt != nil)

            #expect(try await store.complete(claimed[0].lease, result: Data("{}".utf8)))
            #expect(try await store.fail(claimed[1].lease, failure: .workerLost, retry: false))
            #expect(try await store.fail(claimed[2].lease, failure: .workerLost, retry: true))
            #expect(try await store.release(claimed[3].lease))
            guard case .cancelled = try await store.cancel(publicID: claimed[4].job.publicID, owner: ""),
                case .cancelled = try await store.cancel(publicID: jobs[7].publicID, owner: "")
            else {
                Issue.record("a running or queued job was not cancelled")
                return
            }
            #expect(try await leaseColumns(database, claimed[0].job.id) == endedLease(.completed))
            #expect(try await leaseColumns(database, claimed[1].job.id) == endedLease(.failed))
            #expect(try await leaseColumns(database, claimed[2].job.id) == endedLease(.queued))
            #expect(try await leaseColumns(database, claimed[3].job.id) == endedLease(.queued))
            #expect(try await leaseColumns(database, claimed[4].job.id) == endedLease(.cancelled))
            #expect(try await leaseColumns(database, jobs[7].id) == endedLease(.cancelled, owner: nil))
            #expect(try await leaseColumns(database, claimed[5].job.id).state == .running)  // untouched

            // The reaper: an expired lease with an attempt left is requeued, then (attempts used up) failed.
            try await database.rows("UPDATE jobs SET lease_expires_at = 0 WHERE id = \(claimed[5].job.id)")
            #expect(try await store.reapExpiredLeases() == 1)
            #expect(try await leaseColumns(database, claimed[5].job.id) == endedLease(.queued))
            let reclaimed = try #require(try await store.claim(worker: "v", limit: 8, leaseSeconds: -1).first { $0.job.id == claimed[5].job.id })
            #expect(reclaimed.job.attempts == reclaimed.job.maxAttempts)
            #expect(try await store.reapExpiredLeases() == 4)  // and the three other jobs v claimed
            #expect(try await leaseColumns(database, claimed[5].job.id) == endedLease(.failed, owner: "v"))
            // A lease that ended cannot write, and heartbeat of its former owner does not revive it.
            #expect(try await store.complete(claimed[5].lease, result: Data()) == false)
            #expect(
                try await store.heartbeat(WorkerStatus(id: "w", pid: 1, host: "h", slots: 1), holding: [claimed[5].lease], leaseSeconds: 30).isEmpty
            )
        }
    }

    @Test("fail with retry requeues while attempts remain and resets the start, without finishing the job", arguments: StoreKind.all)
    func failWithRetry(_ kind: StoreKind) async throws {
        try await withStore(kind) { store, database in
            let job = try #require(try await enqueueJobs(store, count: 1).first)
            let failure = JobFailure(statusCode: 503, detail: "engine down")
            for attempt in 1...job.maxAttempts {
                let claimed = try #require(try await store.claim(worker: "w", limit: 1, leaseSeconds: 30).first)
                #expect(claimed.job.attempts == attempt)
                #expect(try await store.fail(claimed.lease, failure: failure, retry: true))
                let after = try #require(try await store.job(publicID: job.publicID, owner: ""))
                let last = attempt == job.maxAttempts
                #expect(after.state == (last ? .failed : .queued))
                #expect((after.finishedAt != nil) == last)
                #expect((after.startedAt != nil) == last)
                #expect(after.failure == (last ? failure : nil))
            }
        }
    }
}
