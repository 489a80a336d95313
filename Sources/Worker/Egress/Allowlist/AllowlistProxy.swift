import Foundation
import Glibc

/// The deployment's allowlist proxy on this host: one squid (Debian's `squid-openssl`, for the
/// TLS server-name check) that every worker of the deployment on this host shares, configured by
/// `ProxyConfiguration`, listening on the allowlist bridge's gateway. The first worker that needs
/// it starts it; a worker that finds its configuration changed (new gateway, new settings, an
/// edited hosts file) rewrites it and has it reload; the last worker of the deployment to stop
/// shuts it down with the network (`EgressGuard.removeNetwork`). Starting and reloading happen
/// under a lock file, so workers starting together start one squid.
///
/// Squid drops to a user of its own, `code-runner-proxy` (`scripts/setup-host.sh` creates it),
/// whose every IPv6 connection but over loopback the kernel refuses (an `ip6tables` rule on
/// `OUTPUT` matching the user, installed before squid starts): the egress ceiling is IPv4's, and
/// squid's `dst ipv6` keyword leaves out `::1`. Its directory (`/run/code-runner-proxy/<deployment>`) belongs to
/// that user: configuration, certificate (made with `openssl` at first start: ssl-bump needs
/// one even to only peek), pid file, log, and `grants/`, where each allowlisted run's grant is a
/// file (`ProxyGrantFile`).
struct AllowlistProxy: Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The port the proxy listens on, on the allowlist bridge's gateway only.
    static let port = 23128
    /// The user squid runs as: its own, so that the kernel rule on its IPv6 touches nothing else.
    static let user = "code-runner-proxy"

    let directory: String
    /// Squid's service name (`-n`): it names squid's shared-memory segments, which two
    /// deployments' proxies on one host must not share.
    let serviceName: String
    var commands = HostCommand()

    init(deploymentID: String, root: String = "/run/code-runner-proxy") {
        directory = root + "/" + deploymentID
        serviceName =
            "cr" + String(deploymentID.unicodeScalars.filter { $0.isASCII && $0.properties.isAlphabetic || ("0"..."9").contains($0) }.prefix(30))
    }

    /// `squid -n <service> -f <configuration>` and `arguments`.
    private func squidArguments(_ arguments: [String] = []) -> [String] {
        ["-n", serviceName, "-f", configurationPath] + arguments
    }

    var grantsDirectory: String { directory + "/grants" }
    /// What allowlisted sandboxes find in `/etc/resolv.conf`: their own loopback, where nothing
    /// answers, so a lookup fails at once; the proxy resolves the names they ask it for.
    var resolvConfPath: String { directory + "/resolv.conf" }
    static let resolvConfText =
        "# Allowlisted runs reach their hosts through HTTP_PROXY/HTTPS_PROXY, which resolves names.\nnameserver 127.0.0.1\noptions attempts:1\n"
    private var configurationPath: String { directory + "/squid.conf" }

    /// Makes the proxy run with `configuration`, started or reloaded as needed, and returns once it
    /// accepts connections.
    func ensureRunning(_ configuration: ProxyConfiguration) async throws(Failure) {
        guard let squid = commands.locate("squid") else {
            throw Failure(description: "squid was not found; install Debian's squid-openssl on the engine's host (scripts/setup-host.sh does)")
        }
        let owner = try Self.owner()
        try await refuseIPv6(of: owner.uid)
        try prepareDirectory(owner: owner)
        let lock = try await Self.lock(directory + "/lock")
        defer { close(lock) }
        if (try? String(contentsOfFile: resolvConfPath, encoding: .utf8)) != Self.resolvConfText {
            // a bind mount whose source was missing (the directory removed under a starting
            // container) leaves a directory there, made by the engine
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: resolvConfPath, isDirectory: &isDirectory), isDirectory.boolValue {
                try? FileManager.default.removeItem(atPath: resolvConfPath)
            }
            do {
                try Self.resolvConfText.write(toFile: resolvConfPath, atomically: true, encoding: .utf8)
                chmod(resolvConfPath, 0o644)
            } catch {
                throw Failure(description: "could not write \(resolvConfPath): \(error)")
            }
        }
        if !FileManager.default.fileExists(atPath: configuration.certificatePath) {
            try await makeCertificate(at: configuration.certificatePath, owner: owner)
        }
        let text = configuration.text
        let changed = (try? String(contentsOfFile: configurationPath, encoding: .utf8)) != text
        if changed {
            do {
                try text.write(toFile: configurationPath, atomically: true, encoding: .utf8)
            } catch {
                throw Failure(description: "could not write \(configurationPath): \(error)")
            }
        }
        do {
            if runningPID() == nil {
                _ = try await commands.run(squid, squidArguments())
            } else if changed {
                _ = try await commands.run(squid, squidArguments(["-k", "reconfigure"]))
            }
        } catch {
            throw Failure(description: "squid did not start: \(error)\(logTail())")
        }
        try await waitUntilAccepting(configuration)
    }

    /// Writes a grant for a run and returns its token.
    func grant(_ hosts: [String], lifetimeSeconds: Int) throws(Failure) -> String {
        let token = Self.newToken()
        let file = ProxyGrantFile(hosts: hosts, expires: Date().timeIntervalSince1970 + Double(lifetimeSeconds))
        let path = grantsDirectory + "/" + token
        do {
            let data = try JSONEncoder().encode(file)
            try data.write(to: URL(fileURLWithPath: path + ".new"), options: .atomic)
            let owner = try Self.owner()
            guard chown(path + ".new", owner.uid, owner.gid) == 0, chmod(path + ".new", 0o600) == 0,
                rename(path + ".new", path) == 0
            else {
                throw Failure(description: "could not hand the grant \(path) to squid's user: \(String(cString: strerror(errno)))")
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "could not write the grant \(path): \(error)")
        }
        return token
    }

    /// Deletes a grant; the proxy refuses its token from the next request on (after at most the
    /// helpers' 5 s cache).
    func revoke(token: String) {
        guard ProxyGrantFile.isToken(token) else { return }
        unlink(grantsDirectory + "/" + token)
    }

    /// Deletes the grants that have lapsed (left by a worker that died mid-run); how many.
    @discardableResult
    func removeLapsedGrants(now: Date = Date()) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: grantsDirectory)) ?? []
        var removed = 0
        for name in names where ProxyGrantFile.isToken(name) {
            if ProxyGrantFile.load(token: name, in: grantsDirectory, now: now) == nil {
                unlink(grantsDirectory + "/" + name)
                removed += 1
            }
        }
        return removed
    }

    /// Shuts the proxy down, if it runs, waits for it to exit, and removes its directory.
    func stop() async throws(Failure) {
        if let pid = runningPID() {
            if commands.locate("squid") != nil {
                _ = try? await commands.run("squid", squidArguments(["-k", "shutdown"]))
            } else {
                kill(pid, SIGTERM)
            }
            let deadline = ContinuousClock.now + .seconds(15)
            while Self.isSquid(pid), ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(50))
            }
            if Self.isSquid(pid) {
                kill(pid, SIGKILL)
                killRemaining()
                throw Failure(description: "squid (pid \(pid)) did not shut down within 15 s; killed")
            }
        }
        killRemaining()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Kills what is left of this proxy's processes (a kid whose master was killed keeps its
    /// port): every process whose command line names this service (`-n <service>`).
    private func killRemaining() {
        let marker = " -n \(serviceName) "
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), pid != getpid(),
                let commandLine = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { continue }
            // arguments are NUL-separated, unless squid rewrote them as one line
            let text = String(decoding: commandLine.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self) + " "
            if text.contains(marker) { kill(pid, SIGKILL) }
        }
    }

    /// The pid of the running proxy, from its pid file, if that process is a squid.
    func runningPID() -> pid_t? {
        guard let text = try? String(contentsOfFile: directory + "/squid.pid", encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0, Self.isSquid(pid)
        else { return nil }
        return pid
    }

    private static func isSquid(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM,
            let name = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)
        else { return false }
        return name.hasPrefix("squid")
    }

    /// Polls a TCP connection to the proxy until one is accepted (squid opens its port a moment
    /// after it daemonised, and again after a reload); at most 15 s.
    private func waitUntilAccepting(_ configuration: ProxyConfiguration) async throws(Failure) {
        let deadline = ContinuousClock.now + .seconds(15)
        while !Self.accepts(configuration.listenAddress, configuration.port) {
            guard ContinuousClock.now < deadline else {
                throw Failure(description: "squid does not accept connections on \(configuration.listenAddress):\(configuration.port)\(logTail())")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private static func accepts(_ address: String, _ port: Int) -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, address, &target.sin_addr) == 1 else { return false }
        return withUnsafePointer(to: &target) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private func logTail() -> String {
        guard let log = try? String(contentsOfFile: directory + "/cache.log", encoding: .utf8) else { return "" }
        let lines = log.split(separator: "\n").suffix(5).joined(separator: " | ")
        return lines.isEmpty ? "" : " (cache.log: \(lines))"
    }

    private func prepareDirectory(owner: (uid: uid_t, gid: gid_t)) throws(Failure) {
        for path in [directory, grantsDirectory] {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw Failure(description: "could not create \(path): \(error)")
            }
            guard chown(path, owner.uid, owner.gid) == 0, chmod(path, 0o700) == 0 else {
                throw Failure(description: "could not hand \(path) to squid's user: \(String(cString: strerror(errno)))")
            }
        }
    }

    private func makeCertificate(at path: String, owner: (uid: uid_t, gid: gid_t)) async throws(Failure) {
        let key = directory + "/proxy.key"
        let certificate = directory + "/proxy.crt"
        do {
            _ = try await commands.run(
                "openssl",
                [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
                    "-subj", "/CN=code-runner allowlist proxy", "-keyout", key, "-out", certificate,
                ]
            )
            let pem = try String(contentsOfFile: certificate, encoding: .utf8) + String(contentsOfFile: key, encoding: .utf8)
            try pem.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw Failure(description: "could not make the proxy's certificate: \(error)")
        }
        unlink(key)
        unlink(certificate)
        guard chown(path, owner.uid, owner.gid) == 0, chmod(path, 0o600) == 0 else {
            throw Failure(description: "could not hand \(path) to squid's user: \(String(cString: strerror(errno)))")
        }
    }

    /// Makes the kernel refuse every IPv6 connection of squid's user but over loopback (where
    /// squid reaches its own helpers; the host's addresses there are refused by squid itself,
    /// `ProxyConfiguration`), unless the host has no IPv6 at all.
    private func refuseIPv6(of uid: uid_t) async throws(Failure) {
        guard FileManager.default.fileExists(atPath: "/proc/net/if_inet6") else { return }
        let rule = ["OUTPUT", "!", "-o", "lo", "-m", "owner", "--uid-owner", "\(uid)", "-j", "REJECT"]
        do {
            if (try? await commands.run("ip6tables", ["-w", "-C"] + rule)) == nil {
                _ = try await commands.run("ip6tables", ["-w", "-I"] + rule)
            }
        } catch {
            throw Failure(description: "could not refuse IPv6 to squid's user: \(error)")
        }
    }

    private static func owner() throws(Failure) -> (uid: uid_t, gid: gid_t) {
        guard let entry = getpwnam(user) else {
            throw Failure(description: "squid's user '\(user)' does not exist; scripts/setup-host.sh creates it (useradd --system \(user))")
        }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }

    /// Opens and locks `path`, waiting (off the cooperative pool) for another worker that holds
    /// it; close the result to release it.
    private static func lock(_ path: String) async throws(Failure) -> Int32 {
        let outcome: Result<Int32, Failure> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
                guard descriptor >= 0 else {
                    return continuation.resume(
                        returning: .failure(Failure(description: "could not open \(path): \(String(cString: strerror(errno)))"))
                    )
                }
                guard flock(descriptor, LOCK_EX) == 0 else {
                    let reason = String(cString: strerror(errno))
                    close(descriptor)
                    return continuation.resume(returning: .failure(Failure(description: "could not lock \(path): \(reason)")))
                }
                continuation.resume(returning: .success(descriptor))
            }
        }
        return try outcome.get()
    }

    private static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
