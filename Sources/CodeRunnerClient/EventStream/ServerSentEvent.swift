/// One event of a `text/event-stream` body, as the HTML standard's parser dispatches it.
struct ServerSentEvent: Sendable, Equatable {
    /// The `event:` field; `message` when the event had none.
    var type: String
    /// The `data:` lines, joined with `\n`.
    var data: String
    /// The stream's last event id when the event was dispatched: the latest `id:` field, which
    /// carries over to later events that have none; empty when the stream has set none.
    var id: String

    init(type: String = "message", data: String, id: String = "") {
        self.type = type
        self.data = data
        self.id = id
    }
}
