import Queue

/// One credential the API accepts: its name (what logs and `/metrics` show, never the key), the
/// owner its jobs belong to, and its limits.
struct APIKey: Sendable, Equatable {
    var name: String
    /// The jobs' `owner`: `key:<SHA-256 hex>` for API keys (from the file or
    /// `CODE_RUNNER_API_KEYS`, whichever header carries them), `token:<SHA-256 hex>` for
    /// `AUTH_TOKEN` — the same fingerprints as before named keys, so jobs stay visible when a
    /// key moves into the file.
    var owner: String
    var limits: KeyLimits

    /// The owner of API key `digest` (the key's SHA-256, lowercase hex).
    static func owner(ofKeyDigest digest: String) -> String { "key:" + digest }

    /// The one caller when authentication is off.
    static let anonymous = APIKey(name: "anonymous", owner: "", limits: .unlimited)

    /// The caps the claims apply (`Tenant`).
    var tenant: Tenant { Tenant(owner: owner, name: name, maxRunning: limits.maxRunning) }
}

/// A key's limits (`API_KEYS_FILE`); nil: no limit.
struct KeyLimits: Sendable, Equatable {
    /// Jobs running at once across all workers and hosts; more wait queued.
    var maxRunning: Int?
    /// Jobs queued at once; more are a 429.
    var maxQueued: Int?
    /// Run jobs created within any 60 seconds; more are a 429 until the oldest leaves the window.
    var runsPerMinute: Int?
    /// The largest `timeout` (seconds) a request may ask for; a larger one is a 422.
    var maxTimeout: Int?
    /// The largest `mem_limit` in MiB.
    var maxMemoryMB: Int?
    /// The largest `cpus`.
    var maxCPUs: Double?
    /// Whether runs may have the network (`allow_network`, `allowed_hosts`).
    var allowNetwork: Bool
    /// The key's share of claims against other keys with queued work (1...10), and the highest
    /// `priority` its jobs may ask for (`FairShare`).
    var priority: Int

    /// The keys of `CODE_RUNNER_API_KEYS` and `AUTH_TOKEN`, and the open API.
    static let unlimited = KeyLimits(allowNetwork: true, priority: 1)

    /// What the queue checks at enqueue.
    var quota: OwnerQuota? {
        maxQueued == nil && runsPerMinute == nil ? nil : OwnerQuota(maxQueued: maxQueued, runsPerMinute: runsPerMinute)
    }
}
