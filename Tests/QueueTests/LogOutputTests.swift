import Foundation
import Logging
import Testing

@testable import Queue

struct LogOutputTests {
    @Test("LOG_FORMAT and LOG_LEVEL are read, aliases accepted, anything else refused")
    func settings() throws {
        #expect(try ServiceSettings(variables: [:]).logFormat == .text)
        #expect(try ServiceSettings(variables: ["LOG_FORMAT": "JSON"]).logFormat == .json)
        #expect(try ServiceSettings(variables: ["LOG_LEVEL": "WARN"]).logLevelValue == .warning)
        #expect(try ServiceSettings(variables: ["LOG_LEVEL": "debug"]).logLevelValue == .debug)
        #expect(throws: InvalidConfiguration.self) { try ServiceSettings(variables: ["LOG_FORMAT": "xml"]) }
        #expect(throws: InvalidConfiguration.self) { try ServiceSettings(variables: ["LOG_LEVEL": "loud"]) }
    }

    @Test("JSON strings are escaped so every line parses, control characters included")
    func quoting() throws {
        let nasty = "a\"b\\c\nd\te\u{01}é"
        let line = "{\"k\":" + JSONLogHandler.quoted(nasty) + "}"
        let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        #expect(parsed?["k"] == nasty)
    }

    @Test("the timestamp is ISO 8601 in UTC with milliseconds")
    func timestamp() {
        let stamp = JSONLogHandler.timestamp()
        #expect(stamp.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(stamp)")
    }
}
