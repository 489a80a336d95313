import Queue

/// Whether networked runs can start, from what the workers report (`WorkerStatus.egressProblem`):
/// they can when a live, engine-connected worker has its egress policy in force. Otherwise they
/// are refused with 503 and the reason, never run on an unpoliced network.
enum EgressAvailability: Equatable {
    /// A worker can start networked runs.
    case enforced
    /// No connected worker can; the first one's reason.
    case unavailable(String)
    /// No worker is connected to an engine: nothing is known.
    case unknown

    init(workers: [WorkerStatus]) {
        let connected = workers.filter(\.dockerConnected)
        if connected.isEmpty {
            self = .unknown
        } else if connected.contains(where: { $0.egressProblem == nil }) {
            self = .enforced
        } else {
            self = .unavailable(connected.compactMap(\.egressProblem).first ?? "no worker has its egress policy in force")
        }
    }

    /// `/health`'s `egress` value.
    var name: String {
        switch self {
        case .enforced: "enforced"
        case .unavailable: "unavailable"
        case .unknown: "unknown"
        }
    }

    /// The 503 a networked run or a prebuild gets when no worker can start it.
    func refusal(of what: String) -> APIError? {
        guard case .unavailable(let problem) = self else { return nil }
        return APIError(.serviceUnavailable, "\(what) are unavailable: \(problem)")
    }
}
