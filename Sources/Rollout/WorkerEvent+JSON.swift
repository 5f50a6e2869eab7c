import Foundation

extension WorkerEvent {
    /// One JSON object per event, for stdout (scripts and tests read these lines).
    public var jsonLine: String {
        let object: [String: Any]
        switch self {
        case .session(let incarnation, let runID):
            object = ["event": "session", "incarnation": incarnation, "run_id": runID]
        case .acting(let incarnation, let unixTime):
            object = ["event": "acting", "incarnation": incarnation, "unix_time": unixTime]
        case .chunkSent(let incarnation, let sequence):
            object = ["event": "chunk_sent", "incarnation": incarnation, "sequence": sequence]
        case .summary(let incarnations):
            object = [
                "event": "summary",
                "incarnations": incarnations.map {
                    [
                        "incarnation": $0.incarnation, "welcomed": $0.welcomed, "sent": $0.sent, "acked": $0.acked,
                        "rejected": $0.rejected, "unconfirmed": $0.unconfirmed, "ended": $0.ended,
                    ] as [String: Any]
                },
            ]
        }
        let bytes = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: bytes, as: UTF8.self)
    }
}
