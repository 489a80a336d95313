import Foundation
import Logging
import Queue
import Testing

@testable import API

/// `API_KEYS_FILE` (issue 19): its format, every refusal, and reloads of a real file.
struct APIKeyFileTests {
    func parse(_ text: String) throws(APIKeyFile.Invalid) -> [APIKey] { try APIKeyFile.parse(Data(text.utf8)) }

    @Test("a plain key is hashed, a sha256 taken as given; limits and defaults are read")
    func validFile() throws {
        let digest = SHA256.hexDigest(Array("second".utf8))
        let keys = try parse(
            """
            {"keys": [
              {"name": "team-a", "key": "first"},
              {"name": "team.b_2", "sha256": "\(digest.uppercased())", "max_running": 4, "max_queued": 200,
               "runs_per_minute": 600, "max_timeout": 30, "max_memory_mb": 512, "max_cpus": 1.5,
               "allow_network": true, "priority": 3}
            ]}
            """
        )
        #expect(keys.count == 2)
        #expect(
            keys[0]
                == APIKey(name: "team-a", owner: "key:" + SHA256.hexDigest(Array("first".utf8)), limits: KeyLimits(allowNetwork: false, priority: 1))
        )
        #expect(keys[1].owner == "key:" + digest)
        #expect(
            keys[1].limits
                == KeyLimits(
                    maxRunning: 4,
                    maxQueued: 200,
                    runsPerMinute: 600,
                    maxTimeout: 30,
                    maxMemoryMB: 512,
                    maxCPUs: 1.5,
                    allowNetwork: true,
                    priority: 3
                )
        )
        #expect(keys[1].limits.quota == OwnerQuota(maxQueued: 200, runsPerMinute: 600))
        #expect(keys[0].limits.quota == nil)
    }

    @Test(
        "every malformed file is refused with the place of its problem",
        arguments: [
            ("[]", #"must be an object with a "keys" array"#),
            (#"{"keys": [], "extra": 1}"#, "unknown field 'extra'"),
            (#"{"keys": [{"name": "a", "key": "k", "max_runing": 2}]}"#, "keys[0]: unknown field 'max_runing'"),
            (#"{"keys": [{"name": "a b", "key": "k"}]}"#, "keys[0].name: must be 1 to 64 characters"),
            (#"{"keys": [{"name": "a"}]}"#, "keys[0]: give exactly one of 'key' or 'sha256'"),
            (#"{"keys": [{"name": "a", "key": "k", "sha256": "00"}]}"#, "keys[0]: give exactly one of 'key' or 'sha256'"),
            (#"{"keys": [{"name": "a", "sha256": "abc"}]}"#, "keys[0].sha256: must be 64 hexadecimal digits"),
            (#"{"keys": [{"name": "a", "key": ""}]}"#, "keys[0].key: must not be empty"),
            (#"{"keys": [{"name": "a", "key": "k", "max_running": 0}]}"#, "keys[0].max_running: must be an integer of at least 1"),
            (#"{"keys": [{"name": "a", "key": "k", "max_timeout": "30"}]}"#, "keys[0].max_timeout: must be an integer of at least 1"),
            (#"{"keys": [{"name": "a", "key": "k", "max_cpus": 0}]}"#, "keys[0].max_cpus: must be a number above 0"),
            (#"{"keys": [{"name": "a", "key": "k", "allow_network": "yes"}]}"#, "keys[0].allow_network: must be true or false"),
            (#"{"keys": [{"name": "a", "key": "k", "priority": 11}]}"#, "keys[0].priority: must be an integer from 1 to 10"),
            (#"{"keys": [{"name": "a", "key": "k"}, {"name": "a", "key": "l"}]}"#, "keys[1].name: 'a' is used twice"),
            (#"{"keys": [{"name": "a", "key": "k"}, {"name": "b", "key": "k"}]}"#, "keys[1]: the same key as an earlier entry"),
            (#"{"keys": [{"name": "a", "key": "k"}"#, "is not JSON"),
        ]
    )
    func refusals(_ text: String, _ reason: String) {
        do {
            _ = try parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.reason.hasPrefix(reason), "\(error.reason)")
        }
    }

    @Test("a missing file at start is a start-up error naming API_KEYS_FILE")
    func missingAtStart() throws {
        let settings = try ServiceSettings(variables: ["API_KEYS_FILE": "/nonexistent/keys.json"])
        #expect(settings.authEnabled)
        do {
            _ = try KeyRegistry(settings: settings, logger: Logger(label: "test"))
            Issue.record("started without its keys file")
        } catch {
            #expect(error.description.hasPrefix("API_KEYS_FILE /nonexistent/keys.json: cannot be read"))
        }
    }

    @Test("a rewrite is reloaded; a malformed one keeps the last good keys and says why; legacy keys stay", .timeLimit(.minutes(1)))
    func reload() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("keys.json").path
        func write(_ text: String) throws {
            // As an editor saves: a new file renamed over the old one.
            let temporary = path + ".tmp"
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        }
        try Data(#"{"keys": [{"name": "first", "key": "one"}]}"#.utf8).write(to: URL(fileURLWithPath: path))
        let settings = try ServiceSettings(variables: ["API_KEYS_FILE": path, "CODE_RUNNER_API_KEYS": "legacy", "AUTH_TOKEN": "tok"])
        let registry = try KeyRegistry(settings: settings, logger: Logger(label: "test"))
        #expect(registry.status.source == .file && registry.status.keys == 3 && registry.status.error == nil)
        #expect(registry.apiKey(Array("one".utf8))?.name == "first")
        #expect(registry.bearer(Array("one".utf8))?.name == "first")
        #expect(registry.apiKey(Array("legacy".utf8))?.name == "key-1")
        #expect(registry.bearer(Array("legacy".utf8)) == nil)
        #expect(registry.bearer(Array("tok".utf8))?.owner == "token:" + SHA256.hexDigest(Array("tok".utf8)))

        var reloads = registry.reloads().makeAsyncIterator()
        registry.watch()
        try write(#"{"keys": [{"name": "first", "key": "one"}, {"name": "second", "key": "two", "max_running": 2}]}"#)
        while registry.apiKey(Array("two".utf8)) == nil { _ = await reloads.next() }
        #expect(registry.status.keys == 4)
        #expect(registry.keys.map(\.tenant).contains(Tenant(owner: "key:" + SHA256.hexDigest(Array("two".utf8)), name: "second", maxRunning: 2)))

        try write(#"{"keys": [{"name": "first", "key": "one", "priority": 99}]}"#)
        while registry.status.error == nil { _ = await reloads.next() }
        #expect(registry.status.error == "keys[0].priority: must be an integer from 1 to 10")
        #expect(registry.apiKey(Array("two".utf8))?.name == "second")

        try write(#"{"keys": [{"name": "third", "key": "three"}]}"#)
        while registry.status.error != nil { _ = await reloads.next() }
        #expect(registry.apiKey(Array("two".utf8)) == nil)
        #expect(registry.apiKey(Array("three".utf8))?.name == "third")
        #expect(registry.status.keys == 3)
    }
}
