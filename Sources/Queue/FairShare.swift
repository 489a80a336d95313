/// Fair scheduling across owners (issue 19): while several owners (API keys) have queued work,
/// claims go round-robin across them, weighted by each key's priority, instead of oldest first
/// across all — so one key's backlog of a thousand batch jobs does not hold back another key's
/// interactive run by minutes.
///
/// ## How: a virtual time stamped at enqueue (start-time fair queueing)
/// Every job gets a `fair_time` when it is stored, and claims take queued jobs in `fair_time`
/// order, then id (the `jobs_fair` index): the claim path stays one index scan however many
/// owners and jobs wait. A job's `fair_time` is its start tag, `max(now, last + 1 / weight)`:
/// - `now`, the queue's virtual time, is the greatest `fair_time` of the running jobs or the
///   least of the claimable queued ones (the head), whichever is greater (0 when nothing is
///   queued or running: stamps are compared only among queued jobs, and a job that may come
///   back to the queue is running, so it holds `now` up while it is out): where service has
///   got to;
/// - `last` is the greatest `fair_time` among the owner's queued jobs of the same or a higher
///   `priority` up to the key's (one index probe per priority level, `jobs_fair_by_owner`; a
///   key's jobs cannot ask more than its priority); none: `now`;
/// - `weight` is the key's priority (1...`maxPriority`).
///
/// So an owner with a backlog has stamps running far ahead; a newcomer is stamped with the
/// head's time and is claimed right after it (ties go to the older job): after at most one
/// job of each other owner with work. Two owners with backlogs alternate; a key of weight 3
/// is stamped three times as densely as one of weight 1, so it gets three claims for each of
/// the other's. An owner without queued work starts again at `now`: idle time earns no credit.
///
/// ## Job priorities
/// A job's own `priority` (0...its key's priority) orders the owner's own jobs: a job is
/// stamped after the owner's queued jobs of the same or a higher priority only, so a platform's
/// interactive runs pass its own batch. Priorities never let a key pass other keys' share
/// beyond one stamp.
///
/// Jobs given back to the queue (a lost worker's, a webhook retry) keep their stamp, which is
/// behind `now`: they go first, as before.
///
/// ## Caps
/// `max_running` (a key's limit on running jobs across all workers and hosts) is applied by the
/// claim: owners at their cap are skipped (`tenants` table, written by the API from its keys).
public enum FairShare {
    /// The highest key and job priority.
    public static let maxPriority = 10

    /// The highest priority level `last` looks at for `job`: its key's priority (which its jobs
    /// cannot exceed), or its own if higher (the service's own jobs).
    static func highestLevel(of job: NewJob) -> Int {
        min(max(job.priority, job.weight), maxPriority)
    }

    /// The stamp distance between consecutive jobs of an owner of this weight.
    public static func step(weight: Int) -> Double {
        1 / Double(min(max(weight, 1), maxPriority))
    }

    /// How many queued jobs past the head a capped claim looks at, for `limit` jobs: enough to
    /// fill a claim when the head belongs to an owner near its cap, bounded so the claim reads
    /// a fixed number of rows however long the backlog. (A claim can take fewer jobs than free
    /// slots when one capped owner's jobs fill this window; the next claim takes more.)
    static func claimWindow(limit: Int) -> Int { limit * 4 + 32 }
}

/// A key's limits that the queue applies at enqueue, on every API host at once.
public struct OwnerQuota: Sendable, Equatable {
    /// At most this many of the owner's jobs queued.
    public var maxQueued: Int?
    /// At most this many run jobs created by the owner within any 60 seconds.
    public var runsPerMinute: Int?

    public init(maxQueued: Int? = nil, runsPerMinute: Int? = nil) {
        self.maxQueued = maxQueued
        self.runsPerMinute = runsPerMinute
    }

    var isEmpty: Bool { maxQueued == nil && runsPerMinute == nil }
}

/// An owner as the workers' claims see it (the `tenants` table): its key's name and its cap on
/// running jobs. The API writes every key it knows at start and at each reload of its keys.
public struct Tenant: Sendable, Equatable {
    public var owner: String
    public var name: String
    public var maxRunning: Int?

    public init(owner: String, name: String, maxRunning: Int? = nil) {
        self.owner = owner
        self.name = name
        self.maxRunning = maxRunning
    }
}

/// Queued and running jobs of one owner, for `/metrics`.
public struct OwnerCounts: Sendable, Equatable {
    public var owner: String
    public var queued: Int
    public var running: Int

    public init(owner: String, queued: Int, running: Int) {
        self.owner = owner
        self.queued = queued
        self.running = running
    }
}
