import Foundation
import Queue

/// `API_KEYS_FILE`: named keys with optional limits, as JSON.
///
/// ```json
/// {"keys": [
///   {"name": "team-a", "key": "plain-secret"},
///   {"name": "team-b", "sha256": "<64 hex digits: SHA-256 of the key>", "max_running": 4,
///    "max_queued": 200, "runs_per_minute": 600, "max_timeout": 30, "max_memory_mb": 512,
///    "max_cpus": 1.0, "allow_network": false, "priority": 3}
/// ]}
/// ```
///
/// Each key has a `name` (1–64 of `A–Z a–z 0–9 . _ -`, unique) and exactly one of `key` (plain:
/// hashed on load, never kept) or `sha256`. The limits are optional: integers of at least 1
/// (`max_running`, `max_queued`, `runs_per_minute`, `max_timeout` in seconds, `max_memory_mb`),
/// `max_cpus` a number above 0, `allow_network` (default false: a named key must be allowed
/// the network) and `priority` (1...10, default 1; `FairShare`). Anything else — an unknown
/// field (a misspelt limit would silently be no limit), a duplicate name or key, a wrong type —
/// makes the whole file invalid, with the first problem's place in the message.
enum APIKeyFile {
    struct Invalid: Error, CustomStringConvertible, Equatable {
        var reason: String
        var description: String { reason }
    }

    static let fields: Set<String> = [
        "name", "key", "sha256", "max_running", "max_queued", "runs_per_minute", "max_timeout", "max_memory_mb", "max_cpus",
        "allow_network", "priority",
    ]

    /// Reads and parses the file at `path`.
    static func load(path: String) throws(Invalid) -> [APIKey] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw Invalid(reason: "cannot be read: \(error.localizedDescription)")
        }
        return try parse(data)
    }

    static func parse(_ data: Data) throws(Invalid) -> [APIKey] {
        let document: JSONValue
        do {
            document = try JSONParser.parse(data)
        } catch {
            throw Invalid(reason: "is not JSON: \(error.message) at character \(error.characterOffset)")
        }
        guard case .object(let top) = document, case .array(let entries)? = top["keys"] else {
            throw Invalid(reason: #"must be an object with a "keys" array"#)
        }
        if let extra = top.keys.first(where: { $0 != "keys" }) { throw Invalid(reason: "unknown field '\(extra)'") }
        var keys: [APIKey] = []
        var names: Set<String> = []
        var owners: Set<String> = []
        for (index, entry) in entries.enumerated() {
            let key = try parseKey(entry, at: "keys[\(index)]")
            guard names.insert(key.name).inserted else { throw Invalid(reason: "keys[\(index)].name: '\(key.name)' is used twice") }
            guard owners.insert(key.owner).inserted else {
                throw Invalid(reason: "keys[\(index)]: the same key as an earlier entry")
            }
            keys.append(key)
        }
        return keys
    }

    private static func parseKey(_ entry: JSONValue, at place: String) throws(Invalid) -> APIKey {
        guard case .object(let members) = entry else { throw Invalid(reason: "\(place): must be an object") }
        if let extra = members.keys.sorted().first(where: { !fields.contains($0) }) {
            throw Invalid(reason: "\(place): unknown field '\(extra)'")
        }
        guard case .string(let name)? = members["name"], isValidName(name) else {
            throw Invalid(reason: "\(place).name: must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
        }
        let digest: String
        switch (members["key"], members["sha256"]) {
        case (.string(let plain)?, nil):
            guard !plain.isEmpty else { throw Invalid(reason: "\(place).key: must not be empty") }
            digest = SHA256.hexDigest(Array(plain.utf8))
        case (nil, .string(let hex)?):
            let lowered = hex.lowercased()
            guard lowered.utf8.count == 64, lowered.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
                throw Invalid(reason: "\(place).sha256: must be 64 hexadecimal digits (the SHA-256 of the key)")
            }
            digest = lowered
        case (nil, nil), (.some, .some):
            throw Invalid(reason: "\(place): give exactly one of 'key' or 'sha256'")
        default:
            throw Invalid(reason: "\(place): 'key' and 'sha256' must be strings")
        }
        var limits = KeyLimits(allowNetwork: false, priority: 1)
        limits.maxRunning = try positive(members["max_running"], at: "\(place).max_running")
        limits.maxQueued = try positive(members["max_queued"], at: "\(place).max_queued")
        limits.runsPerMinute = try positive(members["runs_per_minute"], at: "\(place).runs_per_minute")
        limits.maxTimeout = try positive(members["max_timeout"], at: "\(place).max_timeout")
        limits.maxMemoryMB = try positive(members["max_memory_mb"], at: "\(place).max_memory_mb")
        switch members["max_cpus"] {
        case nil: break
        case .integer(let value)? where value > 0: limits.maxCPUs = Double(value)
        case .number(let value)? where value > 0 && value.isFinite: limits.maxCPUs = value
        default: throw Invalid(reason: "\(place).max_cpus: must be a number above 0")
        }
        switch members["allow_network"] {
        case nil: break
        case .bool(let value)?: limits.allowNetwork = value
        default: throw Invalid(reason: "\(place).allow_network: must be true or false")
        }
        switch members["priority"] {
        case nil: break
        case .integer(let value)? where (1...Int64(FairShare.maxPriority)).contains(value): limits.priority = Int(value)
        default: throw Invalid(reason: "\(place).priority: must be an integer from 1 to \(FairShare.maxPriority)")
        }
        return APIKey(name: name, owner: APIKey.owner(ofKeyDigest: digest), limits: limits)
    }

    private static func positive(_ value: JSONValue?, at place: String) throws(Invalid) -> Int? {
        switch value {
        case nil: return nil
        case .integer(let number)? where number >= 1 && number <= Int64(Int32.max): return Int(number)
        default: throw Invalid(reason: "\(place): must be an integer of at least 1")
        }
    }

    /// A name `/metrics` can carry as a label value and a log line as a word.
    static func isValidName(_ name: String) -> Bool { ServiceSettings.isLabelValue(name, maxLength: 64) }
}
