import Foundation
import Queue

/// What the allowlist proxy's helpers read of one grant: the file `<grants>/<token>` that the
/// worker writes before an allowlisted run starts and deletes when it ends
/// (`AllowlistProxy`).
struct ProxyGrantFile: Codable, Sendable, Equatable {
    /// The run's `allowed_hosts`, in their request spelling (`HostPattern`).
    var hosts: [String]
    /// When the grant stops counting even if its file stays (a worker killed mid-run leaves it):
    /// seconds since 1970.
    var expires: Double

    enum CodingKeys: String, CodingKey {
        case hosts
        case expires
    }

    /// True when `name` is a well-formed grant token: 32 lower-case hex digits (so that no
    /// user name a client sends reaches the file system as a path).
    static func isToken(_ name: String) -> Bool {
        name.utf8.count == 32 && name.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// The grant of `token` in `directory`, if it exists, parses and has not expired.
    static func load(token: String, in directory: String, now: Date = Date()) -> ProxyGrantFile? {
        guard isToken(token), let data = FileManager.default.contents(atPath: directory + "/" + token),
            let grant = try? JSONDecoder().decode(ProxyGrantFile.self, from: data),
            grant.expires > now.timeIntervalSince1970
        else { return nil }
        return grant
    }

    /// True when the grant lets a request to `host` (a name or an address) through.
    func allows(host: String) -> Bool {
        hosts.contains { entry in (try? HostPattern.parse(entry).get())?.matches(host: host) == true }
    }
}
