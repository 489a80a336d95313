import Foundation
import Testing

@testable import Queue

/// `WebhookSignature`: the HMAC-SHA256 header on webhook deliveries and the receiver's check.
struct WebhookSignatureTests {
    let signature = WebhookSignature(secret: "s3cret")
    let body = Data(#"{"id":"job-1","status":"completed"}"#.utf8)
    let timestamp = 1_767_225_600

    @Test(
        "RFC 4231 HMAC-SHA256 vectors through the signing code",
        arguments: [
            // Test case 1: a 20-byte key.
            (Data(repeating: 0x0b, count: 20), Data("Hi There".utf8), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            // Test case 2: a key shorter than the output.
            (Data("Jefe".utf8), Data("what do ya want for nothing?".utf8), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            // Test case 6: a key longer than the block size (hashed first).
            (
                Data(repeating: 0xaa, count: 131), Data("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
            ),
        ]
    )
    func rfc4231(key: Data, message: Data, expected: String) {
        #expect(WebhookSignature.hmacHex(key: key, message: message) == expected)
    }

    @Test("the header is sha256= and the 64-hex HMAC of \"<timestamp>.<body>\" under the secret")
    func headerFormat() throws {
        let header = signature.header(body: body, timestamp: timestamp)
        #expect(header.hasPrefix("sha256="))
        let hex = header.dropFirst("sha256=".count)
        #expect(hex.count == 64)
        #expect(hex.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        let signed = Data("\(timestamp).".utf8) + body
        #expect(header == "sha256=" + WebhookSignature.hmacHex(key: Data("s3cret".utf8), message: signed))
        #expect(signature.header(body: body, timestamp: timestamp) == header, "deterministic")
        #expect(signature.header(body: body, timestamp: timestamp + 1) != header, "the timestamp is signed")
    }

    @Test("the header names")
    func headerNames() {
        #expect(WebhookSignature.signatureHeader == "X-Code-Runner-Signature")
        #expect(WebhookSignature.timestampHeader == "X-Code-Runner-Timestamp")
        #expect(WebhookSignature.deliveryHeader == "X-Code-Runner-Delivery")
    }

    @Test("a receiver accepts the right header, also in upper-case hex, and an empty body")
    func valid() {
        let header = signature.header(body: body, timestamp: timestamp)
        #expect(signature.isValid(header: header, body: body, timestamp: timestamp))
        #expect(signature.isValid(header: "sha256=" + header.dropFirst(7).uppercased(), body: body, timestamp: timestamp))
        let empty = signature.header(body: Data(), timestamp: 0)
        #expect(signature.isValid(header: empty, body: Data(), timestamp: 0))
    }

    @Test("a receiver refuses a changed body, a changed timestamp and another secret")
    func tampered() {
        let header = signature.header(body: body, timestamp: timestamp)
        var changed = body
        changed[changed.startIndex] ^= 0x01
        #expect(!signature.isValid(header: header, body: changed, timestamp: timestamp))
        #expect(!signature.isValid(header: header, body: body + Data(" ".utf8), timestamp: timestamp))
        #expect(!signature.isValid(header: header, body: body, timestamp: timestamp + 1))
        #expect(!signature.isValid(header: header, body: body, timestamp: timestamp - 300))
        #expect(!WebhookSignature(secret: "s3cret ").isValid(header: header, body: body, timestamp: timestamp))
        #expect(!WebhookSignature(secret: "").isValid(header: header, body: body, timestamp: timestamp))
    }

    @Test("a receiver refuses malformed headers")
    func malformed() {
        let header = signature.header(body: body, timestamp: timestamp)
        let hex = String(header.dropFirst(7))
        let malformed = [
            "", "sha256=", "sha256=zz", "md5=" + hex, "SHA256=" + hex, hex, "sha256=" + hex.dropLast(), "sha256=" + hex + "0",
            "sha256=" + hex + "00", "sha256=" + hex.dropLast(2), " " + header, header + " ", "sha256=" + hex.dropLast() + "g",
            "sha256=" + String(repeating: "0", count: 64),
        ]
        for candidate in malformed {
            #expect(!signature.isValid(header: candidate, body: body, timestamp: timestamp), "\(candidate)")
        }
    }
}
