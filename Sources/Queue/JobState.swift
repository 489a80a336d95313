import GRDB

/// Where a job is in its life: `queued → running → completed | failed | cancelled`, and
/// `running → queued` again when its lease is lost and attempts remain.
///
/// `completed` means the program ran, whatever its exit code (timeouts and OOM kills included);
/// `failed` means the system could not run it; `cancelled` came from `DELETE /jobs/{id}`.
///
/// In SQL a state is always written into the statement's text as a string literal, through
/// `\(state:)` / `\(states:)` (below), never bound as a `?` argument — which is why `JobState`
/// does not conform to GRDB's `DatabaseValueConvertible`.
public enum JobState: String, Codable, Sendable, CaseIterable {
    case queued
    case running
    case completed
    case failed
    case cancelled

    /// Whether the job has ended and will not change again.
    public var isFinal: Bool {
        switch self {
        case .queued, .running: false
        case .completed, .failed, .cancelled: true
        }
    }

    /// The states of a finished job, in declaration order: `completed, failed, cancelled`, the
    /// list of the `jobs_finished` index.
    static let finalStates = allCases.filter(\.isFinal)

    /// The state as an SQL string literal: `'queued'`. Raw values are lowercase words, so
    /// there is nothing to escape (a test checks).
    var sqlLiteral: String { "'\(rawValue)'" }
}

/// Why states are literals rather than bound values: the partial indexes of `jobs` are declared
/// with literal states (`WHERE state = 'queued'`), and SQLite uses such an index for a query with
/// `state = ?` only by looking at the bound value — after which it re-prepares the statement every
/// time that parameter is bound again (SQLite 3.40: 100 re-prepares in 100 runs of a claim), which
/// defeats the statement cache. A literal keeps the text constant (there are five states) and the
/// plan fixed; `JobStatementsTests` checks that the claim is never re-prepared.
extension SQLInterpolation {
    /// Appends `state` as an SQL string literal: `state = \(state: .queued)` is `state = 'queued'`.
    mutating func appendInterpolation(state: JobState) {
        appendInterpolation(sql: state.sqlLiteral)
    }

    /// Appends states as a comma-separated list of literals, for `IN (…)`:
    /// `\(states: JobState.finalStates)` is `'completed','failed','cancelled'`.
    mutating func appendInterpolation(states: [JobState]) {
        appendInterpolation(sql: states.map(\.sqlLiteral).joined(separator: ","))
    }
}

/// What a job asks a worker to do.
public enum JobKind: String, Codable, Sendable {
    /// Run code once in a fresh container (`POST /run`, `POST /jobs`).
    case run
    /// Build a prebuilt image from a runtime image and a setup script.
    case prebuild
    /// The scheduled clean-up of old images, orphaned containers and expired jobs.
    case cleanup
    /// POST a finished job's JSON to its `callback_url` (`WebhookDelivery`; made by the store).
    case webhook
}
