import Foundation
import Queue

/// The second half of `callback_url`'s validation (`RunRequest` checks its shape): every address
/// its host resolves to must pass the deployment's `CallbackAddressPolicy` — no loopback,
/// private, link-local … address, nor one of this host's own, unless `WEBHOOK_ALLOW_CIDRS`
/// allows it. A worker checks again at every delivery (the name may point elsewhere by then).
///
/// The resolver's own time-outs bound the check (`/etc/resolv.conf`: 5 s per try by default).
enum CallbackCheck {
    /// The 422 naming `callback_url`, or nil when its host may be called.
    static func refusal(of url: String, settings: ServiceSettings) async -> APIError? {
        let field = LaxValue(value: .string(url), loc: ["body", "callback_url"])
        guard let host = URLComponents(string: url)?.host else {
            return .validation([field.valueError("callback_url has no host")])
        }
        do {
            _ = try await CallbackAddressPolicy(allowed: settings.webhookAllowCIDRs).check(host: host, hostAddresses: HostAddresses.all())
            return nil
        } catch {
            return .validation([field.valueError("\(error)")])
        }
    }
}
