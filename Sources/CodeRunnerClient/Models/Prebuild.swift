import Foundation

/// A request to build a prebuilt image: a runtime image plus a setup script run once at build time.
public struct PrebuildRequest: Sendable, Equatable, Codable {
    /// The tag, `[a-z0-9][a-z0-9._-]{0,127}`; the image is called `prebuilt-<tag>`.
    public var tag: String
    /// The runtime to start from.
    public var baseImage: Runtime
    /// A shell script run in the image at build time (e.g. `pip install requests`).
    public var setupScript: String

    public init(tag: String, baseImage: Runtime = .python, setupScript: String) {
        self.tag = tag
        self.baseImage = baseImage
        self.setupScript = setupScript
    }

    enum CodingKeys: String, CodingKey {
        case tag
        case baseImage = "base_image"
        case setupScript = "setup_script"
    }
}

/// Where a prebuilt image is: being built, ready to use, or failed.
public enum PrebuildStatus: String, Sendable, Codable {
    case building, ready, failed
}

/// A prebuilt image as `POST /prebuild`, `GET /prebuilds` and `GET /prebuilds/{tag}` show it.
public struct Prebuild: Sendable, Equatable, Codable {
    /// The image name, `prebuilt-<tag>`.
    public var tag: String
    /// The runtime image it starts from, e.g. `code-runner-python`.
    public var baseImage: String
    public var sizeBytes: Int64?
    /// The size the setup script added (only in the answer to a build).
    public var layerSizeBytes: Int64?
    public var status: PrebuildStatus?
    /// When it was last built (or recorded).
    public var created: Date?
    public var lastUsed: Date?
    /// The build's output (only from `prebuild(tag:)`).
    public var buildLog: String?

    enum CodingKeys: String, CodingKey {
        case tag, status, created
        case baseImage = "base_image"
        case sizeBytes = "size_bytes"
        case layerSizeBytes = "layer_size_bytes"
        case lastUsed = "last_used"
        case buildLog = "build_log"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        tag = try container.decode(String.self, forKey: .tag)
        baseImage = try container.decode(String.self, forKey: .baseImage)
        sizeBytes = try container.decodeIfPresent(Int64.self, forKey: .sizeBytes)
        layerSizeBytes = try container.decodeIfPresent(Int64.self, forKey: .layerSizeBytes)
        status = try container.decodeIfPresent(PrebuildStatus.self, forKey: .status)
        created = try Timestamp.decode(container, .created)
        lastUsed = try Timestamp.decode(container, .lastUsed)
        buildLog = try container.decodeIfPresent(String.self, forKey: .buildLog)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(tag, forKey: .tag)
        try container.encode(baseImage, forKey: .baseImage)
        try container.encodeIfPresent(sizeBytes, forKey: .sizeBytes)
        try container.encodeIfPresent(layerSizeBytes, forKey: .layerSizeBytes)
        try container.encodeIfPresent(status, forKey: .status)
        try container.encodeIfPresent(created.map(Timestamp.string), forKey: .created)
        try container.encodeIfPresent(lastUsed.map(Timestamp.string), forKey: .lastUsed)
        try container.encodeIfPresent(buildLog, forKey: .buildLog)
    }
}

/// The answer to `POST /prebuilds/cleanup`.
public struct PrebuildCleanup: Sendable, Equatable, Codable {
    /// The image names removed.
    public var removed: [String]
    public var count: Int
}

/// The body of `GET /prebuilds`.
struct PrebuildList: Decodable {
    var prebuilds: [Prebuild]
}
