/// One allowlisted run's admission to the deployment's allowlist proxy (`AllowlistProxy`): the
/// credentials its program's proxy URL carries, which the proxy's helper looks up to learn the
/// run's `allowed_hosts`. The token is random per run and known only to that run's sandbox.
struct ProxyGrant: Sendable, Equatable {
    /// 32 lower-case hex digits: the proxy user name, and the name of the grant's file.
    var token: String
    /// The proxy's address: the allowlist network's gateway.
    var proxyAddress: String
    var proxyPort: Int
    /// The deployment whose proxy holds the grant.
    var deploymentID: String
    /// The `resolv.conf` mounted over the sandbox's own (`AllowlistProxy.resolvConfText`).
    var resolvConfPath: String
    /// The Docker network the run's container joins (`SandboxSpec.allowlistNetworkName`).
    var networkName: String

    /// The password of every grant: the token alone identifies the run, and the proxy's auth
    /// helper checks it; clients need a password to send the user name at all.
    static let password = "allowlist"

    /// `http://<token>:allowlist@<gateway>:<port>`.
    var proxyURL: String { "http://\(token):\(Self.password)@\(proxyAddress):\(proxyPort)" }

    /// The variables that point a program at the proxy, in both spellings tools read (pip,
    /// requests, urllib, curl, Go's net/http and npm honour them; Node's built-in `fetch` does
    /// not). They replace the run's own variables of these names.
    var environment: [(name: String, value: String)] {
        Self.variableNames.map { name in
            (name, name.lowercased() == "no_proxy" ? "localhost,127.0.0.1,::1" : proxyURL)
        }
    }

    static let variableNames = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy"]
}
