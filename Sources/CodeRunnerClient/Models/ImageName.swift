/// The service's image names as the client spells them (the client depends on no target of the
/// service, so this mirrors the service's `ImageReference`): runtimes are `code-runner-<name>`,
/// prebuilt images `prebuilt-<tag>`.
public enum ImageName {
    public static let runtimePrefix = "code-runner-"
    public static let prebuiltPrefix = "prebuilt-"

    /// `prebuilt-<tag>`, whether or not `tag` already has the prefix.
    public static func prebuilt(_ tag: String) -> String {
        tag.hasPrefix(prebuiltPrefix) ? tag : prebuiltPrefix + tag
    }

    /// The runtime's short name of an image id (`python` for `code-runner-python`); other names
    /// unchanged.
    public static func runtimeName(of id: String) -> String {
        id.hasPrefix(runtimePrefix) ? String(id.dropFirst(runtimePrefix.count)) : id
    }
}
