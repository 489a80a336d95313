import Queue

/// The live workers of one host (`WORKER_HOST`), as `/health` lists them and `/metrics` labels
/// them: how many, their slots, how many are busy, how many reach their engine.
struct HostSummary: Encodable, Equatable, Sendable {
    var host: String
    var workers: Int
    var slots: Int
    var busy: Int
    var dockerConnected: Int

    enum CodingKeys: String, CodingKey {
        case host
        case workers
        case slots
        case busy
        case dockerConnected = "docker_connected"
    }

    /// One summary per host among `workers`, by host name.
    static func summaries(of workers: [WorkerStatus]) -> [HostSummary] {
        Dictionary(grouping: workers, by: \.host).map { host, members in
            HostSummary(
                host: host,
                workers: members.count,
                slots: members.reduce(0) { $0 + $1.slots },
                busy: members.reduce(0) { $0 + $1.busy },
                dockerConnected: members.filter(\.dockerConnected).count
            )
        }
        .sorted { $0.host < $1.host }
    }
}
