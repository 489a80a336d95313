import Queue

/// A run the system could not carry out: the failure the client will see, and whether another
/// attempt may succeed (engine unreachable) or not (image missing, engine refused the spec).
///
/// `failure.detail` reaches clients (the job's `error.detail`, the 500 of `POST /run`), so it is
/// always a readable sentence: never `String(describing:)` of a Swift error value. The full
/// error goes to `logDetail`, which the worker logs with the job's outcome.
struct ExecutionFailure: Error {
    var failure: JobFailure
    var retryable: Bool
    /// The engine could not be reached at all: the job is given back without using an attempt.
    var engineUnreachable = false
    /// The whole error, for the log line only.
    var logDetail: String

    /// A 500 whose client-facing detail is "An unexpected error occurred: <reason>."; `reason`
    /// must be a sentence of ours, `logDetail` carries the underlying error.
    static func unexpected(_ reason: String, retryable: Bool, logDetail: String? = nil) -> ExecutionFailure {
        ExecutionFailure(
            failure: JobFailure(statusCode: 500, detail: "An unexpected error occurred: \(reason)"),
            retryable: retryable,
            logDetail: logDetail ?? reason
        )
    }

    /// Any other error met while running a job (not an engine error, not one of ours).
    static func internalError(_ error: any Error, while step: String) -> ExecutionFailure {
        .unexpected("the worker failed while \(step)", retryable: true, logDetail: "\(step): \(error)")
    }

    /// Maps an engine error met while preparing or running a container.
    init(engineError error: DockerEngineError, image: String) {
        switch error {
        case _ where error.isMissingImage:
            self.init(
                failure: JobFailure(statusCode: 404, detail: "Image '\(image)' not found. Build it with: make images"),
                retryable: false,
                logDetail: error.description
            )
        case .status(_, let message):
            // the engine's own words (e.g. an invalid limit), not a Swift value
            self = .unexpected(message, retryable: false, logDetail: error.description)
        case .unreachable:
            self = .unexpected(error.message, retryable: true, logDetail: error.description)
            engineUnreachable = true
        case .malformedResponse, .streamBroken:
            self = .unexpected(error.message, retryable: true, logDetail: error.description)
        }
    }

    init(failure: JobFailure, retryable: Bool, logDetail: String? = nil) {
        self.failure = failure
        self.retryable = retryable
        self.logDetail = logDetail ?? failure.detail
    }
}
