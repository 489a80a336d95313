import Foundation
import Testing

@testable import Worker

/// `HostCommand`: how the worker runs `iptables`, `squid` and `openssl` — real programs of this
/// host (`/bin/sh`), no fakes.
struct HostCommandTests {
    let command = HostCommand(searchPath: "/usr/bin:/bin")

    @Test("standard input reaches the program and its standard output comes back")
    func output() async throws {
        let printed = try await command.run("sh", ["-c", "tr a-z A-Z"], input: "allowlist\n")
        #expect(printed == "ALLOWLIST\n")
    }

    @Test("a failure names the command, its exit status and what it printed on standard error")
    func failure() async {
        do {
            _ = try await command.run("sh", ["-c", "echo out; echo 'no such chain' >&2; exit 3"])
            Issue.record("the command failed, yet run returned")
        } catch {
            #expect(error.description.hasSuffix("exited with 3: no such chain"), "\(error.description)")
            #expect(error.description.contains("/bin/sh -c"), "\(error.description)")
        }
    }

    @Test("a program that is not on the search path is named, with the hint to install it")
    func missing() async {
        do {
            _ = try await command.run("no-such-program-here", [])
            Issue.record("run returned for a missing program")
        } catch {
            #expect(error.description.hasPrefix("no-such-program-here was not found (PATH /usr/bin:/bin)"), "\(error.description)")
        }
    }

    @Test("a program that leaves a daemon behind (as squid does) returns when it exits")
    func daemonising() async throws {
        // the daemon keeps the standard streams it inherited: with pipes, reading them to their
        // end waited for the daemon
        let printed = try await command.run("sh", ["-c", "sleep 30 & echo $!"])
        let daemon = try #require(pid_t(printed.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(daemon, 0) == 0)  // still running: run did not wait for it
        kill(daemon, SIGKILL)
    }

    @Test("the program starts with no signal blocked or ignored (squid must hear -k shutdown)")
    func signals() async throws {
        let status = try await command.run("sh", ["-c", "grep -E '^Sig(Blk|Ign):' /proc/self/status"])
        let masks = status.split(separator: "\n").map { UInt64($0.split(separator: "\t").last ?? "", radix: 16) }
        #expect(masks.count == 2, "\(status)")
        #expect(masks.first == 0, "blocked: \(status)")
        // signals 1-31 (SIGTERM and the rest); glibc keeps its own real-time ones (32, 33) as they were
        #expect(masks.last.map { ($0 ?? 1) & 0x7fff_ffff } == 0, "ignored: \(status)")
    }

    @Test("the program gets PATH and LC_ALL only, none of the worker's variables")
    func environment() async throws {
        setenv("CODE_RUNNER_TEST_SECRET", "do-not-pass", 1)
        let printed = try await command.run("sh", ["-c", "env | sort"])
        #expect(!printed.contains("do-not-pass"))
        #expect(printed.contains("LC_ALL=C\n"))
        #expect(printed.contains("PATH=/usr/local/sbin:"))
    }

    @Test("a descriptor of the worker that is not close-on-exec does not reach the program")
    func descriptors() async throws {
        let leaky = open("/dev/null", O_RDONLY)  // no O_CLOEXEC, as Foundation's atomic writes
        defer { close(leaky) }
        #expect(leaky > 2)
        let listed = try await command.run("sh", ["-c", "ls /proc/$$/fd"])
        let open = Set(listed.split(separator: "\n").compactMap { Int32($0) })
        #expect(open.isSuperset(of: [0, 1, 2]))
        #expect(!open.contains(leaky), "\(listed)")
    }
}
