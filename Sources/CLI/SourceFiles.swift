import ArgumentParser
import CodeRunnerClient
import Foundation

/// Turns the files named on the command line into a run's `code` and `files`.
struct SourceFiles {
    /// The main file's source, sent as `code` (the service writes it to the runtime's main file).
    var code: String
    /// The other files, by path relative to the main file's folder (else by their own name).
    var files: [String: String]

    /// The runtime of a file extension: `.py` python, `.js`/`.mjs`/`.cjs` node, `.ts`/`.mts`
    /// deno (bun runs TypeScript too: pass `--runtime bun`), `.go` go, `.rs` rust.
    static func runtime(forExtension fileExtension: String) -> Runtime? {
        switch fileExtension.lowercased() {
        case "py": .python
        case "js", "mjs", "cjs": .node
        case "ts", "mts": .deno
        case "go": .go
        case "rs": .rust
        default: nil
        }
    }

    /// The file each runtime's `code` is written to (Rust's is a Cargo project's `src/main.rs`).
    static func mainFileName(of runtime: Runtime) -> String? {
        switch runtime {
        case .python: "main.py"
        case .node: "main.js"
        case .deno, .bun: "main.ts"
        case .go: "main.go"
        case .rust: "src/main.rs"
        default: nil
        }
    }

    /// Where a file goes in the work directory: Rust sources next to `src/main.rs`, so that
    /// `mod helper;` finds `helper.rs`; everything else as named.
    static func placement(of name: String, runtime: Runtime) -> String {
        runtime == .rust && name.hasSuffix(".rs") && !name.hasPrefix("src/") ? "src/" + name : name
    }

    /// Reads `paths`; `mainPath` (one of them) becomes the code. Another file that would land on
    /// the runtime's main file name, two files with one name, or an unreadable file is an error.
    static func load(paths: [String], mainPath: String, runtime: Runtime) throws -> SourceFiles {
        let mainFileName = Self.mainFileName(of: runtime)
        let mainURL = URL(fileURLWithPath: mainPath).standardizedFileURL
        let folder = mainURL.deletingLastPathComponent().path
        var files: [String: String] = [:]
        let code = try read(mainPath)
        for path in paths where URL(fileURLWithPath: path).standardizedFileURL != mainURL {
            let url = URL(fileURLWithPath: path).standardizedFileURL
            let relative = url.path.hasPrefix(folder + "/") ? String(url.path.dropFirst(folder.count + 1)) : url.lastPathComponent
            let name = placement(of: relative, runtime: runtime)
            if name == mainFileName {
                throw ValidationError("'\(path)' would replace the main file \(name): rename it or choose it with --main.")
            }
            if files[name] != nil { throw ValidationError("Two files would be called '\(name)'.") }
            files[name] = try read(path)
        }
        return SourceFiles(code: code, files: files)
    }

    private static func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("Cannot read '\(path)'.")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("'\(path)' is not UTF-8 text.")
        }
        return text
    }
}
