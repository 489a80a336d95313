import Foundation

/// One file a run left in its work directory that matched its `output_files` patterns (or the
/// runtime's automatic ones, e.g. Python's saved figures): returned in the result and served by
/// `GET /jobs/{id}/files/{path}`.
public struct OutputFile: Codable, Sendable, Equatable {
    /// Relative to the work directory, `/`-separated, as the run named it.
    public var path: String
    /// Guessed from the path's extension (`MediaType.guess`).
    public var mediaType: String
    public var content: Data

    public init(path: String, mediaType: String, content: Data) {
        self.path = path
        self.mediaType = mediaType
        self.content = content
    }

    public var size: Int { content.count }
}

/// What a run asks to get back of its work directory: glob patterns and the deployment's caps,
/// resolved by the API (`MAX_OUTPUT_FILES`, `MAX_OUTPUT_FILE_BYTES`).
///
/// Patterns are matched by the sandbox's supervisor (`runtimes/common/outputs.c`): segments
/// separated by `/`, each a shell glob for one path component (`*` and `?` never match a
/// leading dot); `**` matches zero or more directories, and a trailing `**` every file below.
/// Only regular files come back; symbolic links are never followed.
public struct OutputFilesRequest: Codable, Sendable, Equatable {
    public var patterns: [String]
    /// The most files one run returns.
    public var maxFiles: Int
    /// The most bytes of content all of a run's files together may have. A file that does not
    /// fit whole is left out (and the result flagged), never cut.
    public var maxBytes: Int
    /// Whether the answer has `files` (then `[]`) when nothing matched: true when the request
    /// named patterns; false for the runtime's automatic ones alone, whose runs keep the
    /// answer's usual keys unless a file did come back.
    public var reportsEmpty: Bool

    public init(patterns: [String], maxFiles: Int, maxBytes: Int, reportsEmpty: Bool) {
        self.patterns = patterns
        self.maxFiles = maxFiles
        self.maxBytes = maxBytes
        self.reportsEmpty = reportsEmpty
    }

    /// Nil when there is no pattern: nothing to collect.
    public var nonEmpty: OutputFilesRequest? { patterns.isEmpty ? nil : self }
}

/// Media types of output files, from their extension.
public enum MediaType {
    /// The media type for `path`'s extension (case-insensitive), `application/octet-stream`
    /// for an unknown one.
    public static func guess(forPath path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return fallback }
        return byExtension[name[name.index(after: dot)...].lowercased()] ?? fallback
    }

    public static let fallback = "application/octet-stream"

    /// Whether a browser may show it inline without running anything: images other than SVG,
    /// plain text kinds, PDF. Everything else is served as an attachment.
    public static func isInlineSafe(_ mediaType: String) -> Bool {
        (mediaType.hasPrefix("image/") && mediaType != "image/svg+xml") || mediaType.hasPrefix("text/plain")
            || mediaType == "text/csv" || mediaType == "application/json" || mediaType == "application/pdf"
    }

    private static let byExtension: [String: String] = [
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp",
        "svg": "image/svg+xml", "bmp": "image/bmp", "ico": "image/x-icon", "tif": "image/tiff", "tiff": "image/tiff",
        "pdf": "application/pdf", "json": "application/json", "csv": "text/csv", "tsv": "text/tab-separated-values",
        "txt": "text/plain; charset=utf-8", "log": "text/plain; charset=utf-8", "md": "text/markdown",
        "html": "text/html", "htm": "text/html", "xml": "application/xml", "yaml": "application/yaml",
        "yml": "application/yaml", "zip": "application/zip", "gz": "application/gzip", "tar": "application/x-tar",
        "wav": "audio/wav", "mp3": "audio/mpeg", "mp4": "video/mp4", "parquet": "application/vnd.apache.parquet",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "npy": "application/octet-stream",
    ]
}
