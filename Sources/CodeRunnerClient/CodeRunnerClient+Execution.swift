import Foundation

extension CodeRunnerClient {
    /// Runs a program and returns its outcome (`POST /run`).
    ///
    /// When the service answers that the job is still queued (a long queue), this keeps
    /// waiting for it through ``wait(id:timeout:)``. A non-zero exit, a timeout or an
    /// out-of-memory kill is a result, not an error.
    public func run(_ request: RunRequest) async throws(CodeRunnerError) -> ExecutionResult {
        let answer = try await send(.POST, "/run", body: request, timeout: Self.runAllowance(request))
        guard answer.status == 202 else { return try expect(ExecutionResult.self, from: answer) }
        let accepted = try expect(Accepted.self, from: answer)
        return try await wait(id: accepted.job_id).outcome()
    }

    /// Queues a program and returns at once with the job's id (`POST /jobs`).
    /// - Parameter idempotencyKey: a repeat with the same key and body returns the same job;
    ///   the same key with another body throws ``CodeRunnerError/conflict(_:)``.
    public func submit(_ request: RunRequest, idempotencyKey: String? = nil) async throws(CodeRunnerError) -> SubmittedJob {
        let headers = idempotencyKey.map { [("Idempotency-Key", $0)] } ?? []
        let answer = try await send(.POST, "/jobs", body: request, headers: headers)
        if answer.status == 202 {
            let accepted = try expect(Accepted.self, from: answer)
            return SubmittedJob(id: accepted.job_id, status: JobStatus(rawValue: accepted.status) ?? .queued, isRepeat: false)
        }
        let job = try expect(Job.self, from: answer)
        return SubmittedJob(id: job.id, status: job.status, isRepeat: true)
    }

    /// The job `id` as it is now (`GET /jobs/{id}`).
    public func job(id: String) async throws(CodeRunnerError) -> Job {
        try expect(Job.self, from: await send(.GET, "/jobs/\(Self.segment(id))"))
    }

    /// One output file of the completed job `id` (`GET /jobs/{id}/files/{path}`): its bytes.
    /// A path the job has no file at throws ``CodeRunnerError/notFound(_:)``.
    public func file(jobID id: String, path: String) async throws(CodeRunnerError) -> Data {
        let segments = path.split(separator: "/").map { Self.segment(String($0)) }.joined(separator: "/")
        let answer = try await send(.GET, "/jobs/\(Self.segment(id))/files/\(segments)")
        guard answer.isSuccess else { throw Self.error(from: answer) }
        return Data(answer.body)
    }

    /// Waits until the job `id` ends and returns it, long-polling `GET /jobs/{id}?wait=`.
    /// - Parameter timeout: how long to wait at most (`nil`: until it ends); past it,
    ///   ``CodeRunnerError/timedOut(jobID:)`` is thrown.
    public func wait(id: String, timeout: Duration? = nil) async throws(CodeRunnerError) -> Job {
        let clock = ContinuousClock()
        let deadline = timeout.map { clock.now + $0 }
        while true {
            var seconds = 60
            if let deadline {
                let remaining = clock.now.duration(to: deadline).components.seconds
                seconds = Int(min(60, max(1, remaining + 1)))
            }
            let answer = try await send(
                .GET,
                "/jobs/\(Self.segment(id))",
                query: [("wait", String(seconds))],
                timeout: requestTimeout + .seconds(seconds)
            )
            let job = try expect(Job.self, from: answer)
            if job.status.isFinal { return job }
            if let deadline, clock.now >= deadline { throw .timedOut(jobID: id) }
            if Task.isCancelled { throw .cancelled }
        }
    }

    /// Cancels a queued job or kills a running one (`DELETE /jobs/{id}`); returns the job.
    /// A job that had already ended throws ``CodeRunnerError/conflict(_:)``.
    @discardableResult
    public func cancel(id: String) async throws(CodeRunnerError) -> Job {
        try expect(Job.self, from: await send(.DELETE, "/jobs/\(Self.segment(id))"))
    }

    /// The caller's jobs, newest first, without their results (`GET /jobs`).
    /// - Parameters:
    ///   - status: only jobs in this state.
    ///   - limit: at most this many (1…500; the service's default is 50).
    ///   - before: only jobs older than this job id (for paging).
    public func jobs(status: JobStatus? = nil, limit: Int? = nil, before: String? = nil) async throws(CodeRunnerError) -> [Job] {
        var query: [(String, String)] = []
        if let status { query.append(("status", status.rawValue)) }
        if let limit { query.append(("limit", String(limit))) }
        if let before { query.append(("before", before)) }
        return try expect(JobList.self, from: await send(.GET, "/jobs", query: query)).jobs
    }

    /// The HTTP time limit of `/run`: the run's own timeout, the service's slack and a margin.
    static func runAllowance(_ request: RunRequest) -> Duration {
        .seconds((request.timeout ?? 300) + 90)
    }
}

extension Job {
    /// The result of a finished job, or the error `POST /run` would have answered for it.
    public func outcome() throws(CodeRunnerError) -> ExecutionResult {
        switch status {
        case .completed:
            guard let result else { throw .decoding("completed job \(id) has no result") }
            return result
        case .failed:
            throw CodeRunnerError.from(status: error?.statusCode ?? 500, message: error?.detail ?? "Job '\(id)' failed.")
        case .cancelled:
            throw .conflict("Job '\(id)' was cancelled.")
        case .queued, .running:
            throw .timedOut(jobID: id)
        }
    }
}
