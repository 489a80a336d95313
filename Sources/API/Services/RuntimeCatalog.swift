import Foundation
import Logging
import Queue

/// The runtimes users can pick, in the seed's order, with their real values: read from
/// `runtimes/<name>/runtime.json` and `completions.json` (`RUNTIME_DIR`), falling back to
/// built-in entries for a folder that is missing. Whether a runtime can run right now is a
/// separate question, answered from the images the workers report.
struct RuntimeCatalog: Sendable {
    struct Entry: Sendable {
        var shortName: String
        var name: String
        var description: String
        var defaultEntrypoint: String
        var fileExtension: String
        var mainFile: String
        var completions: JSONValue
        /// The runtime's own default memory when it needs more than `DEFAULT_MEMORY`.
        var minimumMemoryBytes: Int64?

        var imageName: String { "code-runner-\(shortName)" }
    }

    private(set) var entries: [Entry]

    func entry(for shortName: String) -> Entry? {
        entries.first { $0.shortName == shortName }
    }

    private static let builtIn: [Entry] = [
        Entry(shortName: "python", name: "Python", description: "Python 3 runtime", defaultEntrypoint: "python3 main.py", fileExtension: ".py", mainFile: "main.py", completions: .array([])),
        Entry(shortName: "node", name: "Node.js", description: "Node.js runtime", defaultEntrypoint: "node main.js", fileExtension: ".js", mainFile: "main.js", completions: .array([])),
        Entry(shortName: "bun", name: "Bun", description: "Bun runtime with TypeScript support", defaultEntrypoint: "bun run main.ts", fileExtension: ".ts", mainFile: "main.ts", completions: .array([])),
        Entry(shortName: "go", name: "Go", description: "Go runtime", defaultEntrypoint: "go run .", fileExtension: ".go", mainFile: "main.go", completions: .array([])),
        Entry(shortName: "deno", name: "Deno", description: "Deno runtime with TypeScript support", defaultEntrypoint: "deno run main.ts", fileExtension: ".ts", mainFile: "main.ts", completions: .array([])),
        Entry(shortName: "rust", name: "Rust", description: "Rust runtime", defaultEntrypoint: "rustc main.rs && ./main", fileExtension: ".rs", mainFile: "main.rs", completions: .array([])),
    ]

    private struct EntryFile: Decodable {
        var name: String
        var description: String
        var default_entrypoint: String
        var file_extension: String
        var main_file: String
        var min_memory: String?
    }

    /// Reads the catalogue from `directory`; unreadable files are logged and replaced by the
    /// built-in entry.
    static func load(from directory: String, logger: Logger) -> RuntimeCatalog {
        let root = URL(fileURLWithPath: directory)
        let entries = builtIn.map { fallback -> Entry in
            var entry = fallback
            let folder = root.appendingPathComponent(fallback.shortName)
            if let data = try? Data(contentsOf: folder.appendingPathComponent("runtime.json")) {
                if let file = try? JSONDecoder().decode(EntryFile.self, from: data) {
                    entry.name = file.name
                    entry.description = file.description
                    entry.defaultEntrypoint = file.default_entrypoint
                    entry.fileExtension = file.file_extension
                    entry.mainFile = file.main_file
                    entry.minimumMemoryBytes = file.min_memory.flatMap(ByteSize.parse)
                } else {
                    logger.warning("unreadable runtime.json; using the built-in entry", metadata: ["runtime": "\(fallback.shortName)"])
                }
            }
            if let data = try? Data(contentsOf: folder.appendingPathComponent("completions.json")),
                let completions = JSONValue.parse(data)
            {
                entry.completions = completions
            }
            return entry
        }
        return RuntimeCatalog(entries: entries)
    }
}
