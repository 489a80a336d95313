import Foundation

/// A job as stored: identity, state, what to do, and how it ended.
public struct Job: Sendable, Equatable {
    /// Internal row id; orders jobs by submission.
    public var id: Int64
    /// The id clients see (a UUID).
    public var publicID: String
    public var kind: JobKind
    public var state: JobState
    /// Fingerprint of the credential that created the job; `""` when auth is off.
    public var owner: String
    /// The kind's request, JSON (for `run` jobs a `RunPayload`).
    public var payload: Data
    /// The kind's result, JSON (for `run` jobs a `RunResult`), once completed.
    public var result: Data?
    /// Why the job failed, once failed.
    public var failure: JobFailure?
    public var attempts: Int
    public var maxAttempts: Int
    /// Unix seconds.
    public var createdAt: Double
    public var startedAt: Double?
    public var finishedAt: Double?
    /// Its webhook, when it was submitted with a `callback_url`.
    public var callback: Callback? = nil
    /// Orders the owner's own queued jobs, higher first (`FairShare`).
    public var priority: Int = 0
}

/// The right to write a claimed job's outcome. Every claim issues a new token, and every later
/// write for the job is conditional on it, so an attempt that lost its lease cannot write.
public struct Lease: Sendable, Hashable {
    public let jobID: Int64
    public let token: String

    public init(jobID: Int64, token: String) {
        self.jobID = jobID
        self.token = token
    }
}

/// A job handed to a worker together with its lease.
public struct ClaimedJob: Sendable {
    public let job: Job
    public let lease: Lease
}

/// What the API asks to store.
public struct NewJob: Sendable {
    public var kind: JobKind
    public var owner: String
    public var payload: Data
    /// The client's `Idempotency-Key`, unique per owner.
    public var idempotencyKey: String?
    /// Hash of the request body, to tell a repeat from a different request under the same key.
    public var requestHash: String?
    /// A key unique across all jobs (schedules use `<name>@<fire_at>`).
    public var uniqueKey: String?
    public var maxAttempts: Int
    /// Where to POST the job's JSON once it finishes (checked by the API before it gets here).
    public var callbackURL: String?
    /// Orders the owner's own jobs (0...`FairShare.maxPriority`, higher first).
    public var priority: Int
    /// The owner's share of claims against other owners with queued work: its key's priority
    /// (`FairShare`).
    public var weight: Int
    /// The owner's limits checked at enqueue; nil: none.
    public var quota: OwnerQuota?

    public init(
        kind: JobKind,
        owner: String,
        payload: Data,
        idempotencyKey: String? = nil,
        requestHash: String? = nil,
        uniqueKey: String? = nil,
        maxAttempts: Int = 2,
        callbackURL: String? = nil,
        priority: Int = 0,
        weight: Int = 1,
        quota: OwnerQuota? = nil
    ) {
        self.kind = kind
        self.owner = owner
        self.payload = payload
        self.idempotencyKey = idempotencyKey
        self.requestHash = requestHash
        self.uniqueKey = uniqueKey
        self.maxAttempts = maxAttempts
        self.callbackURL = callbackURL
        self.priority = min(max(priority, 0), FairShare.maxPriority)
        self.weight = weight
        self.quota = quota
    }
}

/// How an enqueue ended.
public enum EnqueueOutcome: Sendable {
    /// A new job was stored.
    case created(Job)
    /// The idempotency key was used before with the same request: that job.
    case repeated(Job)
    /// The idempotency key was used before with a different request.
    case conflict(Job)
    /// The queue holds `MAX_QUEUE_DEPTH` jobs already.
    case queueFull
    /// The owner has `OwnerQuota.maxQueued` jobs queued already.
    case ownerQueueFull(limit: Int)
    /// The owner created `OwnerQuota.runsPerMinute` run jobs within the last 60 seconds; the
    /// oldest of them leaves the window `retryAfter` seconds from now.
    case rateLimited(limit: Int, retryAfter: Double)
}

/// How a cancellation ended.
public enum CancelOutcome: Sendable {
    case cancelled(Job)
    case alreadyFinished(Job)
    case notFound
}

/// Jobs waiting and running, for `/health` and back-pressure.
public struct QueueCounts: Sendable, Equatable {
    public var queued: Int
    public var running: Int

    public init(queued: Int, running: Int) {
        self.queued = queued
        self.running = running
    }
}
