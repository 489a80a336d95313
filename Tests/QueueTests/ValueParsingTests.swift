import Foundation
import Queue
import Testing

struct ValueParsingTests {
    @Test(arguments: [
        ("256m", Int64(268_435_456)), ("256MB", 268_435_456), ("1g", 1_073_741_824), ("1.5g", 1_610_612_736),
        ("1048576", 1_048_576), ("64k", 65_536), ("10b", 10),
    ])
    func dockerSizes(text: String, bytes: Int64) {
        #expect(ByteSize.parse(text) == bytes)
    }

    @Test(arguments: ["", "lots", "1t", "-5m", "10m,mode=777", "m", "1.2.3m", "64m ", " 64m", "64 m", "64m\n", "\t1g", "1e3", "+5m"])
    func invalidSizes(text: String) {
        #expect(ByteSize.parse(text) == nil)
    }

    @Test func sha256KnownVectors() {
        #expect(SHA256.hexDigest(Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hexDigest(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hexDigest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        )
    }

    @Test func seedStartupMessages() {
        #expect(throws: InvalidConfiguration.self) { try ServiceSettings(variables: ["DEFAULT_TIMEOUT": "0"]) }
        do {
            _ = try ServiceSettings(variables: ["DEFAULT_TIMEOUT": "0", "MAX_DISK_MB": "0"])
        } catch {
            #expect(error.description.hasPrefix("Invalid configuration:\n"))
            #expect(error.problems.contains("DEFAULT_TIMEOUT must be positive"))
            #expect(error.problems.contains("MAX_DISK_MB must be positive"))
        }
        do {
            _ = try ServiceSettings(variables: ["PORT": "abc"])
        } catch {
            #expect(error.problems == ["PORT must be an integer, got 'abc'"])
        }
    }

    @Test func settingsDefaultsAndKeys() throws {
        let settings = try ServiceSettings(variables: ["CODE_RUNNER_API_KEYS": " a, ,b ", "AUTH_TOKEN": ""])
        #expect(settings.apiKeys == ["a", "b"])
        #expect(settings.authToken == nil)
        #expect(settings.authEnabled)
        #expect(settings.defaultMemoryBytes == 256 * 1024 * 1024)
        #expect(settings.workerConcurrency == 2)
        #expect(settings.liveOutput)
    }

    @Test("LIVE_OUTPUT: on or off (and the usual spellings); anything else is a start-up problem")
    func liveOutputSetting() throws {
        #expect(try ServiceSettings(variables: ["LIVE_OUTPUT": "off"]).liveOutput == false)
        #expect(try ServiceSettings(variables: ["LIVE_OUTPUT": " FALSE "]).liveOutput == false)
        #expect(try ServiceSettings(variables: ["LIVE_OUTPUT": "on"]).liveOutput)
        do {
            _ = try ServiceSettings(variables: ["LIVE_OUTPUT": "sometimes"])
            Issue.record("LIVE_OUTPUT=sometimes was accepted")
        } catch {
            #expect(error.problems == ["LIVE_OUTPUT must be on or off, got 'sometimes'"])
        }
    }
}

/// Stored results keep the program's metadata as JSON text, read back in linear time.
struct StoredResultTests {
    @Test("metadata round-trips as text; results stored with the old shape still decode")
    func metadataRoundTrip() throws {
        let metadata = JSONValue.object(["score": .number(0.5), "tags": .array([.string("a"), .integer(2), .null, .bool(true)])])
        let result = RunResult(stdout: "o", stderr: "e", exitCode: 3, executionTime: 0.25, metadata: metadata, timedOut: true)
        let stored = try JSONEncoder().encode(result)
        let object = try #require(try JSONSerialization.jsonObject(with: stored) as? [String: Any])
        #expect(object["metadataJSON"] is String && object["metadata"] == nil)
        #expect(try JSONDecoder().decode(RunResult.self, from: stored) == result)
        #expect(
            try JSONDecoder().decode(RunResult.self, from: JSONEncoder().encode(RunResult(stdout: "", stderr: "", exitCode: 0, executionTime: 0)))
                .metadata == nil
        )
        let legacy =
            #"{"stdout":"","stderr":"","exitCode":0,"executionTime":0,"metadata":{"a":[1,2]},"timedOut":false,"oomKilled":false,"stdoutTruncated":false,"stderrTruncated":false}"#
        #expect(try JSONDecoder().decode(RunResult.self, from: Data(legacy.utf8)).metadata == .object(["a": .array([.integer(1), .integer(2)])]))
    }

    @Test("a megabyte of 64-deep metadata is read back at once (it took tens of seconds through Decodable)")
    func deepMetadataReadsFast() throws {
        let unit = String(repeating: "[", count: 63) + "1" + String(repeating: "]", count: 63)
        let text = "[" + Array(repeating: unit, count: 1_000_000 / unit.utf8.count).joined(separator: ",") + "]"
        let metadata = try #require(JSONValue.parse(Data(text.utf8)))
        let stored = try JSONEncoder().encode(RunResult(stdout: "", stderr: "", exitCode: 0, executionTime: 0, metadata: metadata))
        let started = ContinuousClock.now
        let decoded = try JSONDecoder().decode(RunResult.self, from: stored)
        #expect(decoded.metadata == metadata)
        // Generous: the linear parser needs well under a second for this on any machine here.
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("WORKER_HOST: the machine's host name by default, a label-safe name when set, a start-up error otherwise")
    func workerHost() throws {
        #expect(ServiceSettings().workerHost == ServiceSettings.machineHostName)
        #expect(!ServiceSettings.machineHostName.isEmpty)
        #expect(try ServiceSettings(variables: ["WORKER_HOST": " wk1.example_2 "]).workerHost == "wk1.example_2")
        #expect(try ServiceSettings(variables: ["WORKER_HOST": " "]).workerHost == ServiceSettings.machineHostName)
        for bad in ["has space", "a\"b", String(repeating: "x", count: 64), "ünicode"] {
            do {
                _ = try ServiceSettings(variables: ["WORKER_HOST": bad])
                Issue.record("WORKER_HOST '\(bad)' was accepted")
            } catch {
                #expect(error.problems.contains { $0.hasPrefix("WORKER_HOST must be 1-63 letters") }, "\(error.problems)")
            }
        }
    }
}
