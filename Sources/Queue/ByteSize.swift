import Foundation

/// Memory and disk sizes written the way Docker reads them: a number, optionally with a unit
/// `b`, `k`, `m` or `g` (case-insensitive, binary multiples) and an optional trailing `b`
/// (`256m`, `256MB`, `1.5g`, `1048576`). Nothing else: no surrounding whitespace (`"64m "` is
/// not a size, as the original service's pattern refused it), no sign, no exponent.
public enum ByteSize {
    /// The size in bytes, or nil when the text is not such a size. Fractions are truncated
    /// after multiplying, as Docker's client does (`1.5g` → 1610612736).
    public static func parse(_ text: String) -> Int64? {
        var body = Substring(text.lowercased())
        guard !body.isEmpty else { return nil }
        if body.count >= 2, body.hasSuffix("b"), let unit = body.dropLast().last, "kmg".contains(unit) {
            body = body.dropLast()
        }
        var multiplier: Double = 1
        if let unit = body.last, unit.isLetter {
            switch unit {
            case "b": multiplier = 1
            case "k": multiplier = 1024
            case "m": multiplier = 1024 * 1024
            case "g": multiplier = 1024 * 1024 * 1024
            default: return nil
            }
            body = body.dropLast()
        }
        guard !body.isEmpty, body.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            let number = Double(body), number.isFinite, number >= 0
        else { return nil }
        let bytes = number * multiplier
        guard bytes < Double(Int64.max) else { return nil }
        return Int64(bytes)
    }

    public static let mebibyte: Int64 = 1024 * 1024
}
