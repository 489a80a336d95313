import Foundation
import Glibc

/// Runs a program of the host (`iptables`, `squid`, `openssl`) from the worker's `PATH` and
/// waits for it off the cooperative thread pool.
struct HostCommand: Sendable {
    /// Why the program could not run or failed: the command and what it printed.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Where programs are looked up; the system directories come last, for a worker started
    /// with a bare `PATH`.
    var searchPath: String = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"

    /// The program's path, or nil when `searchPath` has none of that name (a path is its own).
    func locate(_ tool: String) -> String? {
        if tool.contains("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
        return searchPath.split(separator: ":").map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `tool` with `input` on its standard input; its standard output, or a failure quoting
    /// its standard error.
    func run(_ tool: String, _ arguments: [String], input: String? = nil) async throws(Failure) -> String {
        guard let executable = locate(tool) else {
            throw Failure(description: "\(tool) was not found (PATH \(searchPath)); install it on the engine's host")
        }
        let outcome: Result<String, Failure> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Self.runBlocking(executable, arguments, input: input))
            }
        }
        return try outcome.get()
    }

    /// Spawns the program with standard input, output and error in unlinked temporary files
    /// rather than pipes, and no other descriptor of the worker, then waits for it. Not with
    /// Foundation's `Process`: a program that daemonises (squid) left `waitUntilExit` hanging
    /// forever after it exited, measured here.
    private static func runBlocking(_ executable: String, _ arguments: [String], input: String?) -> Result<String, Failure> {
        let command = ([executable] + arguments).joined(separator: " ")
        func failure(_ what: String) -> Result<String, Failure> {
            .failure(Failure(description: "\(command): \(what): \(String(cString: strerror(errno)))"))
        }
        guard let stdin = temporaryFile(containing: input ?? "") else { return failure("no temporary file") }
        defer { close(stdin) }
        guard let stdout = temporaryFile(containing: "") else { return failure("no temporary file") }
        defer { close(stdout) }
        guard let stderr = temporaryFile(containing: "") else { return failure("no temporary file") }
        defer { close(stderr) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        // and nothing else of the worker's: a descriptor opened without close-on-exec (Foundation's
        // atomic writes do) would otherwise live on in a daemon such as squid
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        // The worker blocks or ignores signals it handles itself (SIGTERM, SIGINT), and a child
        // inherits both: squid then never heard its `-k shutdown`. The child starts with none
        // blocked and every signal at its default.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        var allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        // Only what the tools need: the worker's own environment may hold secrets (API keys, a
        // database URL), which squid and its helpers have no business with.
        let environment: [UnsafeMutablePointer<CChar>?] = Self.environment.map { strdup($0) } + [nil]
        defer { for variable in environment { free(variable) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, environment)
        guard spawned == 0 else {
            errno = spawned
            return failure("could not start")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { return failure("could not wait for it") }
        }
        let printed = contents(of: stdout)
        guard status == 0 else {
            let message = contents(of: stderr).trimmingCharacters(in: .whitespacesAndNewlines)
            let code = (status & 0x7f) == 0 ? "exited with \((status >> 8) & 0xff)" : "was killed by signal \(status & 0x7f)"
            return .failure(Failure(description: "\(command) \(code): \(message)"))
        }
        return .success(printed)
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc
    /// module does not declare; nil on an older C library.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(
            symbol,
            to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self
        )
    }()

    /// The environment every program runs with.
    static let environment = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"]

    /// A new temporary file, already unlinked, holding `text`, positioned at its start.
    private static func temporaryFile(containing text: String) -> Int32? {
        var template = Array("/tmp/code-runner-command.XXXXXX".utf8CString)
        let descriptor = mkstemp(&template)
        guard descriptor >= 0 else { return nil }
        unlink(template)
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        let bytes = Array(text.utf8)
        guard bytes.isEmpty || write(descriptor, bytes, bytes.count) == bytes.count, lseek(descriptor, 0, SEEK_SET) == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    /// All of a file's bytes, from its start.
    private static func contents(of descriptor: Int32) -> String {
        lseek(descriptor, 0, SEEK_SET)
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            guard count > 0 else { break }
            data += buffer[0..<count]
        }
        return String(decoding: data, as: UTF8.self)
    }
}
