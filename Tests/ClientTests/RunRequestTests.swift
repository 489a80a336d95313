import CodeRunnerClient
import Foundation
import Testing

/// The body `RunRequest` sends (no service needed): `allowed_hosts` and `callback_url` under
/// their wire names, and left out when nil.
struct RunRequestTests {
    func encoded(_ request: RunRequest) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(request)) as? [String: Any])
    }

    @Test("allowedHosts is sent as allowed_hosts, in order; allow_network stays unset unless given")
    func allowedHostsOnTheWire() throws {
        let request = RunRequest(runtime: .python, code: "print(1)", allowedHosts: ["pypi.org", "*.pythonhosted.org", "203.0.113.0/24"])
        let body = try encoded(request)
        #expect(body["allowed_hosts"] as? [String] == ["pypi.org", "*.pythonhosted.org", "203.0.113.0/24"])
        #expect(body["allow_network"] == nil)
        #expect(body["allowedHosts"] == nil)

        let both = try encoded(RunRequest(code: "x", allowNetwork: true, allowedHosts: ["example.org"], environment: ["A": "1"]))
        #expect(both["allow_network"] as? Bool == true)
        #expect(both["allowed_hosts"] as? [String] == ["example.org"])
        #expect(both["environment"] as? [String: String] == ["A": "1"])
    }

    @Test("no allowlist: the key is left out; a decoded body keeps the list")
    func withoutAllowlist() throws {
        #expect(try encoded(RunRequest(code: "x")).keys.contains("allowed_hosts") == false)
        let decoded = try JSONDecoder().decode(RunRequest.self, from: Data(#"{"code": "x", "image": "go", "allowed_hosts": ["a.example"]}"#.utf8))
        #expect(decoded.allowedHosts == ["a.example"])
        #expect(decoded.image == "go")
    }

    @Test("callbackURL is sent as callback_url, as given")
    func callbackURLOnTheWire() throws {
        let body = try encoded(RunRequest(code: "print(1)", callbackURL: "https://hooks.example.org/code-runner?job=1"))
        #expect(body["callback_url"] as? String == "https://hooks.example.org/code-runner?job=1")
        #expect(body["callbackURL"] == nil)
        #expect(body["code"] as? String == "print(1)")
    }

    @Test("no callback: the key is left out; a decoded body keeps the URL")
    func withoutCallback() throws {
        #expect(try encoded(RunRequest(code: "x")).keys.contains("callback_url") == false)
        #expect(try encoded(RunRequest(code: "x", tests: [TestCase(stdin: "1")])).keys.contains("callback_url") == false)
        let json = #"{"code": "x", "image": "python", "callback_url": "http://203.0.113.7/hook"}"#
        let decoded = try JSONDecoder().decode(RunRequest.self, from: Data(json.utf8))
        #expect(decoded.callbackURL == "http://203.0.113.7/hook")
        #expect(decoded == RunRequest(code: "x", callbackURL: "http://203.0.113.7/hook"))
    }
}
