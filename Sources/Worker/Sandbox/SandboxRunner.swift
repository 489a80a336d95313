import Foundation
import Logging
import NIOCore
import Queue
import Synchronization

/// Identifies a run's container for labels and logs.
struct RunIdentity: Sendable {
    var jobID: String
    var workerID: String
    var deploymentID: String
    /// The worker's host (`WORKER_HOST`), labelled on the container.
    var host: String = ServiceSettings.machineHostName
}

/// Runs one job in a fresh container: create → attach → start → deliver the input → stream the
/// output (capped) → wait → inspect, with the deadline enforced by a kill. The container is
/// removed on every path, off the answer's critical path.
///
/// The program's outcome (any exit code, a timeout, an OOM kill) is a `RunResult`; a failure of
/// the system itself is an `ExecutionFailure`.
///
/// **A container that ended without the supervisor's trailer** (the program killed its
/// supervisor, or the container could not even exec it, e.g. an environment value over the
/// kernel's 128 KiB MAX_ARG_STRLEN) is the program's result when all of these hold:
/// - the input was delivered (the program had its chance to run),
/// - the attach stream ended with a clean end of stream, not an I/O error (an error is
///   `DockerEngineError.streamBroken`: retried),
/// - neither the deadline nor the output-flood limit made the worker kill it, and the task was
///   not cancelled (lease lost, drain),
/// - the engine answers the wait and inspect of the container right after (an engine that is
///   down or shutting down refuses them: `.unreachable`, the job is given back),
/// - the inspect shows it `exited` on its own with `OOMKilled` false (an OOM kill stays the OOM
///   result it is), and
/// - the engine's socket file is the same one as when the container was started (dockerd
///   recreates it on every start: a restart in between means the engine stopped the container,
///   as the chaos scenario "dockerd restart" does).
/// Then the answer is the container's exit status from the engine, a note on stderr, no
/// metadata, attempt 1, never retried. Otherwise the run failed for reasons outside the program
/// and is retried.
struct SandboxRunner: Sendable {
    /// The engine's calls a run makes (`DockerClient`, or a scripted fake in unit tests).
    let docker: any ContainerEngine
    let remover: ContainerRemover
    /// OCI runtime for every container (`SANDBOX_RUNTIME`), nil for the engine's default.
    let ociRuntime: String?
    let logger: Logger
    /// Makes the deployment's network ready for a networked run, egress policy included.
    let network: any SandboxNetwork
    /// Rebuilds a prebuilt image this engine lacks (nil: no rebuilds, e.g. in tests).
    var builder: PrebuildBuilder? = nil
    /// Told about every rebuild, to record it (the worker writes it to the database).
    var onRebuild: (@Sendable (PrebuildKey, PrebuildOutcome) async -> Void)? = nil
    /// Warm containers for runs that fit them (nil: every run is cold).
    var pool: WarmPool? = nil

    /// - Parameter live: where the output goes while the program runs (`LiveOutputStreamer`);
    ///   nil streams nothing. Judge runs never stream.
    func run(_ payload: RunPayload, as identity: RunIdentity, live: (any LiveOutputSink)? = nil) async throws(ExecutionFailure) -> RunResult {
        if let pool, let warm = await pool.take(for: payload) {
            defer { remover.remove(warm.id) }
            do {
                return try await withTaskCancellationHandler {
                    try await execute(payload, in: warm.id, engineSocket: warm.engineSocket, warm: warm, live: live)
                } onCancel: {
                    kill(warm.id, because: "the run was stopped")
                }
            } catch let failure as ExecutionFailure {
                throw failure
            } catch let error as DockerEngineError {
                throw ExecutionFailure(engineError: error, image: payload.image)
            } catch {
                throw .internalError(error, while: "running the program in a warm container")
            }
        }
        // before the container exists: an engine restart from here on changes it
        let engineSocket = docker.socketIdentity()
        // an allowlisted run's grant, revoked on every path once the run is over
        var grant: ProxyGrant?
        let outcome: Result<RunResult, ExecutionFailure>
        do throws(ExecutionFailure) {
            grant = try await admit(payload, as: identity)
            outcome = .success(try await runCold(payload, as: identity, grant: &grant, engineSocket: engineSocket, live: live))
        } catch {
            outcome = .failure(error)
        }
        if let grant { await network.revoke(grant) }
        return try outcome.get()
    }

    /// An allowlisted run's admission to the proxy (nil for other runs); a networked run's
    /// network made ready.
    private func admit(_ payload: RunPayload, as identity: RunIdentity) async throws(ExecutionFailure) -> ProxyGrant? {
        if let hosts = payload.allowedHosts {
            return try await network.admit(
                hosts,
                deploymentID: identity.deploymentID,
                runtime: ociRuntime,
                lifetimeSeconds: payload.timeoutSeconds + Self.grantMarginSeconds
            )
        }
        if payload.allowNetwork { try await network.prepare(deploymentID: identity.deploymentID, runtime: ociRuntime) }
        return nil
    }

    /// How long a grant outlives its run's deadline: container creation, image rebuilds and
    /// the output's collection come on top of the program's time.
    static let grantMarginSeconds = 600

    private func runCold(
        _ payload: RunPayload,
        as identity: RunIdentity,
        grant: inout ProxyGrant?,
        engineSocket: EngineSocketIdentity?,
        live: (any LiveOutputSink)?
    ) async throws(ExecutionFailure) -> RunResult {
        func config(_ grant: ProxyGrant?) -> ContainerConfig {
            SandboxSpec.container(
                for: payload,
                jobID: identity.jobID,
                workerID: identity.workerID,
                deploymentID: identity.deploymentID,
                host: identity.host,
                runtime: ociRuntime,
                proxy: grant
            )
        }
        let containerID: String
        do {
            do {
                containerID = try await docker.createContainer(config(grant))
            } catch let error as DockerEngineError where error.isMissingImage && payload.prebuild != nil && builder != nil {
                try await rebuild(payload)
                containerID = try await docker.createContainer(config(grant))
            } catch let error as DockerEngineError where error.isMissingNetwork && payload.isNetworked {
                // The deployment's last other worker removed the network as it stopped, and with
                // it the rules (and the allowlist proxy): admitted again from the start, with the
                // policy in force before the container exists.
                if let previous = grant {
                    await network.revoke(previous)
                    grant = nil
                    grant = try await admit(payload, as: identity)
                } else {
                    try await network.prepare(deploymentID: identity.deploymentID, runtime: ociRuntime)
                }
                containerID = try await docker.createContainer(config(grant))
            }
        } catch let failure as ExecutionFailure {
            throw failure
        } catch let error as DockerEngineError {
            throw ExecutionFailure(engineError: error, image: payload.image)
        } catch {
            throw .internalError(error, while: "creating the container")
        }
        defer { remover.remove(containerID) }
        do {
            return try await withTaskCancellationHandler {
                try await execute(payload, in: containerID, engineSocket: engineSocket, live: live)
            } onCancel: {
                kill(containerID, because: "the run was stopped")
            }
        } catch let failure as ExecutionFailure {
            throw failure
        } catch let error as DockerEngineError {
            throw ExecutionFailure(engineError: error, image: payload.image)
        } catch {
            throw .internalError(error, while: "running the program")
        }
    }

    /// Builds a prebuilt image from its stored spec before its first run on this engine
    /// (as quartermaster-code-runner does); a failure is its 503.
    private func rebuild(_ payload: RunPayload) async throws {
        guard let spec = payload.prebuild, let builder else { return }
        logger.info("prebuilt image missing on this engine; rebuilding it from its spec", metadata: ["image": "\(payload.image)"])
        let outcome = await builder.build(spec)
        await onRebuild?(spec.key, outcome)
        guard outcome.succeeded else {
            throw ExecutionFailure(
                failure: JobFailure(
                    statusCode: 503,
                    detail: "Prebuilt image '\(spec.key.publicName)' could not be rebuilt: \(outcome.log.suffix(2000))"
                ),
                retryable: false
            )
        }
    }

    /// Delivers the input, streams the output under the deadline, then collects the outcome.
    /// `warm` is the pooled container to use, already started; nil starts `containerID` now.
    /// `engineSocket`: the engine socket's identity from before the container was started.
    private func execute(
        _ payload: RunPayload,
        in containerID: String,
        engineSocket: EngineSocketIdentity?,
        warm: WarmContainer? = nil,
        live: (any LiveOutputSink)? = nil
    ) async throws -> RunResult {
        if let judge = payload.judge {
            return try await executeJudge(payload, judge: judge, in: containerID, engineSocket: engineSocket, warm: warm)
        }
        let input = RunInput(payload: payload, nonce: RunInput.makeNonce(), environmentInHeader: warm != nil)
        let (output, streaming) = LiveOutputStreamer.start(sink: live, logger: logger) { onOutput in
            RunOutputCollector(
                cap: payload.maxOutputBytes,
                nonce: input.nonce,
                metadataCap: payload.maxMetadataBytes,
                filesCap: TrailerScanner.filesCap(for: payload.outputFiles),
                onOutput: onOutput
            )
        }
        defer { streaming?.cancel() }
        let timing = try await stream(
            input,
            into: containerID,
            warm: warm,
            deadline: .seconds(payload.timeoutSeconds),
            accept: output.accept
        )
        // the program has ended: the result carries what the window had not sent yet
        streaming?.cancel()
        let preparedAt = timing.preparedAt
        let endedAt = timing.endedAt
        let clock = ContinuousClock()
        let (stdout, stderr, trailer) = output.finish()
        let didTimeOut = timing.timedOut
        // The trailer says how the program ended, OOM kills included: answer now, without
        // waiting for the container's teardown. Otherwise (killed, timed out) ask the engine.
        let exitCode: Int
        let oomKilled: Bool
        /// Set when the container ended by itself without a trailer (see the type's doc comment).
        var supervisorLost: Int?
        if !didTimeOut, let trailer, let kills = trailer.oomKills {
            exitCode = trailer.exitStatus
            oomKilled = kills > 0
        } else {
            _ = try await docker.waitContainer(containerID, timeout: .seconds(60))
            let state = try await docker.inspectContainer(containerID).state
            exitCode = didTimeOut ? -1 : (trailer?.exitStatus ?? state.exitCode)
            oomKilled = state.oomKilled
            // No trailer, and neither the deadline, the output cap nor the OOM killer stopped it.
            if trailer == nil, !didTimeOut, !oomKilled, !output.flooded {
                try requireEndedByItself(state, timing: timing, engineSocket: engineSocket, what: "no trailer")
                supervisorLost = state.exitCode
                logger.info(
                    "the sandbox's supervisor ended before reporting the program's end; answered as the program's result",
                    metadata: ["exit_code": "\(state.exitCode)", "container": "\(containerID.prefix(12))"]
                )
            }
        }
        logger.debug(
            "run phases",
            metadata: [
                "warm": "\(warm != nil)",
                "to_delivery": "\((timing.deliveredAt ?? endedAt) - preparedAt)",
                "to_end": "\(endedAt - (timing.deliveredAt ?? endedAt))",
                "after": "\(clock.now - endedAt)",
            ]
        )
        let started = timing.deliveredAt ?? endedAt

        // The service's notes end stderr, inside MAX_OUTPUT_BYTES like the program's own bytes.
        var notes = ""
        if let status = supervisorLost {
            notes += Self.supervisorLostNote(exitStatus: status)
        }
        if output.flooded {
            notes += "\n[code-runner] the program wrote more than 8 times MAX_OUTPUT_BYTES and was stopped\n"
        }
        var metadata: JSONValue?
        if !didTimeOut, let trailer {
            if trailer.metadataTooLarge {
                notes += "\n[code-runner] metadata larger than \(payload.maxMetadataBytes) bytes was dropped\n"
            } else if let bytes = trailer.metadata {
                metadata = JSONValue.parse(Data(bytes))
            }
        }
        let stdoutText = stdout.text(endingWith: "")
        let stderrText = stderr.text(endingWith: notes)
        var result = RunResult(
            stdout: stdoutText.text,
            stderr: stderrText.text,
            exitCode: exitCode,
            executionTime: Self.roundedSeconds(endedAt - started),
            metadata: metadata,
            timedOut: didTimeOut,
            oomKilled: oomKilled,
            stdoutTruncated: stdoutText.truncated,
            stderrTruncated: stderrText.truncated
        )
        if let request = payload.outputFiles {
            (result.files, result.filesTruncated) = Self.outputFiles(didTimeOut ? nil : trailer, request: request)
        }
        return result
    }

    /// The result's `files` and `files_truncated` from the trailer (nil when the program did
    /// not end by itself: the supervisor was killed before it could collect them). A path that
    /// is not UTF-8 cannot be named in JSON: that file is left out and the result flagged.
    static func outputFiles(_ trailer: TrailerScanner.Trailer?, request: OutputFilesRequest) -> ([OutputFile]?, Bool) {
        var files: [OutputFile] = []
        var cut = trailer?.filesCut ?? false
        for raw in trailer?.files ?? [] {
            guard let path = String(validating: raw.path, as: UTF8.self) else {
                cut = true
                continue
            }
            files.append(OutputFile(path: path, mediaType: MediaType.guess(forPath: path), content: Data(raw.content)))
        }
        guard !files.isEmpty || request.reportsEmpty else { return (nil, false) }
        return (files, cut)
    }
}

extension SandboxRunner {
    /// When a run's input was delivered, when its stream ended, and whether the deadline fired.
    struct StreamTiming {
        var preparedAt: ContinuousClock.Instant
        var deliveredAt: ContinuousClock.Instant?
        var endedAt: ContinuousClock.Instant
        var timedOut: Bool
    }

    /// Delivers `input` to the container (starting it, or the warm one), hands every output
    /// frame to `accept` and kills the container `deadline` after the input was delivered or
    /// when `accept` reports a flood. Returns when the stream has ended or `accept` has
    /// everything (`.finished`).
    func stream(
        _ input: RunInput,
        into containerID: String,
        warm: WarmContainer?,
        deadline: Duration,
        accept: @escaping @Sendable (AttachStream, ByteBuffer) -> RunOutputCollector.Verdict
    ) async throws -> StreamTiming {
        let clock = ContinuousClock()
        let preparedAt = clock.now
        let timeline = RunTimeline()
        let (delivered, deliveredSignal) = AsyncStream<ContinuousClock.Instant>.makeStream()
        let docker = self.docker

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { deliveredSignal.finish() }
                let onDelivered: @Sendable () -> Void = {
                    let now = clock.now
                    timeline.deliveredAt.withLock { $0 = now }
                    deliveredSignal.yield(now)
                }
                let onFrame: @Sendable (AttachStream, ByteBuffer) -> Bool = { stream, payload in
                    switch accept(stream, payload) {
                    case .keepReading: return true
                    case .finished: return false
                    case .flooded:
                        kill(containerID, because: "output flood")
                        return true
                    }
                }
                do {
                    if let warm {
                        try await warm.run(input: input.bytes, onDelivered: onDelivered, onFrame: onFrame)
                    } else {
                        try await docker.attachAndStart(
                            containerID,
                            input: input.bytes,
                            inputDelivered: onDelivered,
                            onFrame: onFrame
                        )
                    }
                } catch let error as DockerEngineError {
                    throw error
                } catch let error as CancellationError {
                    throw error
                } catch {
                    // an I/O error on the stream (not its clean end): the engine or the
                    // connection failed, not the program
                    throw DockerEngineError.streamBroken("\(error)")
                }
            }
            group.addTask {
                // The deadline counts from code delivery; at the deadline the container is killed.
                var iterator = delivered.makeAsyncIterator()
                guard let start = await iterator.next() else { return }
                try await Task.sleep(until: start + deadline, clock: clock)
                timeline.timedOut.withLock { $0 = true }
                try await docker.killContainer(containerID)
            }
            try await group.next()  // the stream ended: the program is done (or was killed)
            group.cancelAll()
        }
        return StreamTiming(
            preparedAt: preparedAt,
            deliveredAt: timeline.deliveredAt.withLock { $0 },
            endedAt: clock.now,
            timedOut: timeline.timedOut.withLock { $0 }
        )
    }

    /// A duration in seconds, rounded to 4 decimals (the answer's `execution_time`).
    static func roundedSeconds(_ duration: Duration) -> Double {
        let seconds = Double(duration.components.attoseconds) / 1e18 + Double(duration.components.seconds)
        return (seconds * 10_000).rounded() / 10_000
    }

    /// Kills a container without waiting for the engine's answer. A refusal is logged at debug
    /// level only: a container that has just ended refuses the kill, which is the usual case.
    func kill(_ containerID: String, because reason: String) {
        Task { [docker, logger] in
            do {
                try await docker.killContainer(containerID)
            } catch {
                logger.debug("kill refused", metadata: ["container": "\(containerID.prefix(12))", "reason": "\(reason)", "error": "\(error)"])
            }
        }
    }

    /// Why a container that ended without a trailer (not by the deadline, the flood limit or
    /// the OOM killer) did not end by itself, or nil when it did: then it is the program's
    /// result. The rule is the type's doc comment; the stream's I/O errors and an engine that
    /// cannot answer are handled before (they throw).
    static func faultOutsideTheProgram(
        delivered: Bool,
        cancelled: Bool,
        status: String,
        socketBefore: EngineSocketIdentity?,
        socketAfter: EngineSocketIdentity?
    ) -> String? {
        if !delivered { return "the input was never delivered" }
        if cancelled { return "the run was stopped by the worker" }
        if status != "exited" { return "the container is \(status), not exited" }
        guard let socketBefore, let socketAfter else { return "the engine's socket could not be read" }
        if socketBefore != socketAfter { return "the engine restarted while the container ran" }
        return nil
    }

    /// Throws the retryable failure when a container that ended without the supervisor's report
    /// (and not by the deadline, the flood limit or the OOM killer) did not end by itself
    /// (`faultOutsideTheProgram`); returns when the ending is the program's doing.
    /// - Parameter what: what was missing, for the log.
    func requireEndedByItself(
        _ state: ContainerInspect.State,
        timing: StreamTiming,
        engineSocket: EngineSocketIdentity?,
        what: String
    ) throws(ExecutionFailure) {
        guard
            let fault = Self.faultOutsideTheProgram(
                delivered: timing.deliveredAt != nil,
                cancelled: Task.isCancelled,
                status: state.status,
                socketBefore: engineSocket,
                socketAfter: docker.socketIdentity()
            )
        else { return }
        throw ExecutionFailure.unexpected(
            "the container was stopped before its program ended",
            retryable: true,
            logDetail: "\(what), exit status \(state.exitCode), state \(state.status): \(fault)"
        )
    }

    /// The line appended to stderr when the supervisor ended before reporting the program's end.
    static func supervisorLostNote(exitStatus: Int) -> String {
        "\ncode-runner: the sandbox's supervisor ended before reporting the program's end (exit status \(exitStatus))\n"
    }
}

/// When a run's input was delivered and whether its deadline fired; shared by the attach reader
/// and the deadline task.
private final class RunTimeline: Sendable {
    let deliveredAt = Mutex<ContinuousClock.Instant?>(nil)
    let timedOut = Mutex(false)
}
