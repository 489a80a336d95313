import Foundation

/// A job's webhook (`callback_url`, issue 18): where its JSON is POSTed once it finishes, and
/// how the delivery stands.
///
/// Deliveries are jobs of their own (`JobKind.webhook`), so they are durable, retried and
/// claimed like any other work. The store makes one atomically with the transition that ends
/// the job — a trigger on `jobs.state` in both engines, so every way a job ends (a result, a
/// failure, the reaper, a cancel) is covered by one rule, and a crash between the two writes
/// cannot happen. `Job.callback` mirrors the delivery's progress for `GET /jobs/{id}`.
public struct Callback: Sendable, Equatable {
    public var url: String
    public var status: CallbackStatus
    /// Delivery attempts made so far.
    public var attempts: Int
    /// Why the last attempt failed (status code or connection error), nil after a success.
    public var lastError: String?

    public init(url: String, status: CallbackStatus = .pending, attempts: Int = 0, lastError: String? = nil) {
        self.url = url
        self.status = status
        self.attempts = attempts
        self.lastError = lastError
    }
}

/// Where a job's webhook delivery stands.
public enum CallbackStatus: String, Sendable, Codable, CaseIterable {
    /// The job has not finished, or its delivery is under way or waiting for a retry.
    case pending
    /// The receiver answered 2xx once; that success is the only one recorded.
    case delivered
    /// Every attempt within the retry horizon failed (or the address was refused at delivery).
    case failed
}

/// The payload of a `webhook` job: which job's JSON to deliver (its internal id).
public struct WebhookDelivery: Codable, Sendable, Equatable {
    public var jobID: Int64

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
    }

    public init(jobID: Int64) {
        self.jobID = jobID
    }

    /// The owner of every delivery job: no credential's fingerprint (hex) nor the open
    /// deployment's `""` can equal it, so deliveries never show in a client's `GET /jobs`.
    public static let owner = "code-runner:webhooks"
}

/// How one delivery attempt went, as a worker records it (`ClaimStore.recordDelivery`).
public enum DeliveryOutcome: Sendable, Equatable {
    /// The receiver answered 2xx: the delivery job completes and the job's callback is `delivered`.
    case delivered(attempts: Int)
    /// It failed and is tried again after `seconds` (the delivery job goes back to the queue,
    /// due then); the job's callback stays `pending` with the error.
    case retry(after: Double, attempts: Int, error: String)
    /// It failed for good: the delivery job fails and the job's callback is `failed`.
    case gaveUp(attempts: Int, error: String)
}

extension Callback {
    /// The callback stored in a job's row: nil when the job has none (no URL); a status the
    /// build does not know reads as `pending`.
    init?(url: String?, status: String?, attempts: Int, lastError: String?) {
        guard let url else { return nil }
        self.init(url: url, status: status.flatMap(CallbackStatus.init(rawValue:)) ?? .pending, attempts: attempts, lastError: lastError)
    }
}

extension DeliveryOutcome {
    /// What the job's `callback` columns say after this attempt.
    var callback: (status: CallbackStatus, attempts: Int, error: String?) {
        switch self {
        case .delivered(let attempts): (.delivered, attempts, nil)
        case .retry(_, let attempts, let error): (.pending, attempts, error)
        case .gaveUp(let attempts, let error): (.failed, attempts, error)
        }
    }
}
