import Foundation
import Protocol
import SwiftProtobuf
import Transport

extension LearnerEvent {
    /// One JSON object per event, for stdout (scripts and tests read these lines).
    public var jsonLine: String {
        switch self {
        case .ready(let runID, let data, let weights, let control, let metrics):
            let object: [String: Any] = ["event": "ready", "run_id": runID, "data": data, "weights": weights, "control": control,
                                         "metrics": metrics ?? NSNull()]
            let bytes = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            return String(decoding: bytes, as: UTF8.self)
        case .summary(let status, let transport, let ingest, let solved, let runDirectory):
            var options = JSONEncodingOptions()
            options.alwaysPrintInt64sAsNumbers = true
            options.preserveProtoFieldNames = true
            let statusJSON = (try? status.jsonString(options: options)) ?? "{}"
            let seconds = ingest.map(\.inSeconds) ?? 0
            let solvedJSON = solved.map { "{\"seconds\":\($0.seconds),\"steps\":\($0.steps),\"updates\":\($0.updates),\"unix_time\":\($0.unixTime)}" } ?? "null"
            return """
                {"event":"summary","ingest_seconds":\(seconds),"solved":\(solvedJSON),"run_directory":\(runDirectory.map { "\"\($0)\"" } ?? "null"),"status":\(statusJSON),"transport":{"messages_received":\(transport.messagesReceived),\
                "messages_sent":\(transport.messagesSent),"bytes_received":\(transport.bytesReceived),\
                "sends_unroutable":\(transport.sendsUnroutable),"sends_dropped":\(transport.sendsDropped),\
                "sends_failed":\(transport.sendsFailed),"messages_truncated":\(transport.messagesTruncated)}}
                """
        }
    }
}
