import Foundation
import Protocol
import SwiftProtobuf

/// Renders a status reply for people (`tributary status`) and for scripts (`--json`).
public enum StatusFormatter {
    public static func text(_ s: Tributary_V1_StatusReply) -> String {
        var lines: [String] = []
        let uptime = Double(s.uptimeMs) / 1000
        lines.append("run \(s.runID)   up \(String(format: "%.1f", uptime)) s   policy version \(s.policyVersion)   protocol v\(s.protocolVersion)")
        lines.append("workers \(s.workersConnected) connected, \(s.workersExpired) expired")
        let rejected = s.rejected.values.reduce(0, +)
        lines.append("chunks  received \(s.chunksReceived)  accepted \(s.chunksAccepted)  consumed \(s.chunksConsumed)  buffered \(s.bufferedChunks)")
        lines.append("steps   \(s.stepsReceived)   bytes \(s.bytesReceived)   messages \(s.messagesReceived)")
        if rejected > 0 {
            let reasons = s.rejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            lines.append("rejected \(rejected): \(reasons)")
        } else {
            lines.append("rejected 0")
        }
        if !s.workers.isEmpty {
            lines.append("")
            lines.append(pad("WORKER", 24) + pad("INCARNATION", 22) + pad("HOST", 16) + pad("RECV", 8) + pad("REJ", 6) + pad("CRED", 6) + pad("VERSION", 9) + pad("SEEN", 9) + "STATE")
            for w in s.workers {
                let seen = "\(w.lastSeenMsAgo) ms"
                let state = w.expired ? w.expiredReason : "connected"
                lines.append(pad(w.workerID, 24) + pad(String(w.incarnation), 22) + pad(w.host, 16) + pad(String(w.chunksReceived), 8)
                    + pad(String(w.chunksRejected), 6) + pad(String(w.creditsOutstanding), 6) + pad(String(w.actingVersion), 9)
                    + pad(seen, 9) + state)
            }
        }
        return lines.joined(separator: "\n")
    }

    public static func json(_ s: Tributary_V1_StatusReply) throws -> String {
        var options = JSONEncodingOptions()
        options.alwaysPrintInt64sAsNumbers = true
        options.preserveProtoFieldNames = true
        return try s.jsonString(options: options)
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        let cut = s.count >= width ? String(s.prefix(width - 1)) : s
        return cut.padding(toLength: width, withPad: " ", startingAt: 0)
    }
}
