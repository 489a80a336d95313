import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Queue
import Testing

@testable import API

/// `allowed_hosts` on `POST /run` and `POST /jobs`: what is stored for a good list (canonical
/// entries, duplicates dropped, a networked run), and the 422 of each kind of bad one, located
/// at the field or at the entry's index. The 503 without an egress policy is in
/// `EgressRouteTests`.
struct AllowedHostsRouteTests {
    let routes = APIRouteTests()
    let defaults = RunDefaultsRouteTests()

    /// The issues of a 422 for `body` on `uri`, each as (loc, type, msg).
    func issues(
        _ body: String,
        uri: String = "/jobs",
        variables: [String: String] = [:]
    ) async throws -> (HTTPResponse.Status, [([AnyHashable], String, String)]) {
        let app = try routes.makeApp(try routes.freshStore(), variables: variables)
        return try await app.test(.router) { client in
            let response = try await client.execute(uri: uri, method: .post, headers: routes.authorized, body: ByteBuffer(string: body))
            let detail = routes.json(response)["detail"] as? [[String: Any]] ?? []
            let found = detail.map { issue in
                (issue["loc"] as? [AnyHashable] ?? [], issue["type"] as? String ?? "", issue["msg"] as? String ?? "")
            }
            return (response.status, found)
        }
    }

    /// The one issue `body` gets, on `/run` and on `/jobs` alike.
    func onlyIssue(_ body: String, variables: [String: String] = [:]) async throws -> ([AnyHashable], String, String)? {
        let (status, found) = try await issues(body, variables: variables)
        let (runStatus, runFound) = try await issues(body, uri: "/run", variables: variables)
        #expect(status == .unprocessableContent && runStatus == .unprocessableContent, "\(body)")
        #expect(found.count == 1 && runFound.count == 1, "\(body): \(found)")
        #expect(found.map { "\($0)" } == runFound.map { "\($0)" })
        return found.first
    }

    @Test(
        "a good list is stored canonical, without duplicates, in request order; allowNetwork stays false (a worker predating allowlists runs it offline)"
    )
    func storedCanonical() async throws {
        let store = try routes.freshStore()
        let body = #"""
            {"code": "print(1)", "allowed_hosts": ["PyPI.org.", "*.PythonHosted.ORG", "pypi.org", "203.0.113.7/32", "203.0.113.0/24", "203.0.113.7", "*.pythonhosted.org."]}
            """#
        let (status, _, stored) = try await defaults.submit(body, to: store)
        #expect(status == .accepted)
        let payload = try #require(stored)
        #expect(payload.allowedHosts == ["pypi.org", "*.pythonhosted.org", "203.0.113.7", "203.0.113.0/24"])
        #expect(!payload.allowNetwork)
        #expect(payload.isNetworked)

        // everything else is what the same request without the list stores
        let (_, _, plain) = try await defaults.submit(#"{"code": "print(1)"}"#, to: store)
        var expected = try #require(plain)
        expected.allowedHosts = ["pypi.org", "*.pythonhosted.org", "203.0.113.7", "203.0.113.0/24"]
        #expect(payload == expected)
    }

    @Test(
        "no list: absent or null; allow_network alone is unchanged",
        arguments: [
            (#"{"code": "x"}"#, false), (#"{"code": "x", "allowed_hosts": null}"#, false),
            (#"{"code": "x", "allowed_hosts": null, "allow_network": true}"#, true),
        ]
    )
    func noList(body: String, network: Bool) async throws {
        let (status, _, stored) = try await defaults.submit(body, to: try routes.freshStore())
        #expect(status == .accepted)
        #expect(stored?.allowedHosts == nil)
        #expect(stored?.allowNetwork == network)
    }

    @Test(
        "allow_network true (in any lax spelling) goes with a list; the list governs (allowNetwork is stored false)",
        arguments: ["true", #""yes""#, "1"]
    )
    func withAllowNetworkTrue(value: String) async throws {
        let (status, _, stored) = try await defaults.submit(
            #"{"code": "x", "allow_network": \#(value), "allowed_hosts": ["example.org"]}"#,
            to: try routes.freshStore()
        )
        #expect(status == .accepted)
        #expect(stored?.allowNetwork == false)
        #expect(stored?.allowedHosts == ["example.org"])
    }

    @Test("64 entries are accepted; 65 are a 422 on the field")
    func entryLimit() async throws {
        #expect(RunRequest.maxAllowedHosts == 64)
        let names = (1...64).map { "\"h\($0).example.org\"" }
        let (status, _, stored) = try await defaults.submit(
            #"{"code": "x", "allowed_hosts": [\#(names.joined(separator: ","))]}"#,
            to: try routes.freshStore()
        )
        #expect(status == .accepted)
        #expect(stored?.allowedHosts?.count == 64)
        #expect(stored?.allowedHosts?.last == "h64.example.org")

        let tooMany = (names + ["\"h65.example.org\""]).joined(separator: ",")
        let issue = try await onlyIssue(#"{"code": "x", "allowed_hosts": [\#(tooMany)]}"#)
        #expect(issue?.0 == ["body", "allowed_hosts"])
        #expect(issue?.1 == "value_error")
        #expect(issue?.2 == "Value error, allowed_hosts may name at most 64 entries, got 65")
    }

    @Test(
        "a list that is not an array, or empty, is a 422 on the field",
        arguments: [
            (#""pypi.org""#, "list_type", "Input should be a valid list"),
            (#"{"pypi.org": true}"#, "list_type", "Input should be a valid list"),
            ("7", "list_type", "Input should be a valid list"),
            ("[]", "value_error", "Value error, allowed_hosts must name at least one host; leave it out for no allowlist"),
        ]
    )
    func notAList(value: String, type: String, message: String) async throws {
        let issue = try await onlyIssue(#"{"code": "x", "allowed_hosts": \#(value)}"#)
        #expect(issue?.0 == ["body", "allowed_hosts"])
        #expect(issue?.1 == type)
        #expect(issue?.2 == message)
    }

    @Test(
        "a bad entry is a 422 at its index, with the parser's or the egress ceiling's reason",
        arguments: [
            (#"["pypi.org", 7]"#, 1, "string_type", "Input should be a valid string"),
            (#"[null]"#, 0, "string_type", "Input should be a valid string"),
            (#"["ok.example", ["pypi.org"]]"#, 1, "string_type", "Input should be a valid string"),
            (#"["localhost"]"#, 0, "value_error", "Value error, 'localhost': a host name needs at least two labels (example.org)"),
            (
                #"["ok.example", "pypi.org:443"]"#, 1, "value_error",
                "Value error, 'pypi.org:443' is IPv6 or has a port; give a host name or an IPv4 range (sandboxes have IPv6 off, and every port of an allowed host is allowed)"
            ),
            (#"["10.0.0.1/8"]"#, 0, "value_error", "Value error, '10.0.0.1/8' has bits set below its prefix; did you mean 10.0.0.0/8?"),
            (#"["a..example"]"#, 0, "value_error", "Value error, 'a..example': each label has 1 to 63 characters"),
            (
                #"["ok.example", "ok2.example", "10.1.0.0/16"]"#, 2, "value_error",
                "Value error, '10.1.0.0/16' is inside 10.0.0.0/8, which this service's egress policy refuses"
            ),
            (
                #"["169.254.169.254"]"#, 0, "value_error",
                "Value error, '169.254.169.254' is inside 169.254.0.0/16, which this service's egress policy refuses"
            ),
            (#"["127.0.0.1/32"]"#, 0, "value_error", "Value error, '127.0.0.1' is inside 127.0.0.0/8, which this service's egress policy refuses"),
        ]
    )
    func badEntry(value: String, index: Int, type: String, message: String) async throws {
        let issue = try await onlyIssue(#"{"code": "x", "allowed_hosts": \#(value)}"#)
        #expect(issue?.0 == ["body", "allowed_hosts", index])
        #expect(issue?.1 == type)
        #expect(issue?.2 == message)
    }

    @Test("every bad entry is reported at once, with the other fields' issues")
    func allAtOnce() async throws {
        let (status, found) = try await issues(#"{"code": "x", "timeout": 0, "allowed_hosts": ["localhost", "ok.example", 5, "10.0.0.0/8"]}"#)
        #expect(status == .unprocessableContent)
        #expect(
            found.map(\.0) == [["body", "timeout"], ["body", "allowed_hosts", 0], ["body", "allowed_hosts", 2], ["body", "allowed_hosts", 3]]
        )
    }

    @Test("allow_network false (in any lax spelling) with a list is a 422 on allowed_hosts", arguments: ["false", #""no""#, "0"])
    func conflictsWithNoNetwork(value: String) async throws {
        let issue = try await onlyIssue(#"{"code": "x", "allow_network": \#(value), "allowed_hosts": ["pypi.org"]}"#)
        #expect(issue?.0 == ["body", "allowed_hosts"])
        #expect(issue?.1 == "value_error")
        #expect(
            issue?.2 == "Value error, allowed_hosts gives the run network access to those hosts; it cannot be combined with allow_network: false"
        )
    }

    @Test("the ceiling follows EGRESS_ALLOW_CIDRS and EGRESS_DENY_CIDRS; partly refused ranges pass")
    func ceilingFollowsSettings() async throws {
        let variables = ["EGRESS_ALLOW_CIDRS": "10.1.0.0/16", "EGRESS_DENY_CIDRS": "203.0.113.0/24"]
        let (status, _, stored) = try await defaults.submit(
            #"{"code": "x", "allowed_hosts": ["10.1.2.0/24", "10.0.0.0/7", "203.0.112.0/23"]}"#,
            to: try routes.freshStore(),
            variables: variables
        )
        #expect(status == .accepted)
        #expect(stored?.allowedHosts == ["10.1.2.0/24", "10.0.0.0/7", "203.0.112.0/23"])

        let issue = try await onlyIssue(#"{"code": "x", "allowed_hosts": ["example.org", "203.0.113.9"]}"#, variables: variables)
        #expect(issue?.0 == ["body", "allowed_hosts", 1])
        #expect(issue?.2 == "Value error, '203.0.113.9' is inside 203.0.113.0/24, which this service's egress policy refuses")
        // without the allow range, 10.1.2.0/24 is refused again
        let closed = try await onlyIssue(#"{"code": "x", "allowed_hosts": ["10.1.2.0/24"]}"#)
        #expect(closed?.2 == "Value error, '10.1.2.0/24' is inside 10.0.0.0/8, which this service's egress policy refuses")
    }

    @Test("the list is part of an idempotent request: the same key with another list conflicts")
    func idempotency() async throws {
        let app = try routes.makeApp(try routes.freshStore())
        try await app.test(.router) { client in
            var headers = routes.authorized
            headers[HTTPField.Name("Idempotency-Key")!] = "hosts-1"
            func post(_ hosts: String) async throws -> TestResponse {
                try await client.execute(
                    uri: "/jobs",
                    method: .post,
                    headers: headers,
                    body: ByteBuffer(string: #"{"code": "x", "allowed_hosts": \#(hosts)}"#)
                )
            }
            let first = try await post(#"["a.example"]"#)
            #expect(first.status == .accepted)
            let same = try await post(#"["A.example."]"#)  // the same list, canonically
            #expect(same.status == .ok)
            #expect(routes.json(same)["job_id"] as? String == routes.json(first)["job_id"] as? String)
            let other = try await post(#"["b.example"]"#)
            #expect(other.status == .conflict)
        }
    }
}
