/// The name of a language runtime the service offers (`python`, `node`, `go`, `rust`, `deno`,
/// `bun`). Any other string is allowed so that a newer service's runtimes stay usable.
public struct Runtime: RawRepresentable, Hashable, Sendable, Codable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public static let python: Runtime = "python"
    public static let node: Runtime = "node"
    public static let go: Runtime = "go"
    public static let rust: Runtime = "rust"
    public static let deno: Runtime = "deno"
    public static let bun: Runtime = "bun"

    /// The six runtimes of the service's catalogue, in its order.
    public static let all: [Runtime] = [.python, .node, .bun, .go, .deno, .rust]

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// One entry of `GET /runtimes`: a runtime and whether a live worker has its image.
public struct RuntimeInfo: Sendable, Equatable, Codable {
    /// The Docker image, e.g. `code-runner-python`.
    public var id: String
    /// The display name, e.g. `Python`.
    public var name: String
    public var description: String
    /// The command that runs the main file, e.g. `python3 main.py`.
    public var defaultEntrypoint: String
    /// The main file's extension, e.g. `.py`.
    public var fileExtension: String
    /// The name the request's `code` is written to, e.g. `main.py`.
    public var mainFile: String
    /// What the image carries (interpreter, tools, libraries) with versions; `nil` from a
    /// service that does not list them (quartermaster-code-runner).
    public var packages: [RuntimePackage]?
    /// Whether a live worker reports this runtime's image.
    public var available: Bool?

    /// The short runtime name (`python` for `code-runner-python`).
    public var runtime: Runtime {
        Runtime(rawValue: ImageName.runtimeName(of: id))
    }

    enum CodingKeys: String, CodingKey {
        case id, name, description, packages, available
        case defaultEntrypoint = "default_entrypoint"
        case fileExtension = "file_extension"
        case mainFile = "main_file"
    }
}

/// A program or library a runtime's image carries, e.g. `numpy` `2.2.4`.
public struct RuntimePackage: Sendable, Equatable, Codable {
    public var name: String
    public var version: String

    public init(name: String, version: String) {
        self.name = name
        self.version = version
    }
}

/// The body of `GET /runtimes`.
struct RuntimeList: Decodable {
    var images: [RuntimeInfo]
}
