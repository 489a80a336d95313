import Foundation
import Logging
import Queue
import ServiceLifecycle
import Synchronization

/// One worker process: claims jobs while it has free slots and a reachable engine, runs them,
/// writes results fenced on their leases, heartbeats, reaps expired leases, sweeps orphaned
/// containers, and drains on SIGTERM.
///
/// Wake-ups: database change hints (new job → claim within milliseconds), a slot freed by a
/// finished run, and a 1 s safety tick. Nothing sleeps to synchronise.
struct WorkerService: Service {
    let store: any JobStore
    let settings: ServiceSettings
    let docker: DockerClient
    let workerID: String
    let logger: Logger
    /// How long a SIGTERM waits for running jobs before releasing them to the queue.
    let drainTimeout: Duration

    func run() async throws {
        let engine = EngineMonitor(docker: docker, logger: logger)
        let remover = ContainerRemover(docker: docker, logger: logger)
        let running = RunningJobs()
        let draining = DrainFlag()
        let metrics = RunMetrics()
        let failures = LoopFailures(logger: logger, metrics: metrics)
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let deploymentID = try await store.deploymentID()
        let egress = EgressGuard(docker: docker, settings: settings, logger: logger)
        let builder = PrebuildBuilder(
            docker: docker,
            network: egress,
            deploymentID: deploymentID,
            caBundlePath: settings.prebuildCABundle,
            limits: BuildSandboxSpec.Limits(settings: settings, hostCPUs: ProcessInfo.processInfo.activeProcessorCount),
            logger: logger,
            store: store,
            workerID: workerID,
            host: settings.workerHost
        )
        let identity = RunIdentity(jobID: "", workerID: workerID, deploymentID: deploymentID, host: settings.workerHost)
        // The same defaults the API stores a request under (`RunPayload.defaults`): a run with
        // default limits is one the pool can serve.
        let catalog = RuntimeCatalog.load(from: settings.runtimeDirectory, logger: logger)
        let template = RunPayload.defaults(for: catalog.defaultEntry, settings: settings)
        let pool = WarmPool(
            docker: docker,
            size: settings.poolSize,
            template: template,
            identity: identity,
            ociRuntime: settings.sandboxRuntime,
            prestart: settings.poolPrestart,
            logger: logger,
            mayRefill: { [store, settings] in
                guard await running.count < settings.workerConcurrency else { return false }
                return (try? await store.hasClaimableJobs()) == false
            }
        )
        let runner = SandboxRunner(
            docker: docker,
            remover: remover,
            ociRuntime: settings.sandboxRuntime,
            logger: logger,
            network: egress,
            builder: builder,
            onRebuild: { [store, logger] key, outcome in
                metrics.recordPrebuild(succeeded: outcome.succeeded)
                do {
                    try await store.finishPrebuild(key, outcome: outcome)
                } catch {
                    logger.error("could not record a rebuild's outcome", metadata: ["tag": "\(key.tag)", "error": "\(error)"])
                }
            },
            pool: pool
        )
        let sweeper = OrphanSweeper(
            docker: docker,
            store: store,
            deploymentID: deploymentID,
            workerID: workerID,
            host: settings.workerHost,
            liveWithin: settings.leaseSeconds,
            logger: logger
        )

        try await store.declareSchedule(
            "cleanup",
            every: Double(settings.cleanupIntervalHours) * 3600,
            firstDelay: 10
        )
        // Runs a previous process with this id left behind are nobody's now: give them to the
        // reaper before the first heartbeat would extend their leases as if they were ours.
        if try await store.expireLeases(ofWorker: workerID) > 0 {
            let reaped = try await store.reapExpiredLeases()
            logger.warning("jobs of a previous process with this worker id were reaped", metadata: ["count": "\(reaped)"])
        }
        await engine.refresh()
        if engine.snapshot.connected { await egress.enforce(deploymentID: deploymentID) }
        _ = try await heartbeat(engine: engine, running: running, pool: pool, egress: egress, draining: false)
        if engine.snapshot.connected {
            await sweeper.sweep(running: { [] })
            if engine.snapshot.images.contains(template.image) { await pool.warmUp(template.image) }
        }
        logger.info("worker started", metadata: ["worker": "\(workerID)", "slots": "\(settings.workerConcurrency)", "deployment": "\(deploymentID)"])

        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { for await _ in store.changes() { wake.yield() } }
                group.addTask { try await every(.seconds(1), "tick", failures: failures) { wake.yield() } }
                // The engine check has its own loop: a hung engine must never delay the heartbeat
                // (the worker's leases would expire while it is alive).
                group.addTask {
                    try await every(.seconds(min(2, settings.leaseSeconds / 3)), "engine", failures: failures) {
                        let wasConnected = engine.snapshot.connected
                        if await engine.refresh().connected && !wasConnected { wake.yield() }
                    }
                }
                group.addTask {
                    try await every(.seconds(settings.leaseSeconds / 3), "heartbeat", failures: failures) {
                        let lost = try await heartbeat(engine: engine, running: running, pool: pool, egress: egress, draining: draining.isSet)
                        if !lost.isEmpty { logger.warning("lease lost; run stopped", metadata: ["jobs": "\(lost)"]) }
                    }
                }
                group.addTask {
                    try await every(.seconds(1), "schedules", failures: failures) {
                        try await store.fireDueSchedules(kinds: ["cleanup": .cleanup])
                        let reaped = try await store.reapExpiredLeases()
                        if reaped > 0 { logger.warning("reaped jobs whose worker vanished", metadata: ["count": "\(reaped)"]) }
                    }
                }
                group.addTask { try await every(.seconds(1), "metrics", failures: failures) { try await flush(metrics) } }
                // The egress policy checked and repaired (a dockerd restart may rewrite chains);
                // its own loop, since it waits on the engine.
                group.addTask {
                    try await every(.seconds(5), "egress", failures: failures) {
                        if engine.snapshot.connected { await egress.enforce(deploymentID: deploymentID) }
                    }
                }
                group.addTask {
                    try await every(.seconds(settings.leaseSeconds), "sweep", failures: failures) {
                        if engine.snapshot.connected { await sweeper.sweep(running: { await running.publicIDs }) }
                    }
                }
                // The claim loop: ends when draining starts.
                for await _ in wakeups {
                    if draining.isSet { break }
                    await stopRunsWithLostLeases(running)
                    let free = settings.workerConcurrency - (await running.count)
                    guard free > 0, engine.snapshot.connected else { continue }
                    let claimed: [ClaimedJob]
                    do {
                        if store.probesBeforeClaiming {
                            guard try await store.hasClaimableJobs() else { continue }
                        }
                        claimed = try await store.claim(worker: workerID, limit: free, leaseSeconds: settings.leaseSeconds)
                        failures.succeeded("claim")
                    } catch {
                        failures.failed("claim", error)
                        continue
                    }
                    for job in claimed {
                        await running.add(job.lease, publicID: job.job.publicID)
                        var jobIdentity = identity
                        jobIdentity.jobID = job.job.publicID
                        let task = Task {
                            await execute(
                                job,
                                runner: runner,
                                identity: jobIdentity,
                                running: running,
                                sweeper: sweeper,
                                engine: engine,
                                metrics: metrics
                            )
                            wake.yield()
                        }
                        await running.attach(task, to: job.lease.jobID)
                    }
                }
                await drain(running)
                group.cancelAll()
            }
        } onGracefulShutdown: {
            draining.set()
            wake.yield()
        }
        await pool.drain()
        await remover.drain()
        await loggedWrite("last metrics flush", logger: logger) { try await flush(metrics) }
        await loggedWrite("worker record removal", logger: logger) { try await store.removeWorker(id: workerID) }
        await removeSandboxNetworkIfLast(deploymentID: deploymentID, egress: egress)
        logger.info("worker stopped", metadata: ["worker": "\(workerID)"])
    }

    /// The last worker of a deployment to stop removes the deployment's sandbox network: an
    /// engine has room for about 30 bridge networks, which stopped deployments (every test
    /// instance is one) would otherwise use up, and then no networked run or prebuild could
    /// start. Another live worker keeps the network, and so does a container still attached to
    /// it (Docker refuses); the next networked run creates it again. Its egress rules go with
    /// it. Called after this worker's
    /// record is gone, so of workers stopping together the last to look sees no other.
    private func removeSandboxNetworkIfLast(deploymentID: String, egress: EgressGuard) async {
        let name = SandboxSpec.networkName(deploymentID: deploymentID)
        do {
            guard try await store.liveWorkers(within: settings.leaseSeconds).isEmpty else { return }
            if try await egress.removeNetwork(deploymentID: deploymentID) {
                logger.info("removed the deployment's sandbox network", metadata: ["network": "\(name)"])
            } else {
                logger.info("the deployment's sandbox network is still in use; kept", metadata: ["network": "\(name)"])
            }
        } catch {
            logger.warning("could not remove the deployment's sandbox network", metadata: ["network": "\(name)", "error": "\(error)"])
        }
    }

    /// Runs one claimed job and writes its outcome, unless the run was stopped.
    private func execute(
        _ claimed: ClaimedJob,
        runner: SandboxRunner,
        identity: RunIdentity,
        running: RunningJobs,
        sweeper: OrphanSweeper,
        engine: EngineMonitor,
        metrics: RunMetrics
    ) async {
        let job = claimed.job
        let lease = claimed.lease
        defer { Task { await running.finish(lease.jobID) } }
        var jobLogger = logger
        jobLogger[metadataKey: "job"] = "\(job.publicID)"
        if job.kind == .cleanup {
            await cleanUp(lease, sweeper: sweeper, builder: runner.builder, running: running, logger: jobLogger)
            return
        }
        if job.kind == .webhook {
            await WebhookDeliverer(store: store, settings: settings, logger: jobLogger).deliver(claimed)
            return
        }
        if job.kind == .prebuild, let builder = runner.builder {
            await prebuild(claimed, builder: builder, metrics: metrics, logger: jobLogger)
            return
        }
        guard job.kind == .run, let payload = try? JSONDecoder().decode(RunPayload.self, from: job.payload) else {
            await loggedWrite("fail of an unreadable job", logger: jobLogger) {
                try await store.fail(
                    lease,
                    failure: JobFailure(statusCode: 500, detail: "An unexpected error occurred: this worker cannot run \(job.kind.rawValue) jobs"),
                    retry: false
                )
            }
            return
        }
        let started = ContinuousClock.now
        let outcome: Result<RunResult, ExecutionFailure>
        do {
            outcome = .success(
                try await runner.run(payload, as: identity, live: settings.liveOutput ? StoredLiveOutput(store: store, lease: lease) : nil)
            )
        } catch {
            outcome = .failure(error)
        }
        let disposition = RunDisposition.decide(outcome, stopped: await running.beginStoring(lease.jobID))
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        let runtime = payload.runtimeLabel
        let queueWait = job.startedAt.map { $0 - job.createdAt }
        // The one line per finished job: id (logger metadata), runtime, outcome and timings.
        var finished: Logger.Metadata = [
            "runtime": "\(runtime)", "attempt": "\(job.attempts)",
            "run_ms": "\(Int((seconds * 1000).rounded()))",
            "queue_wait_ms": "\(queueWait.map { String(Int(($0 * 1000).rounded())) } ?? "-")",
        ]
        if case .failure(let failure) = outcome {
            finished["error"] = "\(failure.logDetail)"  // the full error: the detail is the client's sentence
        }
        do {
            switch disposition {
            case .abandon:
                jobLogger.info("run stopped: job cancelled or lease lost")
            case .release(.shutdown):
                // This task was cancelled to stop the run; the write must not be (GRDB refuses to
                // start work in a cancelled task), so it runs in a task of its own.
                let released = await Task { [store] in
                    await loggedWrite("release on shutdown", logger: jobLogger) { try await store.release(lease) } ?? false
                }.value
                jobLogger.info("run stopped by shutdown; job released", metadata: ["released": "\(released)"])
            case .release(.engineUnreachable(let detail)):
                // Claim nothing more until the engine answers again.
                engine.markUnreachable(detail)
                finished["detail"] = "\(detail)"
                finished["released"] = "\(try await store.release(lease))"
                jobLogger.warning("Docker engine unreachable; job released", metadata: finished)
            case .complete(let result):
                let encoded = try JSONEncoder().encode(result)
                let stored = try await retryingWhileUnavailable(for: .seconds(settings.leaseSeconds)) {
                    try await store.complete(lease, result: encoded)
                }
                let runOutcome = RunOutcome(result)
                if stored { metrics.recordRun(runtime: runtime, outcome: runOutcome, seconds: seconds, queueWait: queueWait) }
                finished["outcome"] = "\(runOutcome.rawValue)"
                finished["exit_code"] = "\(result.exitCode)"
                finished["stored"] = "\(stored)"
                jobLogger.info("job finished", metadata: finished)
            case .fail(let failure, let retry):
                let stored = try await retryingWhileUnavailable(for: .seconds(settings.leaseSeconds)) {
                    try await store.fail(lease, failure: failure, retry: retry)
                }
                if stored { metrics.recordRun(runtime: runtime, outcome: .failed, seconds: seconds, queueWait: queueWait) }
                finished["outcome"] = "\(RunOutcome.failed.rawValue)"
                finished["detail"] = "\(failure.detail)"
                finished["retry"] = "\(retry)"
                finished["stored"] = "\(stored)"
                jobLogger.error("job finished", metadata: finished)
            }
        } catch {
            jobLogger.error("could not store the outcome; the lease will expire and the job run again", metadata: ["error": "\(error)"])
        }
    }

    /// The scheduled clean-up: expired jobs (in batches), orphaned containers, the WAL.
    private func cleanUp(_ lease: Lease, sweeper: OrphanSweeper, builder: PrebuildBuilder?, running: RunningJobs, logger: Logger) async {
        do {
            let jobs = try await store.deleteFinishedJobs(olderThanHours: Double(settings.jobRetentionHours), batch: 500)
            let containers = await sweeper.sweep(running: { await running.publicIDs })
            // Every owner's stale images (a caller's POST /prebuilds/cleanup reaches only its own).
            let stale = try await store.deletePrebuilds(try await store.stalePrebuilds(olderThanDays: Double(settings.cleanupMaxAgeDays), owner: nil))
            var images = 0
            for key in stale where await builder?.remove(key) == true { images += 1 }
            try await store.checkpoint()
            let report = CleanupReport(removedJobs: jobs, removedContainers: containers, removedImages: images)
            try await store.recordCleanup(report)
            _ = try await store.complete(lease, result: JSONEncoder().encode(report))
            logger.info("clean-up done", metadata: ["removed_jobs": "\(jobs)", "removed_containers": "\(containers)"])
        } catch {
            // the client sees a sentence; the error itself is in the log line below
            await loggedWrite("fail of the clean-up job", logger: logger) {
                try await store.fail(
                    lease,
                    failure: JobFailure(statusCode: 500, detail: "The clean-up failed; the worker's log has the error."),
                    retry: false
                )
            }
            logger.error("clean-up failed", metadata: ["error": "\(error)"])
        }
    }

    /// Builds (or removes) a prebuilt image and records the outcome on the prebuild and the job.
    private func prebuild(_ claimed: ClaimedJob, builder: PrebuildBuilder, metrics: RunMetrics, logger: Logger) async {
        guard let request = try? JSONDecoder().decode(PrebuildPayload.self, from: claimed.job.payload) else {
            await loggedWrite("fail of an unreadable prebuild job", logger: logger) {
                try await store.fail(claimed.lease, failure: JobFailure(statusCode: 500, detail: "Prebuild failed: unreadable job"), retry: false)
            }
            return
        }
        let outcome: PrebuildOutcome
        switch request.action {
        case .build:
            outcome = await builder.build(request)
            metrics.recordPrebuild(succeeded: outcome.succeeded)
            do {
                try await store.finishPrebuild(request.key, outcome: outcome)
            } catch {
                logger.error("could not record the build's outcome", metadata: ["tag": "\(request.tag)", "error": "\(error)"])
            }
        case .remove:
            let removed = await builder.remove(request.key)
            outcome = PrebuildOutcome(succeeded: removed, log: "", sizeBytes: 0, layerSizeBytes: 0)
        }
        let stored =
            await loggedWrite("prebuild job completion", logger: logger) {
                try await store.complete(claimed.lease, result: JSONEncoder().encode(outcome))
            } ?? false
        logger.info(
            "prebuild job done",
            metadata: ["tag": "\(request.tag)", "action": "\(request.action.rawValue)", "succeeded": "\(outcome.succeeded)", "stored": "\(stored)"]
        )
    }

    /// One heartbeat: status plus lease extension in one write; stops runs whose lease is gone.
    private func heartbeat(engine: EngineMonitor, running: RunningJobs, pool: WarmPool, egress: EgressGuard, draining: Bool) async throws -> [String]
    {
        let snapshot = engine.snapshot
        let status = WorkerStatus(
            id: workerID,
            pid: Int(ProcessInfo.processInfo.processIdentifier),
            host: settings.workerHost,
            slots: settings.workerConcurrency,
            busy: await running.count,
            draining: draining,
            dockerConnected: snapshot.connected,
            engineVersion: snapshot.version,
            dockerError: snapshot.error,
            images: snapshot.images,
            poolReady: await pool.idleCount,
            egressProblem: await egress.problem
        )
        let holding = await running.leases
        let held = try await store.heartbeat(status, holding: holding, leaseSeconds: settings.leaseSeconds)
        return await running.stopAll(among: holding, except: held)
    }

    /// Adds the metrics gathered since the last flush to the shared totals; on failure they are
    /// kept for the next flush.
    private func flush(_ metrics: RunMetrics) async throws {
        let samples = metrics.takePending()
        guard !samples.isEmpty else { return }
        do {
            try await store.addMetricSamples(samples)
        } catch {
            metrics.restore(samples)
            throw error
        }
    }

    /// On a database change: a running job that was cancelled (or reaped) loses its lease.
    private func stopRunsWithLostLeases(_ running: RunningJobs) async {
        let leases = await running.leases
        guard !leases.isEmpty, let current = try? await store.currentLeases(among: leases) else { return }
        let stopped = await running.stopAll(among: leases, except: current)
        if !stopped.isEmpty { logger.info("stopping runs whose job was cancelled", metadata: ["jobs": "\(stopped)"]) }
    }

    /// Waits for running jobs up to the drain timeout, then releases the rest.
    private func drain(_ running: RunningJobs) async {
        let busy = await running.count
        guard busy > 0 else { return }
        logger.info("draining: waiting for running jobs", metadata: ["jobs": "\(busy)", "timeout": "\(drainTimeout)"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await running.waitUntilIdle() }
            group.addTask {
                try? await Task.sleep(for: drainTimeout)
                await running.stopForDrain()
            }
            await group.next()
            group.cancelAll()
        }
        await running.waitUntilIdle()
    }
}

/// Set once when SIGTERM arrives; read by the claim loop and the heartbeat.
final class DrainFlag: Sendable {
    private let flag = Mutex(false)
    var isSet: Bool { flag.withLock { $0 } }
    func set() { flag.withLock { $0 = true } }
}
