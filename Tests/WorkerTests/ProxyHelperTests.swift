import Foundation
import Testing

@testable import Worker

/// The allowlist proxy's helpers (`ProxyHelper`), line by line against grant files in a
/// temporary directory, as squid would ask them.
struct ProxyHelperTests {
    let directory: String
    let token = "0123456789abcdef0123456789abcdef"

    init() throws {
        directory = NSTemporaryDirectory() + "proxy-helper-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func write(_ hosts: [String], expires: Date = Date().addingTimeInterval(60), token: String? = nil) throws {
        let data = try JSONEncoder().encode(ProxyGrantFile(hosts: hosts, expires: expires.timeIntervalSince1970))
        try data.write(to: URL(fileURLWithPath: directory + "/" + (token ?? self.token)))
    }

    func ask(_ line: String, _ mode: ProxyHelper.Mode) -> String {
        ProxyHelper.answer(Substring(line), mode: mode, grantsDirectory: directory)
    }

    @Test("auth: a live grant's token is OK whatever the password; another token, a path, an expired grant are ERR")
    func auth() throws {
        try write(["pypi.org"])
        #expect(ask("\(token) allowlist", .auth) == "OK")
        #expect(ask("\(token) anything", .auth) == "OK")
        #expect(ask("ffffffffffffffffffffffffffffffff allowlist", .auth) == "ERR")
        #expect(ask("..%2F..%2Fetc%2Fpasswd x", .auth) == "ERR")
        #expect(ask("", .auth) == "ERR")
        try write(["pypi.org"], expires: Date().addingTimeInterval(-1))
        #expect(ask("\(token) allowlist", .auth) == "ERR")
    }

    @Test("host: the grant's names, domains and ranges; nothing else")
    func host() throws {
        try write(["pypi.org", "*.pythonhosted.org", "203.0.113.0/24"])
        #expect(ask("\(token) pypi.org -", .host) == "OK")
        #expect(ask("\(token) PyPI.org. -", .host) == "OK")
        #expect(ask("\(token) files.pythonhosted.org -", .host) == "OK")
        #expect(ask("\(token) pythonhosted.org -", .host) == "ERR")
        #expect(ask("\(token) www.pypi.org -", .host) == "ERR")
        #expect(ask("\(token) 203.0.113.77 -", .host) == "OK")
        #expect(ask("\(token) 203.0.114.1 -", .host) == "ERR")
        #expect(ask("\(token) example.org -", .host) == "ERR")
        #expect(ask("\(token) pypi.org.evil.test -", .host) == "ERR")
        #expect(ask("\(token)", .host) == "ERR")
        #expect(ask("ffffffffffffffffffffffffffffffff pypi.org -", .host) == "ERR")
    }

    @Test("sni: no server name passes (the CONNECT host was checked); a named one must be granted")
    func sni() throws {
        try write(["pypi.org"])
        #expect(ask("\(token) - -", .sni) == "OK")
        #expect(ask("\(token) pypi.org -", .sni) == "OK")
        #expect(ask("\(token) evil.test -", .sni) == "ERR")
        #expect(ask("ffffffffffffffffffffffffffffffff - -", .sni) == "ERR")
    }

    @Test("squid's %-encoding of fields is undone")
    func encoding() throws {
        try write(["pypi.org"])
        #expect(ask("\(token) pypi%2Eorg -", .host) == "OK")
    }

    @Test("lapsed grants are removed, live ones kept")
    func lapsed() throws {
        let proxy = AllowlistProxy(deploymentID: "x", root: directory)
        try FileManager.default.createDirectory(atPath: proxy.grantsDirectory, withIntermediateDirectories: true)
        let live = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        let dead = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
        for (name, offset) in [(live, 60.0), (dead, -60.0)] {
            let data = try JSONEncoder().encode(ProxyGrantFile(hosts: ["a.test"], expires: Date().addingTimeInterval(offset).timeIntervalSince1970))
            try data.write(to: URL(fileURLWithPath: proxy.grantsDirectory + "/" + name))
        }
        #expect(proxy.removeLapsedGrants() == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: proxy.grantsDirectory) == [live])
        proxy.revoke(token: live)
        #expect(try FileManager.default.contentsOfDirectory(atPath: proxy.grantsDirectory).isEmpty)
    }
}
