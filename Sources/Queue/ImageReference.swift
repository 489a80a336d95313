/// What a run's `image` names, and the one place image names are spelled: a runtime image
/// built by `make images` (`code-runner-<runtime>`) or a user's prebuilt image
/// (`prebuilt-<tag>`, stored on the engine under its owner's reference: `PrebuildKey`).
public enum ImageReference: Sendable, Hashable {
    /// A runtime of the catalogue, by its short name (`python`).
    case runtime(String)
    /// A prebuilt image, by the user's tag without the prefix (`mytools`).
    case prebuilt(tag: String)

    /// The prefix of every runtime image (`code-runner-python`).
    public static let runtimePrefix = "code-runner-"
    /// The prefix of every prebuilt image's public name (`prebuilt-mytools`).
    public static let prebuiltPrefix = "prebuilt-"
    /// The prefixes of every image this service makes: what a worker lists on its engine.
    public static let servicePrefixes = [runtimePrefix, prebuiltPrefix]

    /// The name users see and send, which for a runtime is also its engine reference.
    public var publicName: String {
        switch self {
        case .runtime(let name): Self.runtimePrefix + name
        case .prebuilt(let tag): Self.prebuiltPrefix + tag
        }
    }

    /// The runtime image of `runtime` (`code-runner-python` for `python`).
    public static func runtimeImage(_ name: String) -> String { ImageReference.runtime(name).publicName }

    /// The seed's normalisation, made strict: a runtime of `runtimes` by short name (optionally
    /// `code-runner-` prefixed), else a prebuilt tag (optionally `prebuilt-` prefixed) of the
    /// allowed pattern; nil for anything else.
    public static func parse(_ name: String, runtimes: some Sequence<String>) -> ImageReference? {
        if let runtime = runtimeName(name, among: runtimes) { return .runtime(runtime) }
        let tag = shortTag(name)
        return isValidTag(tag) ? .prebuilt(tag: tag) : nil
    }

    /// The runtime `name` designates (`python` or `code-runner-python`), when it is one of
    /// `runtimes`.
    public static func runtimeName(_ name: String, among runtimes: some Sequence<String>) -> String? {
        let short = name.hasPrefix(runtimePrefix) ? String(name.dropFirst(runtimePrefix.count)) : name
        return runtimes.contains(short) ? short : nil
    }

    /// The runtime of an engine image reference (`python` for `code-runner-python`), or nil for
    /// a prebuilt or foreign image.
    public static func runtime(ofImage image: String) -> String? {
        image.hasPrefix(runtimePrefix) ? String(image.dropFirst(runtimePrefix.count)) : nil
    }

    /// `name` without an optional `prebuilt-` prefix.
    public static func shortTag(_ name: String) -> String {
        name.hasPrefix(prebuiltPrefix) ? String(name.dropFirst(prebuiltPrefix.count)) : name
    }

    /// A prebuilt tag's pattern: `[a-z0-9][a-z0-9._-]{0,127}`.
    public static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard let first = bytes.first, bytes.count <= 128 else { return false }
        func isLowerAlphanumeric(_ byte: UInt8) -> Bool { (0x61...0x7a).contains(byte) || (0x30...0x39).contains(byte) }
        return isLowerAlphanumeric(first)
            && bytes.dropFirst().allSatisfy {
                isLowerAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
            }
    }
}
