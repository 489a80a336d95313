import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Queue
import Testing

@testable import API

/// Judge mode's request fields on `POST /run` and `POST /jobs`: what a good request stores
/// (cases, comparison, the runtime's build and run commands, case timeouts in milliseconds),
/// and the 422 of each bad one, located at the field. The cases' runs are in
/// `Tests/hostile/test_judge.py`.
struct JudgeRouteTests {
    let routes = APIRouteTests()
    let defaults = RunDefaultsRouteTests()
    let hosts = AllowedHostsRouteTests()

    @Test("a good request is stored with its cases, the comparison and the runtime's commands")
    func storedCases() async throws {
        let body = #"""
            {"code": "package main", "image": "go", "timeout": 10, "compare": "float", "float_tolerance": 0.01,
             "stop_on_first_failure": "yes",
             "tests": [{"stdin": "1\n", "expected_output": "2\n"}, {"name": "big", "stdin": "5", "timeout": 0.25}]}
            """#
        let (status, _, stored) = try await defaults.submit(body, to: try routes.freshStore())
        #expect(status == .accepted)
        let judge = try #require(stored?.judge)
        #expect(
            judge.cases == [
                JudgeCase(name: "1", stdin: "1\n", expectedOutput: "2\n", timeoutMilliseconds: 10_000),
                JudgeCase(name: "big", stdin: "5", expectedOutput: nil, timeoutMilliseconds: 250),
            ]
        )
        #expect(judge.comparison == .float(tolerance: 0.01))
        #expect(judge.stopOnFirstFailure)
        #expect(judge.buildCommand?.hasPrefix("go build") == true)
        #expect(judge.runCommand == "exec /tmp/.code-runner/main")
        #expect(stored?.stdin == "")
    }

    @Test("defaults: trim, no stop; an entrypoint is each case's command")
    func defaultsAndEntrypoint() async throws {
        let store = try routes.freshStore()
        let (_, _, deno) = try await defaults.submit(#"{"code": "x", "image": "deno", "tests": [{}], "stdin": ""}"#, to: store)
        #expect(deno?.judge?.comparison == .trim)
        #expect(deno?.judge?.stopOnFirstFailure == false)
        #expect(deno?.judge?.buildCommand == "deno check main.ts")
        #expect(deno?.judge?.runCommand == "exec deno run --allow-all main.ts")
        let (_, _, custom) = try await defaults.submit(#"{"code": "", "entrypoint": "cat", "tests": [{"stdin": "a"}]}"#, to: store)
        #expect(custom?.judge?.buildCommand == nil)
        #expect(custom?.judge?.runCommand == "cat")
        let (_, _, plain) = try await defaults.submit(#"{"code": "print(1)"}"#, to: store)
        #expect(plain?.judge == nil)
    }

    @Test(
        "each bad judge field is one 422 at its location",
        arguments: [
            (#"{"code": "x", "tests": []}"#, "body.tests"),
            (#"{"code": "x", "tests": {"a": 1}}"#, "body.tests"),
            (#"{"code": "x", "tests": [{}], "stdin": "abc"}"#, "body.stdin"),
            (#"{"code": "x", "tests": [1]}"#, "body.tests.0"),
            (#"{"code": "x", "tests": [{}, {"stdn": "1"}]}"#, "body.tests.1.stdn"),
            (#"{"code": "x", "tests": [{"stdin": 5}]}"#, "body.tests.0.stdin"),
            (#"{"code": "x", "tests": [{"expected_output": ["a"]}]}"#, "body.tests.0.expected_output"),
            (#"{"code": "x", "tests": [{"timeout": 0}]}"#, "body.tests.0.timeout"),
            (#"{"code": "x", "tests": [{"timeout": -1}]}"#, "body.tests.0.timeout"),
            (#"{"code": "x", "timeout": 5, "tests": [{"timeout": 5.5}]}"#, "body.tests.0.timeout"),
            (#"{"code": "x", "tests": [{"timeout": "soon"}]}"#, "body.tests.0.timeout"),
            (#"{"code": "x", "tests": [{"name": 7}]}"#, "body.tests.0.name"),
            (#"{"code": "x", "tests": [{}], "compare": "fuzzy"}"#, "body.compare"),
            (#"{"code": "x", "tests": [{}], "compare": 1}"#, "body.compare"),
            (#"{"code": "x", "tests": [{}], "float_tolerance": 0.1}"#, "body.float_tolerance"),
            (#"{"code": "x", "tests": [{}], "compare": "float", "float_tolerance": -0.1}"#, "body.float_tolerance"),
            (#"{"code": "x", "tests": [{}], "compare": "float", "float_tolerance": "much"}"#, "body.float_tolerance"),
            (#"{"code": "x", "tests": [{}], "stop_on_first_failure": "perhaps"}"#, "body.stop_on_first_failure"),
            (#"{"code": "x", "compare": "exact"}"#, "body.compare"),
            (#"{"code": "x", "stop_on_first_failure": true}"#, "body.stop_on_first_failure"),
        ] as [(String, String)]
    )
    func badField(body: String, loc: String) async throws {
        let issue = try await hosts.onlyIssue(body)
        #expect(issue.map { $0.0.map { "\($0)" }.joined(separator: ".") } == loc, "\(body): \(String(describing: issue))")
    }

    @Test("1000 cases are accepted, 1001 are a 422 at tests; a name over 200 characters is refused")
    func caseLimits() async throws {
        let store = try routes.freshStore()
        let thousand = "[" + Array(repeating: #"{"stdin": "1"}"#, count: 1000).joined(separator: ",") + "]"
        let (status, _, stored) = try await defaults.submit(#"{"code": "x", "tests": \#(thousand)}"#, to: store)
        #expect(status == .accepted)
        #expect(stored?.judge?.cases.count == 1000)
        #expect(stored?.judge?.cases.last?.name == "1000")
        let tooMany = "[" + Array(repeating: "{}", count: 1001).joined(separator: ",") + "]"
        let issue = try await hosts.onlyIssue(#"{"code": "x", "tests": \#(tooMany)}"#)
        #expect(issue?.0 == ["body", "tests"])
        #expect(issue?.2.contains("1 to 1000") == true)
        let name = String(repeating: "n", count: 201)
        let nameIssue = try await hosts.onlyIssue(#"{"code": "x", "tests": [{"name": "\#(name)"}]}"#)
        #expect(nameIssue?.0 == ["body", "tests", 0, "name"])
    }

    @Test("the cases' stdin and expected outputs count toward the 1 MiB payload limit")
    func casesCountTowardTheLimit() async throws {
        let half = String(repeating: "a", count: 600_000)
        let body = #"{"code": "x", "tests": [{"stdin": "\#(half)"}, {"expected_output": "\#(half)"}]}"#
        let app = try routes.makeApp(try routes.freshStore())
        let status = try await app.test(.router) { client in
            try await client.execute(uri: "/jobs", method: .post, headers: routes.authorized, body: ByteBuffer(string: body)).status
        }
        #expect(status == .contentTooLarge)
    }
}
