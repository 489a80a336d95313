import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Queue

/// Delivers one claimed `webhook` job: POSTs the finished job's JSON (as `GET /jobs/{id}` shows
/// it) to its `callback_url`, signed, and records the attempt (`ClaimStore.recordDelivery`).
///
/// - The host is resolved and checked again now (`CallbackAddressPolicy`), and the connection
///   goes to a checked address and nowhere else (AsyncHTTPClient's `dnsOverride`, certificate
///   still validated against the name): a name that pointed at a public address when the job was
///   submitted and points at 127.0.0.1 now (DNS rebinding) is refused. Redirects are not followed
///   (a redirect could point anywhere).
/// - Headers: `X-Code-Runner-Signature: sha256=<HMAC-SHA256 of "<timestamp>.<body>">` with
///   `WEBHOOK_SECRET`, `X-Code-Runner-Timestamp` (Unix seconds), `X-Code-Runner-Delivery` (the
///   job's id: the same on every retry, so a receiver can drop repeats).
/// - A 2xx within `timeout` is a success; anything else is retried on `DeliverySchedule` (5 s
///   doubling to 1 h, for up to a day after the first attempt), then given up. A worker that dies
///   mid-delivery loses its lease and the delivery runs again: at least once, and exactly one
///   success recorded.
struct WebhookDeliverer: Sendable {
    let store: any JobStore
    let settings: ServiceSettings
    let logger: Logger
    var schedule = DeliverySchedule()
    /// For the connection and for the whole answer.
    var timeout: Duration = .seconds(10)

    /// Why an attempt failed, as the job's `callback.last_error` says it.
    struct AttemptFailure: Error, CustomStringConvertible {
        var description: String
    }

    func deliver(_ claimed: ClaimedJob) async {
        let attempt = claimed.job.attempts
        guard let delivery = try? JSONDecoder().decode(WebhookDelivery.self, from: claimed.job.payload) else {
            await record(claimed, of: 0, .gaveUp(attempts: attempt, error: "the delivery job is unreadable"))
            return
        }
        let outcome: DeliveryOutcome
        do {
            guard let job = try await store.finishedJobs(among: [delivery.jobID]).first, let callback = job.callback else {
                await record(claimed, of: delivery.jobID, .gaveUp(attempts: attempt, error: "the job is gone"))
                return
            }
            try await post(ResponseJSON.encode(JobView(job: job)), to: callback.url, deliveryID: job.publicID)
            outcome = .delivered(attempts: attempt)
        } catch {
            let elapsed = Date().timeIntervalSince1970 - claimed.job.createdAt
            let message = "\(error)"
            if let delay = schedule.delay(afterAttempt: attempt, elapsed: elapsed, jitter: Double.random(in: 0..<1)) {
                outcome = .retry(after: delay, attempts: attempt, error: message)
            } else {
                outcome = .gaveUp(attempts: attempt, error: message)
            }
        }
        await record(claimed, of: delivery.jobID, outcome)
    }

    /// One signed POST to a checked address; throws unless the answer is 2xx.
    func post(_ body: Data, to url: String, deliveryID: String) async throws {
        guard let secret = settings.webhookSecret else {
            throw AttemptFailure(description: "webhooks are off on this worker (no WEBHOOK_SECRET)")
        }
        guard let host = URLComponents(string: url)?.host else { throw AttemptFailure(description: "callback_url has no host") }
        let policy = CallbackAddressPolicy(allowed: settings.webhookAllowCIDRs)
        let addresses = try await policy.check(host: host, hostAddresses: HostAddresses.all())
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .init(timeout), read: .init(timeout))
        )
        if let address = addresses.first, IPAddress(host) == nil {
            configuration.dnsOverride = [host: address.description]
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            try await send(body, to: url, deliveryID: deliveryID, secret: secret, with: client)
        } catch {
            await shutDown(client)
            throw error
        }
        await shutDown(client)
    }

    private func send(_ body: Data, to url: String, deliveryID: String, secret: String, with client: HTTPClient) async throws {
        let timestamp = Int(Date().timeIntervalSince1970)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "code-runner-webhooks")
        request.headers.add(name: WebhookSignature.signatureHeader, value: WebhookSignature(secret: secret).header(body: body, timestamp: timestamp))
        request.headers.add(name: WebhookSignature.timestampHeader, value: "\(timestamp)")
        request.headers.add(name: WebhookSignature.deliveryHeader, value: deliveryID)
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .init(timeout))
        // The answer's body is not used; read a little of it so the connection closes cleanly.
        _ = try? await response.body.collect(upTo: 64 * 1024)
        guard (200..<300).contains(response.status.code) else {
            throw AttemptFailure(description: "the receiver answered HTTP \(response.status.code)")
        }
    }

    private func shutDown(_ client: HTTPClient) async {
        do {
            try await client.shutdown()
        } catch {
            logger.warning("webhook HTTP client did not shut down cleanly", metadata: ["error": "\(error)"])
        }
    }

    private func record(_ claimed: ClaimedJob, of jobID: Int64, _ outcome: DeliveryOutcome) async {
        do {
            let stored = try await store.recordDelivery(claimed.lease, of: jobID, outcome: outcome)
            logger.info(
                "webhook delivery attempt",
                metadata: ["outcome": "\(outcome)", "stored": "\(stored)", "delivery": "\(claimed.job.publicID)"]
            )
        } catch {
            // The lease expires and the delivery runs again: at least once, one success recorded.
            logger.error("could not record a webhook delivery", metadata: ["error": "\(error)", "delivery": "\(claimed.job.publicID)"])
        }
    }
}
