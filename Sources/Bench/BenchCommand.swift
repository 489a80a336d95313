import ArgumentParser

/// `code-runner-bench`: the measurements of `make bench` and the queue probe of the
/// multi-process queue tests, kept out of the production `code-runner-worker` binary.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "code-runner-bench",
        abstract: "Benchmarks of the service and the queue, and the queue probe of the tests.",
        subcommands: [LatencyBench.self, QueueHopBench.self, QueueProbe.self]
    )
}
