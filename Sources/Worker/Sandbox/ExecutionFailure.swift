import Queue

/// A run the system could not carry out: the failure the client will see, and whether another
/// attempt may succeed (engine unreachable) or not (image missing, engine refused the spec).
struct ExecutionFailure: Error {
    var failure: JobFailure
    var retryable: Bool
    /// The engine could not be reached at all: the job is given back without using an attempt.
    var engineUnreachable = false

    static func unexpected(_ reason: String, retryable: Bool) -> ExecutionFailure {
        ExecutionFailure(
            failure: JobFailure(statusCode: 500, detail: "An unexpected error occurred: \(reason)"),
            retryable: retryable)
    }

    /// Maps an engine error met while preparing or running a container.
    init(engineError error: DockerEngineError, image: String) {
        switch error {
        case _ where error.isMissingImage:
            self.init(
                failure: JobFailure(statusCode: 404, detail: "Image '\(image)' not found. Build it with: make images"),
                retryable: false)
        case .status(_, let message):
            self = .unexpected(message, retryable: false)
        case .unreachable(let reason):
            self = .unexpected(reason, retryable: true)
            engineUnreachable = true
        case .malformedResponse(let reason):
            self = .unexpected(reason, retryable: true)
        }
    }

    init(failure: JobFailure, retryable: Bool) {
        self.failure = failure
        self.retryable = retryable
    }
}
