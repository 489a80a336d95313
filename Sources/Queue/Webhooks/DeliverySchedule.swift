import Foundation

/// When a webhook delivery that failed is tried again: a plain value, so that the retry policy is
/// tested without clocks and the queue only stores the time of the next attempt.
///
/// Attempt 1 goes out as soon as the job finishes. After a failed attempt `n` the delivery waits
/// `first × factor^(n-1)` seconds, at most `cap` — 5 s, 10 s, 20 s … 2560 s, then 1 h each with
/// the defaults — so that a receiver that is briefly down gets its callback quickly, and one that
/// is down for hours is not hammered. Each wait is then spread by ±10 % from a random fraction the
/// caller passes in (jitter after the cap, so that deliveries that failed together during an
/// outage do not all come back in the same second). It gives up when the next attempt would start
/// more than `horizon` (a day by default) after the first one.
public struct DeliverySchedule: Sendable, Equatable {
    /// The wait after the first failed attempt, in seconds.
    public let first: Double
    /// How much longer each wait is than the one before.
    public let factor: Double
    /// The longest wait (before jitter), in seconds.
    public let cap: Double
    /// No attempt starts later than this many seconds after the first.
    public let horizon: Double

    /// How far jitter moves a wait, as a fraction of it, either way.
    static let jitterSpread = 0.1

    /// Every value must be finite, `first` and `cap` positive and `factor` at least 1 (a wait
    /// never shrinks); these are the service's constants, not user input.
    public init(first: Double = 5, factor: Double = 2, cap: Double = 3600, horizon: Double = 86_400) {
        precondition(first.isFinite && first > 0, "DeliverySchedule: first must be positive and finite")
        precondition(factor.isFinite && factor >= 1, "DeliverySchedule: factor must be at least 1")
        precondition(cap.isFinite && cap > 0, "DeliverySchedule: cap must be positive and finite")
        precondition(horizon.isFinite && horizon >= 0, "DeliverySchedule: horizon must be finite and not negative")
        self.first = first
        self.factor = factor
        self.cap = cap
        self.horizon = horizon
    }

    /// Seconds to wait after failed attempt `attempt` (1-based; below 1 counts as 1), which started
    /// `elapsed` seconds after the first attempt, or nil when it is time to give up: when the next
    /// attempt, `elapsed` + the wait after the first, would start later than `horizon`. (A caller
    /// that passes the time of the failure instead of the attempt's start judges the horizon a
    /// little more exactly.)
    /// - Parameter jitter: a random fraction in 0..<1; 0.5 leaves the wait as it is, 0 makes it
    ///   10 % shorter, towards 1 up to 10 % longer. Values outside 0...1 are clamped.
    public func delay(afterAttempt attempt: Int, elapsed: Double, jitter: Double) -> Double? {
        guard elapsed.isFinite else { return nil }
        let fraction = jitter.isFinite ? min(max(jitter, 0), 1) : 0.5
        let wait = baseDelay(afterAttempt: max(attempt, 1)) * (1 + Self.jitterSpread * 2 * (fraction - 0.5))
        return max(elapsed, 0) + wait > horizon ? nil : wait
    }

    /// The wait before jitter: `first × factor^(attempt-1)`, at most `cap`. A power rather than a
    /// loop, so that a huge attempt number costs nothing (it overflows to infinity, then `cap`).
    func baseDelay(afterAttempt attempt: Int) -> Double {
        min(cap, first * pow(factor, Double(attempt - 1)))
    }

    /// How many attempts fit in the horizon without jitter, the first one included (33 with the
    /// defaults: 11 in the first 5115 s, then 22 an hour apart). With jitter a few more or fewer
    /// may fit.
    public var maximumAttempts: Int {
        var attempts = 1
        var elapsed = 0.0
        while let wait = delay(afterAttempt: attempts, elapsed: elapsed, jitter: 0.5) {
            elapsed += wait
            attempts += 1
        }
        return attempts
    }
}
