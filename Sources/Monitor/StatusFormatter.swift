import Foundation
import Protocol
import SwiftProtobuf

/// Renders a status reply for people (`tributary status`) and for scripts (`--json`).
public enum StatusFormatter {
    public static func text(_ s: Tributary_V1_StatusReply) -> String {
        var lines: [String] = []
        let uptime = Double(s.uptimeMs) / 1000
        lines.append("run \(s.runID)   up \(String(format: "%.1f", uptime)) s   policy version \(s.policyVersion)   protocol v\(s.protocolVersion)")
        lines.append(String(format: "rates   %.1f updates/s   %@ env steps/s   (last 5 s)   updates %llu", s.updatesPerSecond,
                            TextFormat.group(UInt64(s.envStepsPerSecond.rounded())), s.updates))
        lines.append("workers \(s.workersConnected) connected (at most \(s.admission.maxWorkers)), \(s.workersExpired) expired   security \(s.security.isEmpty ? "–" : s.security)")
        if !s.health.isEmpty, s.health != "ok" {
            lines.append("health  \(s.health.uppercased())\(s.healthReason.isEmpty ? "" : ": \(s.healthReason)")")
        }
        if !s.updatesSkipped.isEmpty {
            lines.append("updates skipped  " + s.updatesSkipped.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if s.hasAdmission {
            let a = s.admission
            lines.append(String(format: "memory  %@ of %@ held (credits in flight + buffer), %llu credits in flight",
                                TextFormat.bytes(a.memoryHeldBytes), TextFormat.bytes(a.memoryBudgetBytes), a.creditsInFlight))
        }
        if s.hasTransport {
            let t = s.transport
            let failed = t.handshakesFailed.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            lines.append("connections  accepted \(t.connectionsAccepted), closed \(t.connectionsClosed)\(failed.isEmpty ? "" : ", handshakes failed: \(failed)")")
        }
        let rejected = s.rejected.values.reduce(0, +)
        lines.append("messages  chunks received \(s.chunksReceived)  accepted \(s.chunksAccepted)  consumed \(s.chunksConsumed)")
        lines.append("steps   \(s.stepsReceived)   bytes \(s.bytesReceived)   messages \(s.messagesReceived)")
        if rejected > 0 {
            let reasons = s.rejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            lines.append("rejected \(rejected): \(reasons)")
        } else {
            lines.append("rejected 0")
        }
        if s.hasAccounting {
            let a = s.accounting
            let dropped = a.dropped.values.reduce(0, +)
            let reasons = a.dropped.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            let balanced = a.received == a.trained + dropped + a.buffered ? "=" : "≠ (accounting error!)"
            if s.hasBuffer, s.buffer.capacityChunks > 0 {
                lines.append(String(format: "buffer  %llu / %llu chunks (%.1f%% full), %llu columns", a.buffered, s.buffer.capacityChunks,
                                    100 * Double(a.buffered) / Double(s.buffer.capacityChunks), s.bufferedColumns))
            }
            lines.append("chunks  received \(a.received) \(balanced) trained \(a.trained) + dropped \(dropped)\(reasons.isEmpty ? "" : " (\(reasons))") + buffered \(a.buffered)   uses \(a.trainingUses)")
        }
        if s.hasBuffer {
            let b = s.buffer
            lines.append("staleness  η \(b.hasEta ? String(b.eta) : "unbounded")   max_lag \(b.hasMaxLag ? String(b.maxLag) : "none")   reuse \(b.maxReuse)   order \(b.order)   correction \(b.correction)")
        }
        if s.hasTrainedLag, let q = quantiles(s.trainedLag.counts) {
            lines.append("lag of trained samples  p50 \(q.p50)  p90 \(q.p90)  p99 \(q.p99)  max \(q.max)   (versions)")
        }
        if !s.workers.isEmpty {
            lines.append("")
            lines += workerTable(s.workers)
        }
        return lines.joined(separator: "\n")
    }

    /// A row per worker incarnation: connected ones first, then those that left, with why.
    public static func workerTable(_ workers: [Tributary_V1_WorkerStatus]) -> [String] {
        // With CURVE the authenticated key's name says who a worker is; its claimed host does not.
        let keyed = workers.contains { !$0.keyName.isEmpty }
        var lines = [pad("WORKER", 24) + pad("INCARNATION", 22) + pad(keyed ? "KEY" : "HOST", 16) + pad("RECV", 8) + pad("CHUNK/S", 9) + pad("REJ", 6) + pad("CRED", 6) + pad("VERSION", 9) + pad("SEEN", 9) + "STATE"]
        for w in workers {
            let seen = "\(w.lastSeenMsAgo) ms"
            let state = w.expired ? w.expiredReason : "connected"
            lines.append(pad(w.workerID, 24) + pad(String(w.incarnation), 22) + pad(keyed ? w.keyName : w.host, 16) + pad(String(w.chunksReceived), 8)
                + pad(w.expired ? "–" : String(format: "%.1f", w.chunksPerSecond), 9) + pad(String(w.chunksRejected), 6) + pad(String(w.creditsOutstanding), 6) + pad(String(w.actingVersion), 9)
                + pad(seen, 9) + state)
        }
        if workers.isEmpty { lines.append("(no workers)") }
        return lines
    }

    /// The StatusReply in protobuf's JSON mapping; with `workersOnly`, `{"workers": [...]}`.
    public static func json(_ s: Tributary_V1_StatusReply, workersOnly: Bool = false) throws -> String {
        var options = JSONEncodingOptions()
        options.alwaysPrintInt64sAsNumbers = true
        options.preserveProtoFieldNames = true
        if workersOnly {
            var only = Tributary_V1_StatusReply()
            only.workers = s.workers
            return try only.jsonString(options: options)
        }
        return try s.jsonString(options: options)
    }

    /// p50/p90/p99/max of a lag histogram (counts[i] samples at lag i; the last bucket of a
    /// full 65-bucket histogram means "64 or more", shown as "64+").
    public static func quantiles(_ counts: [UInt64]) -> (p50: String, p90: String, p99: String, max: String)? {
        let total = counts.reduce(0, +)
        guard total > 0 else { return nil }
        func label(_ i: Int) -> String { i == 64 ? "64+" : String(i) }
        func q(_ f: Double) -> String {
            let target = max(1, UInt64((Double(total) * f).rounded(.up)))
            var seen: UInt64 = 0
            for (i, c) in counts.enumerated() {
                seen += c
                if seen >= target { return label(i) }
            }
            return label(counts.count - 1)
        }
        return (q(0.5), q(0.9), q(0.99), label(counts.lastIndex(where: { $0 > 0 })!))
    }

    private static func pad(_ s: String, _ width: Int) -> String { TextFormat.pad(s, width) }
}
