import Foundation
import Logging

/// The runtimes users can pick, in the seed's order: the only list of runtimes in the service.
/// Request validation, `/images`, prebuild base images, run defaults and the workers' warm pool
/// all read it. Each entry's values come from `runtimes/<name>/runtime.json` and
/// `completions.json` (`RUNTIME_DIR`), falling back to the built-in values for a folder that is
/// missing. Whether a runtime can run right now is a separate question, answered from the
/// images the workers report.
public struct RuntimeCatalog: Sendable {
    public struct Entry: Sendable {
        /// The short name users send (`python`).
        public var shortName: String
        public var name: String
        public var description: String
        public var defaultEntrypoint: String
        public var fileExtension: String
        /// The file a request's `code` is written to.
        public var mainFile: String
        public var completions: JSONValue
        /// The runtime's own default memory when it needs more than `DEFAULT_MEMORY`.
        public var minimumMemoryBytes: Int64?
        /// What the image carries (interpreter, compilers, libraries) and their versions, as
        /// `runtime.json` lists them; `scripts/build-images.sh` refuses an image whose probes
        /// report other versions, so the list is what the built image has. Empty without a file.
        public var packages: [Package] = []
        /// Judge mode's compile step, run once before the cases (`runtime.json`'s
        /// `judge_build`); nil: none.
        public var judgeBuildCommand: String? = nil
        /// What each judge-mode case runs (`judge_run`); nil: the image's default command.
        public var judgeRunCommand: String? = nil
        /// Output-file patterns every run of this runtime gets back without asking
        /// (`auto_output_files`: Python's saved matplotlib figures, `figure-*.png`).
        public var autoOutputFiles: [String] = []

        /// `code-runner-<shortName>`: the runtime's image on every worker's engine.
        public var imageName: String { ImageReference.runtimeImage(shortName) }
    }

    /// A program or library an image carries, e.g. `numpy` `2.2.4`.
    public struct Package: Sendable, Equatable, Codable {
        public var name: String
        public var version: String

        public init(name: String, version: String) {
            self.name = name
            self.version = version
        }
    }

    public private(set) var entries: [Entry]

    /// The entry of a runtime by its short name.
    public func entry(for shortName: String) -> Entry? {
        entries.first { $0.shortName == shortName }
    }

    /// The runtime a request without `image` gets, and the one the warm pool keeps ready.
    public var defaultEntry: Entry { entries[0] }

    /// The default runtime's short name (`python`).
    public static var defaultRuntime: String { builtIn[0].shortName }

    /// Every runtime's short name, in the catalogue's order.
    public static var runtimeNames: [String] { builtIn.map(\.shortName) }

    /// The built-in catalogue, without the runtime folders' values.
    public static var builtInCatalog: RuntimeCatalog { RuntimeCatalog(entries: builtIn) }

    /// The list itself. The first entry is the default runtime.
    private static let builtIn: [Entry] = [
        Entry(
            shortName: "python",
            name: "Python",
            description: "Python 3 runtime",
            defaultEntrypoint: "python3 main.py",
            fileExtension: ".py",
            mainFile: "main.py",
            completions: .array([])
        ),
        Entry(
            shortName: "node",
            name: "Node.js",
            description: "Node.js runtime",
            defaultEntrypoint: "node main.js",
            fileExtension: ".js",
            mainFile: "main.js",
            completions: .array([])
        ),
        Entry(
            shortName: "bun",
            name: "Bun",
            description: "Bun runtime with TypeScript support",
            defaultEntrypoint: "bun run main.ts",
            fileExtension: ".ts",
            mainFile: "main.ts",
            completions: .array([])
        ),
        Entry(
            shortName: "go",
            name: "Go",
            description: "Go runtime",
            defaultEntrypoint: "go run .",
            fileExtension: ".go",
            mainFile: "main.go",
            completions: .array([])
        ),
        Entry(
            shortName: "deno",
            name: "Deno",
            description: "Deno runtime with TypeScript support",
            defaultEntrypoint: "deno run main.ts",
            fileExtension: ".ts",
            mainFile: "main.ts",
            completions: .array([])
        ),
        Entry(
            shortName: "rust",
            name: "Rust",
            description: "Rust runtime",
            defaultEntrypoint: "rustc main.rs && ./main",
            fileExtension: ".rs",
            mainFile: "main.rs",
            completions: .array([])
        ),
    ]

    /// `runtimes/<name>/runtime.json` as written by the runtime's author.
    private struct EntryFile: Decodable {
        var name: String
        var description: String
        var defaultEntrypoint: String
        var fileExtension: String
        var mainFile: String
        var minMemory: String?
        var packages: [Package]?
        var judgeBuild: String?
        var judgeRun: String?
        var autoOutputFiles: [String]?

        enum CodingKeys: String, CodingKey {
            case name, description
            case defaultEntrypoint = "default_entrypoint"
            case fileExtension = "file_extension"
            case mainFile = "main_file"
            case minMemory = "min_memory"
            case packages
            case judgeBuild = "judge_build"
            case judgeRun = "judge_run"
            case autoOutputFiles = "auto_output_files"
        }
    }

    /// Reads the catalogue from `directory`; unreadable files are logged and replaced by the
    /// built-in entry.
    public static func load(from directory: String, logger: Logger) -> RuntimeCatalog {
        let root = URL(fileURLWithPath: directory)
        let entries = builtIn.map { fallback -> Entry in
            var entry = fallback
            let folder = root.appendingPathComponent(fallback.shortName)
            if let data = try? Data(contentsOf: folder.appendingPathComponent("runtime.json")) {
                do {
                    let file = try JSONDecoder().decode(EntryFile.self, from: data)
                    entry.name = file.name
                    entry.description = file.description
                    entry.defaultEntrypoint = file.defaultEntrypoint
                    entry.fileExtension = file.fileExtension
                    entry.mainFile = file.mainFile
                    entry.minimumMemoryBytes = file.minMemory.flatMap(ByteSize.parse)
                    entry.packages = file.packages ?? []
                    entry.judgeBuildCommand = file.judgeBuild
                    entry.judgeRunCommand = file.judgeRun
                    entry.autoOutputFiles = file.autoOutputFiles ?? []
                } catch {
                    logger.warning(
                        "unreadable runtime.json; using the built-in entry",
                        metadata: ["runtime": "\(fallback.shortName)", "error": "\(error)"]
                    )
                }
            }
            if let data = try? Data(contentsOf: folder.appendingPathComponent("completions.json")) {
                if let completions = JSONValue.parse(data) {
                    entry.completions = completions
                } else {
                    logger.warning("unreadable completions.json; none listed", metadata: ["runtime": "\(fallback.shortName)"])
                }
            }
            return entry
        }
        return RuntimeCatalog(entries: entries)
    }
}
