import Foundation

/// The allowlist proxy's helpers: squid starts them (`code-runner-worker proxy-helper <mode>
/// <grants>`, see `ProxyConfiguration`) and writes one question a line; each answer is `OK` or
/// `ERR` on a line of its own. Squid %-encodes the fields and separates them with spaces.
///
/// | mode | squid sends | OK when |
/// |---|---|---|
/// | `auth` | user, password | the user is a live grant's token (the password is not a secret: `ProxyGrant.password`) |
/// | `host` | user, requested host, `-` | the grant allows the host |
/// | `sni` | user, TLS server name or `-`, `-` | the hello named no server, or the grant allows the one it named |
public enum ProxyHelper {
    public enum Mode: String, CaseIterable, Sendable {
        case auth
        case host
        case sni
    }

    /// The answer to one line.
    static func answer(_ line: Substring, mode: Mode, grantsDirectory: String, now: Date = Date()) -> String {
        let fields = line.split(separator: " ").map { $0.removingPercentEncoding ?? String($0) }
        guard let token = fields.first, let grant = ProxyGrantFile.load(token: token, in: grantsDirectory, now: now) else {
            return "ERR"
        }
        switch mode {
        case .auth:
            return "OK"
        case .host:
            guard fields.count >= 2 else { return "ERR" }
            return grant.allows(host: Self.unbracketed(fields[1])) ? "OK" : "ERR"
        case .sni:
            guard fields.count >= 2, fields[1] != "-", !fields[1].isEmpty else { return "OK" }
            return grant.allows(host: fields[1]) ? "OK" : "ERR"
        }
    }

    /// Answers lines from standard input until it closes.
    public static func serve(mode: Mode, grantsDirectory: String) {
        // one write per answer, unbuffered: squid waits for each before it asks the next
        while let line = readLine(strippingNewline: true) {
            FileHandle.standardOutput.write(Data((answer(Substring(line), mode: mode, grantsDirectory: grantsDirectory) + "\n").utf8))
        }
    }

    private static func unbracketed(_ host: String) -> String {
        host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }
}
