import Foundation

/// The durable job queue, split by role (issue 16): what every process reads
/// (`QueueDatabase`), what the API needs (`SubmissionStore`), what a worker needs to run jobs
/// (`ClaimStore`), schedules and retention (`MaintenanceStore`), prebuilt images
/// (`PrebuildStore`), metrics (`MetricStore`) and the live output of running jobs
/// (`OutputStore`). `JobStore` is all of them: what a backend
/// implements (`SQLiteJobStore` for one host; a PostgreSQL store for several implements the
/// same protocols without touching API or Worker code). A consumer that needs one role takes
/// that protocol.
///
/// Every write that concerns a running job is fenced on its `Lease`: it returns `false`, and
/// changes nothing, when the lease is no longer current.
public protocol JobStore: SubmissionStore, ClaimStore, MaintenanceStore, PrebuildStore, MetricStore, OutputStore {}

/// What every process of a deployment reads.
public protocol QueueDatabase: Sendable {
    /// Hints that the database changed (any process committed); a consumer re-reads what it
    /// cares about. Losing a hint costs latency, never correctness.
    func changes() -> AsyncStream<Void>

    /// The random id of this deployment (labels its containers), created with the database.
    func deploymentID() async throws -> String

    /// Workers whose heartbeat is younger than `seconds`.
    func liveWorkers(within seconds: Double) async throws -> [WorkerStatus]

    /// When a call of this process last found the database unavailable (a PostgreSQL server
    /// down or unreachable); nil if never. While the database was away nobody could heartbeat,
    /// so for a lease after it, stale heartbeats and expired leases say nothing about who is
    /// alive: the reaper and the orphan sweep wait that long before judging.
    var lastOutage: ContinuousClock.Instant? { get }
}

extension QueueDatabase {
    /// One SQLite file on local disk has no outages to speak of (a full disk is not one: nobody
    /// else can write either).
    public var lastOutage: ContinuousClock.Instant? { nil }

    /// Whether the database was unavailable to this process within the last `seconds`.
    public func hadOutage(within seconds: Double) -> Bool {
        guard let last = lastOutage else { return false }
        return last.duration(to: .now) < .seconds(seconds)
    }
}

/// The API's side of the queue: submitting, reading and cancelling jobs.
public protocol SubmissionStore: QueueDatabase {
    func enqueue(_ job: NewJob, maxQueueDepth: Int?) async throws -> EnqueueOutcome
    /// The job with this public id, if it belongs to `owner`.
    func job(publicID: String, owner: String) async throws -> Job?
    /// `owner`'s jobs, newest first.
    func jobs(owner: String, state: JobState?, limit: Int, before: String?) async throws -> [Job]
    /// The finished ones among these jobs (one query for any number of waiters).
    func finishedJobs(among ids: [Int64]) async throws -> [Job]
    /// Cancels a queued or running job; a running job's worker sees its lease vanish.
    func cancel(publicID: String, owner: String) async throws -> CancelOutcome
    func counts() async throws -> QueueCounts
    /// Queued and running jobs per owner (`/metrics`).
    func countsByOwner() async throws -> [OwnerCounts]
    /// Replaces the owners that claims know (`Tenant`, their caps on running jobs): the API
    /// writes every key it has at start and at each reload of its keys file, in one transaction.
    func replaceTenants(_ tenants: [Tenant]) async throws
    /// The owners that claims know, by owner.
    func tenants() async throws -> [Tenant]
}

/// A worker's side of the queue: claiming jobs, keeping their leases, writing their outcomes.
public protocol ClaimStore: QueueDatabase {
    /// Cheap read-only probe: is anything claimable now?
    func hasClaimableJobs() async throws -> Bool
    /// Records one webhook delivery attempt for job `jobID`, made under the delivery job's
    /// `lease`, in one transaction: the delivery job completes, goes back to the queue due later,
    /// or fails (`outcome`), and the job's `callback` says so. False, with nothing changed, when
    /// the lease was lost — so a delivery that a reaped worker finished late is not recorded
    /// twice, and exactly one success is.
    func recordDelivery(_ lease: Lease, of jobID: Int64, outcome: DeliveryOutcome) async throws -> Bool
    /// Whether a worker should probe (`hasClaimableJobs`) before each claim: true where an
    /// empty claim is costly (SQLite: it takes the one write lock every process contends for),
    /// false where it is as cheap as the probe (PostgreSQL: an `UPDATE` that matches nothing
    /// writes nothing), so the probe would only add a round trip to every claim.
    var probesBeforeClaiming: Bool { get }
    /// Atomically claims up to `limit` due jobs in `fair_time` order (`FairShare`: round-robin
    /// across owners, weighted), each with a fresh lease, skipping owners at their cap on
    /// running jobs (`Tenant.maxRunning`). The order matches the `jobs_fair` index, so a claim
    /// reads only the rows it takes (a bounded window when caps exist), however long the backlog.
    func claim(worker: String, limit: Int, leaseSeconds: Double) async throws -> [ClaimedJob]
    /// Records the worker's status and extends the leases it runs jobs under (`holding`) in one
    /// write; returns those it still holds (a lease missing from the answer was lost: cancelled
    /// or reaped). Only the leases named are extended: a claim the worker never heard back from
    /// (its answer lost with a connection, or given up at a deadline after the database had
    /// committed it) is not kept alive by the worker's heartbeats; it expires, and the reaper
    /// gives the job to the queue again.
    func heartbeat(_ status: WorkerStatus, holding leases: [Lease], leaseSeconds: Double) async throws -> Set<Lease>
    /// The leases among these that are still current (read only).
    func currentLeases(among leases: [Lease]) async throws -> Set<Lease>
    func complete(_ lease: Lease, result: Data) async throws -> Bool
    /// Records an infrastructure failure. With `retry`, the job goes back to the queue while
    /// attempts remain.
    func fail(_ lease: Lease, failure: JobFailure, retry: Bool) async throws -> Bool
    /// Gives a job back without consuming an attempt (graceful shutdown).
    func release(_ lease: Lease) async throws -> Bool
    /// Requeues (attempts left) or fails (`worker lost`) running jobs whose lease expired.
    func reapExpiredLeases() async throws -> Int
    /// Expires the leases a previous process with this worker id still holds (see
    /// `JobStatements.expireLeases`); the number of jobs.
    func expireLeases(ofWorker id: String) async throws -> Int
    func removeWorker(id: String) async throws
}

/// The live output of running jobs: their workers append it while the program runs, and
/// `GET /jobs/{id}/events` reads it (`OutputChunk`). A job's chunks are deleted with the job
/// (`deleteFinishedJobs`), and those of an attempt given back with `release` with it (that
/// attempt's number is used again by the next claim).
public protocol OutputStore: QueueDatabase {
    /// Appends `chunks`, in order, to the output of the job that runs under `lease`, in one
    /// transaction: only while the job is `running` under this lease, and stamped with the job's
    /// attempt (`jobs.attempts`). Returns false, with nothing written, when the lease is no longer
    /// current (the job finished, was cancelled, reaped or claimed again). An empty list (or only
    /// empty texts, which are never stored) writes nothing and answers whether the lease holds.
    /// A chunk already stored for this attempt at the same channel and offset is skipped, so a
    /// call run again after its answer was lost stores nothing twice. Wakes `changes()`
    /// listeners of every process.
    func appendOutput(_ lease: Lease, chunks: [OutputChunk]) async throws -> Bool

    /// Up to `limit` of the job's chunks stored after `sequence` (0: from the first), in the
    /// order they were appended (`StoredOutputChunk.sequence`), of every attempt.
    func output(of jobID: Int64, after sequence: Int64, limit: Int) async throws -> [StoredOutputChunk]

    /// Marks job `jobID` as watched: a client opened its event stream. Workers store a run's
    /// live output only for watched jobs (`isOutputWatched`), so runs nobody watches cost no
    /// writes and wake nobody. Kept until the job is deleted; nothing for a job that is gone.
    func watchOutput(of jobID: Int64) async throws

    /// Whether job `jobID` has been watched (a read: no lock, no wake-up).
    func isOutputWatched(_ jobID: Int64) async throws -> Bool
}

/// Schedules (the clean-up job) and retention.
public protocol MaintenanceStore: QueueDatabase {
    /// Declares (or re-times) a schedule whose first firing comes `firstDelay` seconds later.
    func declareSchedule(_ name: String, every interval: Double, firstDelay: Double) async throws
    /// Enqueues one job per due schedule and tick, however many workers call it at once.
    @discardableResult
    func fireDueSchedules(kinds: [String: JobKind]) async throws -> Int
    /// Deletes finished jobs older than `hours`, with their output chunks, in small batches.
    func deleteFinishedJobs(olderThanHours hours: Double, batch: Int) async throws -> Int
    /// Compacts the store's journal (SQLite: a WAL checkpoint).
    func checkpoint() async throws
    func recordCleanup(_ report: CleanupReport) async throws
    func lastCleanup() async throws -> CleanupReport?
}

/// Prebuilt images, always addressed by owner and tag.
public protocol PrebuildStore: QueueDatabase {
    /// Records a (re)build request; `.ownerBusy` while the owner has another build under way
    /// (begun less than `busyFor` seconds ago).
    func beginPrebuild(_ key: PrebuildKey, baseRuntime: String, setupScript: String, busyFor: Double) async throws -> PrebuildStart
    func finishPrebuild(_ key: PrebuildKey, outcome: PrebuildOutcome) async throws
    /// One build per image across all workers: a lease on the image's record, held by a worker.
    func acquirePrebuildLock(_ key: PrebuildKey, holder: String, seconds: Double) async throws -> Bool
    func releasePrebuildLock(_ key: PrebuildKey, holder: String) async throws
    func prebuild(_ key: PrebuildKey) async throws -> Prebuild?
    func prebuilds(owner: String) async throws -> [Prebuild]
    /// Every owner's images, counted by status.
    func prebuildCounts() async throws -> [Prebuild.Status: Int]
    func touchPrebuild(_ key: PrebuildKey) async throws
    func deletePrebuilds(_ keys: [PrebuildKey]) async throws -> [PrebuildKey]
    /// The owner's stale images, or every owner's when `owner` is nil.
    func stalePrebuilds(olderThanDays days: Double, owner: String?) async throws -> [PrebuildKey]
}

/// The workers' run counters and histograms, shared through the database.
public protocol MetricStore: QueueDatabase {
    /// Adds a worker's counter and histogram increments to the shared totals.
    func addMetricSamples(_ samples: [MetricSample]) async throws
    /// The shared totals, ordered for rendering.
    func metricSamples() async throws -> [MetricSample]
}
