import Crypto
import Foundation

/// The signature on a webhook delivery, so that a receiver can tell a callback really came from
/// this service (it knows `WEBHOOK_SECRET` too) and was not altered on the way.
///
/// The HMAC covers `"<timestamp>.<body>"`, not the body alone: a captured delivery sent again
/// later with a fresh timestamp header no longer matches, so a receiver that also refuses old
/// timestamps (say, more than five minutes off its clock) is safe from replays. Receivers should
/// deduplicate on ``deliveryHeader`` as well, since a delivery whose answer was lost is sent again
/// with a new timestamp and a new signature.
public struct WebhookSignature: Sendable {
    /// The secret's UTF-8 bytes: the HMAC key.
    private let key: Data

    /// `secret` is the operator's `WEBHOOK_SECRET`; its UTF-8 bytes are the HMAC key.
    public init(secret: String) {
        key = Data(secret.utf8)
    }

    /// `"sha256=<64 lowercase hex>"`: HMAC-SHA256 with the secret over `"<timestamp>.<body>"`.
    /// - Parameters:
    ///   - body: the exact bytes sent as the request body (sign after encoding, never re-encode).
    ///   - timestamp: Unix seconds, the value sent in ``timestampHeader``.
    public func header(body: Data, timestamp: Int) -> String {
        Self.prefix + Self.hmacHex(key: key, message: Self.signedMessage(body: body, timestamp: timestamp))
    }

    /// What a receiver does with a delivery: true when `header` is the signature of `body` sent at
    /// `timestamp` under this secret. The comparison takes the same time wherever the first
    /// differing byte is, so an attacker cannot guess a valid signature byte by byte from response
    /// times. Hex digits may be upper or lower case; anything but `sha256=` and 64 hex digits is
    /// invalid.
    public func isValid(header: String, body: Data, timestamp: Int) -> Bool {
        guard header.hasPrefix(Self.prefix), let code = Self.bytes(hex: header.utf8.dropFirst(Self.prefix.utf8.count)),
            code.count == Crypto.SHA256.byteCount
        else { return false }
        return HMAC<Crypto.SHA256>.isValidAuthenticationCode(
            code,
            authenticating: Self.signedMessage(body: body, timestamp: timestamp),
            using: SymmetricKey(data: key)
        )
    }

    /// The header carrying ``header(body:timestamp:)``.
    public static let signatureHeader = "X-Code-Runner-Signature"
    /// When the delivery was signed, in Unix seconds (decimal): part of what is signed.
    public static let timestampHeader = "X-Code-Runner-Timestamp"
    /// The delivery's id (the job's id): the same on every retry, for receivers to deduplicate.
    public static let deliveryHeader = "X-Code-Runner-Delivery"

    private static let prefix = "sha256="

    /// `"<timestamp>.<body>"`, the bytes the HMAC covers.
    static func signedMessage(body: Data, timestamp: Int) -> Data {
        var message = Data("\(timestamp).".utf8)
        message.append(body)
        return message
    }

    /// HMAC-SHA256 of `message` under `key`, as 64 lowercase hex digits. Internal so that the
    /// tests check RFC 4231's vectors through the very code that signs deliveries.
    static func hmacHex(key: Data, message: Data) -> String {
        let code = HMAC<Crypto.SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
        return code.map { byte in
            let digits = String(byte, radix: 16)
            return byte < 16 ? "0" + digits : digits
        }
        .joined()
    }

    /// The bytes an even number of hex digits spell, or nil for anything else.
    private static func bytes(hex: Substring.UTF8View) -> [UInt8]? {
        guard hex.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.count / 2)
        var high: UInt8?
        for character in hex {
            guard let value = hexValue(character) else { return nil }
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return bytes
    }

    private static func hexValue(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
