/// A failure talking to the Docker engine.
///
/// `description` is the full story for the log (it may quote the HTTP client's or NIO's own
/// error values); `message` is a sentence fit for a client, with no internal type in it.
enum DockerEngineError: Error, CustomStringConvertible {
    /// The engine answered with an error status; `message` is its `{"message": …}`.
    case status(code: Int, message: String)
    /// The engine could not be reached or the connection broke.
    case unreachable(String)
    /// The engine answered something this client does not understand.
    case malformedResponse(String)
    /// A container's attach stream ended with an I/O error instead of a clean end of stream:
    /// the engine (or the connection to it) failed while the program ran.
    case streamBroken(String)

    var description: String {
        switch self {
        case .status(let code, let message): "Docker engine error \(code): \(message)"
        case .unreachable(let reason): "Docker engine unreachable: \(reason)"
        case .malformedResponse(let reason): "unexpected answer from the Docker engine: \(reason)"
        case .streamBroken(let reason): "the container's output stream broke: \(reason)"
        }
    }

    /// What a client may be told: the engine's own message for an error status (the engine's
    /// words, e.g. "No such image: x"), a fixed sentence otherwise.
    var message: String {
        switch self {
        case .status(let code, let message): "the Docker engine refused the request (HTTP \(code)): \(message)"
        case .unreachable: "the Docker engine could not be reached"
        case .malformedResponse: "the Docker engine gave an answer the worker could not read"
        case .streamBroken: "the connection to the container's output broke before the container ended"
        }
    }

    /// True for "no such image" answers to a container create.
    var isMissingImage: Bool {
        if case .status(404, let message) = self { return message.lowercased().contains("no such image") }
        return false
    }

    /// True for a container create naming a network that does not exist (any more: the last
    /// worker of a deployment removes its network when it stops).
    var isMissingNetwork: Bool {
        if case .status(404, let message) = self {
            let lowered = message.lowercased()
            return lowered.contains("network") && lowered.contains("not found")
        }
        return false
    }

    /// True when the object (container, image) does not exist.
    var isNotFound: Bool {
        if case .status(404, _) = self { return true }
        return false
    }
}
