import CodeRunnerClient
import Foundation

/// Writes a result's output files under `--output-dir`, each at its path relative to the
/// directory (folders created as needed). A path that would leave the directory (absolute, or
/// with a `..` or empty component) is refused rather than written: the service never sends
/// one, but the directory is the user's.
enum OutputFileSaver {
    struct UnsafePath: Error, CustomStringConvertible {
        var path: String
        var description: String { "the service sent an output file path outside the directory: '\(path)'" }
    }

    /// - Returns: the paths written, in the result's order.
    static func save(_ files: [OutputFile], under directory: String) throws -> [String] {
        let root = URL(fileURLWithPath: directory, isDirectory: true)
        var written: [String] = []
        for file in files {
            let components = file.path.split(separator: "/", omittingEmptySubsequences: false)
            guard !file.path.hasPrefix("/"), !components.isEmpty,
                components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
            else { throw UnsafePath(path: file.path) }
            let target = components.reduce(root) { $0.appendingPathComponent(String($1)) }
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try file.content.write(to: target)
            written.append(target.path)
        }
        return written
    }
}
