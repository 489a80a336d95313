import Foundation
import Logging
import Queue
import Testing

@testable import Worker

/// The orphan sweep against the real engine, with containers labelled exactly as the service
/// labels them (`SandboxSpec.container`), created but never started: what it removes and what it
/// must leave — another host's containers above all (issue 16, item 4).
@Suite(.serialized, .needsDocker)
struct OrphanSweeperTests {
    static let docker = SandboxIntegrationTests.sharedDocker
    let deployment = "sweep-tests-\(UUID().uuidString.prefix(6).lowercased())"

    func container(worker: String, host: String?, job: String = UUID().uuidString.lowercased()) async throws -> String {
        var config = SandboxSpec.container(
            for: RunPayload.testRun("print(1)"),
            jobID: job,
            workerID: worker,
            deploymentID: deployment,
            host: host ?? "",
            runtime: nil
        )
        if host == nil { config.labels[SandboxSpec.hostLabel] = nil }  // as containers from before the label
        return try await Self.docker.createContainer(config)
    }

    @Test("a dead worker's containers go on its own host, stay on another host; unlabelled ones count as this host's")
    func hosts() async throws {
        let database = NSTemporaryDirectory() + "sweep-\(UUID().uuidString).sqlite"
        let store = try SQLiteJobStore(path: database)
        defer { try? FileManager.default.removeItem(atPath: database) }
        let here = try await container(worker: "dead-worker", host: "host-a")
        let there = try await container(worker: "dead-worker", host: "host-b")
        let unlabelled = try await container(worker: "dead-worker", host: nil)
        let sweeper = OrphanSweeper(
            docker: Self.docker,
            store: store,
            deploymentID: deployment,
            workerID: "sweeping-worker",
            host: "host-a",
            liveWithin: 30,
            logger: Logger(label: "sweep-tests")
        )
        let removed = await sweeper.sweep(running: { [] })
        let left = Set(try await Self.docker.containers(withLabel: "\(SandboxSpec.deploymentLabel)=\(deployment)").map(\.id))
        for id in left { try? await Self.docker.removeContainer(id) }
        #expect(removed == 2)
        #expect(left == [there])
        #expect(!left.contains(here) && !left.contains(unlabelled))
    }

    @Test("this process's running jobs are read after the listing: a job claimed meanwhile keeps its container")
    func runningReadAfterListing() async throws {
        let database = NSTemporaryDirectory() + "sweep-\(UUID().uuidString).sqlite"
        let store = try SQLiteJobStore(path: database)
        defer { try? FileManager.default.removeItem(atPath: database) }
        let worker = "sweeping-worker"
        // Claimed while the sweep ran: its container existed at the listing, the job joined the
        // running set after the sweep began (the race a snapshot taken up front lost).
        let claimedMeanwhile = try await container(worker: worker, host: "host-a", job: "job-claimed-meanwhile")
        let leftOver = try await container(worker: worker, host: "host-a", job: "job-finished-long-ago")
        let sweeper = OrphanSweeper(
            docker: Self.docker,
            store: store,
            deploymentID: deployment,
            workerID: worker,
            host: "host-a",
            liveWithin: 30,
            logger: Logger(label: "sweep-tests")
        )
        let createdDuringRead = ContainerBox()
        let removed = await sweeper.sweep(running: {
            // A container made after the listing is not judged at all by this sweep.
            createdDuringRead.id = try? await container(worker: worker, host: "host-a", job: "job-after-listing")
            return ["job-claimed-meanwhile"]
        })
        let left = Set(try await Self.docker.containers(withLabel: "\(SandboxSpec.deploymentLabel)=\(deployment)").map(\.id))
        for id in left { try? await Self.docker.removeContainer(id) }
        #expect(removed == 1)
        #expect(left.contains(claimedMeanwhile))
        #expect(!left.contains(leftOver))
        #expect(createdDuringRead.id.map(left.contains) == true)
    }
}

/// A container id written by the sweep's `running` closure (called once, awaited by the test).
private final class ContainerBox: @unchecked Sendable {
    var id: String?
}
