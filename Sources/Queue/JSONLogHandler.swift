import Foundation
import Logging

/// A log handler that writes one JSON object per line to standard error (`LOG_FORMAT=json`):
/// `{"ts":"2026-11-26T23:59:01.123Z","level":"info","logger":"code-runner.api","msg":"…",…}`
/// with every metadata key as a further field (nested values as their description). One
/// `write` per line, so lines from concurrent tasks never interleave.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    public init(label: String, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        var line = "{\"ts\":\"\(Self.timestamp())\",\"level\":\"\(event.level.rawValue)\",\"logger\":"
        line += Self.quoted(label) + ",\"msg\":" + Self.quoted(event.message.description)
        for key in fields.keys.sorted() where !["ts", "level", "logger", "msg"].contains(key) {
            line += "," + Self.quoted(key) + ":" + Self.quoted(fields[key].map(Self.text) ?? "")
        }
        line += "}\n"
        line.withUTF8 { bytes in
            var remaining = UnsafeRawBufferPointer(bytes)
            while !remaining.isEmpty {
                let written = Foundation.write(STDERR_FILENO, remaining.baseAddress, remaining.count)
                if written <= 0 { break }
                remaining = UnsafeRawBufferPointer(rebasing: remaining[written...])
            }
        }
    }

    /// A metadata value as plain text.
    static func text(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        default: value.description
        }
    }

    /// A JSON string literal (RFC 8259 escaping).
    static func quoted(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Now, in UTC with milliseconds.
    static func timestamp() -> String {
        Date.now.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}

/// How both executables set up swift-log from `LOG_LEVEL` and `LOG_FORMAT`.
public enum LogOutput {
    /// Bootstraps swift-log once for this process.
    public static func bootstrap(_ settings: ServiceSettings) {
        let level = settings.logLevelValue
        LoggingSystem.bootstrap { label in
            switch settings.logFormat {
            case .json:
                return JSONLogHandler(label: label, level: level)
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}
