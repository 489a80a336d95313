import Foundation

/// A file a run left in its work directory that matched its output-file patterns.
public struct OutputFile: Sendable, Equatable, Codable {
    /// Relative to the work directory, `/`-separated.
    public var path: String
    public var size: Int
    /// Guessed by the service from the path's extension (`application/octet-stream` when unknown).
    public var mediaType: String
    /// The file's bytes.
    public var content: Data

    public init(path: String, mediaType: String, content: Data) {
        self.path = path
        self.size = content.count
        self.mediaType = mediaType
        self.content = content
    }

    enum CodingKeys: String, CodingKey {
        case path, size
        case mediaType = "media_type"
        case content = "content_base64"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        path = try container.decode(String.self, forKey: .path)
        size = try container.decode(Int.self, forKey: .size)
        mediaType = try container.decode(String.self, forKey: .mediaType)
        let text = try container.decode(String.self, forKey: .content)
        guard let content = Data(base64Encoded: text) else {
            throw DecodingError.dataCorruptedError(forKey: .content, in: container, debugDescription: "content_base64 is not base64")
        }
        self.content = content
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(path, forKey: .path)
        try container.encode(size, forKey: .size)
        try container.encode(mediaType, forKey: .mediaType)
        try container.encode(content.base64EncodedString(), forKey: .content)
    }
}
