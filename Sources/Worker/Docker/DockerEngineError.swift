/// A failure talking to the Docker engine.
enum DockerEngineError: Error, CustomStringConvertible {
    /// The engine answered with an error status; `message` is its `{"message": …}`.
    case status(code: Int, message: String)
    /// The engine could not be reached or the connection broke.
    case unreachable(String)
    /// The engine answered something this client does not understand.
    case malformedResponse(String)

    var description: String {
        switch self {
        case .status(let code, let message): "Docker engine error \(code): \(message)"
        case .unreachable(let reason): "Docker engine unreachable: \(reason)"
        case .malformedResponse(let reason): "unexpected answer from the Docker engine: \(reason)"
        }
    }

    /// True for "no such image" answers to a container create.
    var isMissingImage: Bool {
        if case .status(404, let message) = self { return message.lowercased().contains("no such image") }
        return false
    }

    /// True when the object (container, image) does not exist.
    var isNotFound: Bool {
        if case .status(404, _) = self { return true }
        return false
    }
}
