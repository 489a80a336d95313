import Foundation
import Queue

extension OutputComparison {
    /// Whether a case's stdout (`actual`, raw bytes) matches its expected output under this
    /// comparison. Bytes that are not UTF-8 never match a non-`exact` comparison's text unless
    /// they are equal byte for byte.
    func matches(_ actual: [UInt8], expected: String) -> Bool {
        let expectedBytes = Array(expected.utf8)
        if actual == expectedBytes { return true }
        switch self {
        case .exact:
            return false
        case .trim:
            return Self.trimmedLines(actual) == Self.trimmedLines(expectedBytes)
        case .tokens:
            return Self.tokens(actual) == Self.tokens(expectedBytes)
        case .float(let tolerance):
            let got = Self.tokens(actual)
            let want = Self.tokens(expectedBytes)
            guard got.count == want.count else { return false }
            return zip(got, want).allSatisfy { Self.tokensEqual($0, $1, tolerance: tolerance) }
        }
    }

    /// ASCII whitespace: space, tab, newline, carriage return, vertical tab, form feed.
    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0d).contains(byte)
    }

    /// The lines with their trailing whitespace removed, trailing empty lines dropped.
    static func trimmedLines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            var end = line.endIndex
            while end > line.startIndex, isWhitespace(line[end - 1]) { end -= 1 }
            return line[line.startIndex..<end]
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        return lines
    }

    /// The whitespace-separated tokens.
    static func tokens(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        bytes.split(whereSeparator: isWhitespace)
    }

    /// Two tokens are equal as text, or both read as finite numbers within `tolerance` of each
    /// other, absolutely or relative to the expected one. `nan` equals only `nan`.
    static func tokensEqual(_ actual: ArraySlice<UInt8>, _ expected: ArraySlice<UInt8>, tolerance: Double) -> Bool {
        if actual == expected { return true }
        guard let got = Double(String(decoding: actual, as: UTF8.self)),
            let want = Double(String(decoding: expected, as: UTF8.self))
        else { return false }
        if got.isNaN || want.isNaN { return got.isNaN && want.isNaN }
        if got == want { return true }  // equal infinities
        let difference = abs(got - want)
        return difference <= tolerance || difference <= tolerance * abs(want)
    }
}
