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

    @Test("outputFiles is sent as output_files; [] is sent (it turns the automatic files off), nil is left out")
    func outputFilesOnTheWire() throws {
        let body = try encoded(RunRequest(code: "x", outputFiles: ["out/*.csv", "report.md"]))
        #expect(body["output_files"] as? [String] == ["out/*.csv", "report.md"])
        #expect(body["outputFiles"] == nil)
        #expect(try encoded(RunRequest(code: "x", outputFiles: [])).keys.contains("output_files"))
        #expect(try encoded(RunRequest(code: "x", outputFiles: []))["output_files"] as? [String] == [])
        #expect(try encoded(RunRequest(code: "x")).keys.contains("output_files") == false)
    }

    @Test("a result's files decode from content_base64; a result without files has none")
    func resultFilesDecode() throws {
        let json = #"""
            {"job_id": "j1", "stdout": "", "stderr": "", "exit_code": 0, "timed_out": false,
             "files": [{"path": "out/a.txt", "size": 3, "media_type": "text/plain", "content_base64": "aGkK"}],
             "files_truncated": true}
            """#
        let result = try JSONDecoder().decode(ExecutionResult.self, from: Data(json.utf8))
        #expect(result.files == [OutputFile(path: "out/a.txt", mediaType: "text/plain", content: Data("hi\n".utf8))])
        #expect(result.filesTruncated)
        let plain = try JSONDecoder().decode(
            ExecutionResult.self,
            from: Data(#"{"job_id": "j", "stdout": "", "stderr": "", "exit_code": 0, "timed_out": false}"#.utf8)
        )
        #expect(plain.files == nil)
        #expect(!plain.filesTruncated)
        let broken = json.replacingOccurrences(of: "aGkK", with: "not base64!")
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ExecutionResult.self, from: Data(broken.utf8)) }
    }
}
