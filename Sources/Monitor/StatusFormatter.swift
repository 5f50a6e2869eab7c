import Domain
import Foundation
import Protocol
import SwiftProtobuf
import Telemetry

/// Renders a status reply for people (`tributary status`) and for scripts (`--json`).
public enum StatusFormatter {
    /// The status for people: at most `width` columns (80 by default), numbers grouped.
    public static func text(_ s: Tributary_V1_StatusReply, width: Int = 80) -> String {
        typealias F = TextFormat
        func n(_ v: UInt64) -> String { F.group(v) }
        func f(_ v: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)g", v) }
        func reasons(_ m: [String: UInt64]) -> String {
            m.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \(n($0.value))" }.joined(separator: ", ")
        }
        var lines: [String] = []
        let uptime = ProgressLine.duration(.milliseconds(Int64(clamping: s.uptimeMs)))
        lines.append("run \(s.runID)   up \(uptime)   protocol v\(s.protocolVersion)")
        if !s.security.isEmpty { lines.append("security   \(s.security)") }
        if !s.health.isEmpty, s.health != "ok" {
            lines.append("HEALTH     \(s.health.uppercased())\(s.healthReason.isEmpty ? "" : ": \(s.healthReason)")")
        }
        lines.append("training   version \(n(s.policyVersion))   updates \(n(s.updates)) at \(F.rate(s.updatesPerSecond))/s")
        lines.append("env steps  \(n(s.stepsReceived)) at \(F.rate(s.envStepsPerSecond))/s")
        var ret = "return     " + (s.episodes > 0 ? TextFormat.score(s.meanReturn100) + " mean of last \(min(100, s.episodes)) episodes (\(n(s.episodes)) done)" : "no episode finished yet")
        if s.hasTraining, s.training.hasEvalMeanReturn {
            let t = s.training
            ret += String(format: "\n           evaluated %.1f ± %.1f at update %@", t.evalMeanReturn, t.evalStdReturn, n(t.evalUpdate))
            if t.hasBestEvalReturn { ret += String(format: ", best %.1f", t.bestEvalReturn) }
        }
        lines += ret.split(separator: "\n").map(String.init)
        if s.hasTraining, s.updates > 0 {
            let t = s.training
            lines.append("losses     policy \(f(t.policyLoss))   value \(f(t.valueLoss))   total \(f(t.loss))")
            lines.append("entropy    \(f(t.entropy, 3))   approx KL \(f(t.approxKl, 2))   |log π/μ| \(f(t.meanAbsLogRatio, 2))   masked \(String(format: "%.1f", 100 * t.maskedFraction)) %")
            if t.groups > 0 {
                lines.append("groups     \(t.groups) in the last batch, \(String(format: "%.0f", 100 * t.zeroAdvantageGroupFraction)) % without signal   return \(String(format: "%.3f ± %.3f", t.rewardMean, t.rewardStd))")
                lines.append("           \(n(s.accounting.groupsTrained)) complete groups trained, \(n(s.accounting.groupsTimedOut)) partial ones timed out")
            }
        }
        if !s.updatesSkipped.isEmpty { lines.append("skipped    " + reasons(s.updatesSkipped)) }
        let a = s.accounting, b = s.buffer
        if s.hasBuffer {
            lines.append("staleness  \(admission(b))   max_lag \(b.hasMaxLag ? String(b.maxLag) : "none")   reuse \(b.maxReuse)   order \(b.order)   \(b.correction)")
        }
        let trained = LagHistogram(s.trainedLag)
        if let q = quantiles(trained), let mean = trained.mean {
            lines.append("lag        p50 \(q.p50)  p90 \(q.p90)  p99 \(q.p99)  max \(q.max)  mean \(String(format: "%.1f", mean)) (versions, trained)")
        }
        if let split = lagSplit(s) { lines.append("lag split  " + split) }
        if s.hasAccounting {
            if b.capacityChunks > 0 {
                lines.append(String(format: "buffer     %@ / %@ chunks (%.1f%% full), %@ columns, %@ uses", n(a.buffered), n(b.capacityChunks),
                                    100 * Double(a.buffered) / Double(b.capacityChunks), n(s.bufferedColumns), n(a.trainingUses)))
            }
            let dropped = a.dropped.values.reduce(0, +)
            let balanced = a.received == a.trained + dropped + a.buffered ? "=" : "≠ (accounting error!)"
            lines.append("chunks     \(n(a.received)) received \(balanced) \(n(a.trained)) trained + \(n(dropped)) dropped + \(n(a.buffered)) buffered")
            if dropped > 0 { lines.append("dropped    " + reasons(a.dropped)) }
        }
        let left = s.workersLeft.isEmpty ? s.workersExpired : s.workersLeft.values.reduce(0, +)
        lines.append("workers    \(s.workersConnected) connected (at most \(s.admission.maxWorkers)), \(n(left)) left\(s.refused.isEmpty ? "" : ", \(s.refused.count) refused (tributary workers)")")
        if left > 0, !s.workersLeft.isEmpty { lines.append("left       " + reasons(s.workersLeft)) }
        if s.hasAdmission {
            let m = s.admission
            lines.append("memory     \(F.bytes(m.memoryHeldBytes)) of \(F.bytes(m.memoryBudgetBytes)) held by the buffer and \(n(m.creditsInFlight)) credits in flight")
        }
        let rejected = s.rejected.values.reduce(0, +)
        lines.append("received   \(n(s.messagesReceived)) messages, \(F.bytes(s.bytesReceived)), \(n(s.chunksReceived)) chunks, \(n(rejected)) rejected")
        if rejected > 0 { lines.append("rejected   " + reasons(s.rejected)) }
        if s.hasTransport {
            let t = s.transport
            let failed = reasons(t.handshakesFailed)
            lines.append("connections \(n(t.connectionsAccepted)) accepted, \(n(t.connectionsClosed)) closed\(failed.isEmpty ? "" : ", handshakes failed: \(failed)")")
        }
        if !s.workers.isEmpty {
            lines.append("")
            lines += workerTable(s.workers, width: width)
        }
        return lines.map { F.fit($0, width) }.joined(separator: "\n")
    }

    /// A row per worker incarnation, connected ones first, then those that left and why;
    /// then the Hellos refused lately (who claimed what, from where, why). `width` columns.
    public static func workerTable(_ workers: [Tributary_V1_WorkerStatus], refused: [Tributary_V1_RefusedPeer] = [], width: Int = 80) -> [String] {
        typealias F = TextFormat
        // With CURVE the authenticated key's name says who a worker is; its claimed host does not.
        let keyed = workers.contains { !$0.keyName.isEmpty }
        var lines = [F.pad("WORKER", 16) + F.pad("INC", 6) + F.pad(keyed ? "KEY" : "HOST", 12) + F.pad("CHUNKS", 9, right: true) + F.pad("CHUNK/S", 8, right: true)
            + F.pad("REJ", 5, right: true) + F.pad("CRED", 5, right: true) + F.pad("VERSION", 8, right: true) + F.pad("SEEN", 6, right: true) + "STATE"]
        let ordered = workers.filter { !$0.expired } + workers.filter(\.expired)
        for w in ordered {
            // The incarnation is a start time in ms; its last digits tell incarnations apart.
            lines.append(F.pad(w.workerID, 16) + F.pad(String(String(w.incarnation).suffix(5)), 6) + F.pad(keyed ? w.keyName : w.host, 12)
                + F.pad(F.group(w.chunksReceived), 9, right: true) + F.pad(w.expired ? "–" : String(format: "%.1f", w.chunksPerSecond), 8, right: true)
                + F.pad(F.group(w.chunksRejected), 5, right: true) + F.pad(String(w.creditsOutstanding), 5, right: true)
                + F.pad(F.group(w.actingVersion), 8, right: true) + F.pad(F.age(w.lastSeenMsAgo), 6, right: true)
                + (w.expired ? w.expiredReason : "ok"))
        }
        if workers.isEmpty { lines.append("(no workers)") }
        if !refused.isEmpty {
            lines.append("")
            lines.append(F.pad("REFUSED", 16) + F.pad("HOST", 13) + F.pad("FROM", 22) + F.pad("TIMES", 6, right: true) + F.pad("LAST", 6, right: true) + "WHY")
            for r in refused {
                lines.append(F.pad(r.workerID.isEmpty ? "(no id)" : r.workerID, 16) + F.pad(r.host, 13) + F.pad(r.keyName.isEmpty ? r.peerAddress : "key " + r.keyName, 22)
                    + F.pad(F.group(r.count), 6, right: true) + F.pad(F.age(r.lastMsAgo), 6, right: true) + r.code + ": " + r.detail)
            }
        }
        return lines.map { F.fit($0, width) }
    }

    /// The StatusReply as JSON: protobuf's JSON mapping with the .proto's field names, except
    /// that 64-bit integers are numbers, not strings. With `workersOnly`,
    /// `{"workers": [...], "refused": [...]}`.
    public static func json(_ s: Tributary_V1_StatusReply, workersOnly: Bool = false) throws -> String {
        var options = JSONEncodingOptions()
        options.alwaysPrintInt64sAsNumbers = true
        options.preserveProtoFieldNames = true
        if workersOnly {
            var only = Tributary_V1_StatusReply()
            only.workers = s.workers
            only.refused = s.refused
            return try only.jsonString(options: options)
        }
        return try s.jsonString(options: options)
    }

    /// Trained lag split into its in-flight part (acting to arrival: the weights' age on the
    /// worker plus transport) and its in-queue part (arrival to training), p50/p99/mean of each.
    /// The admission bound and where it comes from: "η 5 (lag target 8, recent 7.4)" (recent: the
    /// mean lag of the last adjustment window; `--json` has η's moves), "η 4 (fixed)" or
    /// "η unbounded". A learner older than the lag target reports only its configured η.
    public static func admission(_ b: Tributary_V1_BufferConfig) -> String {
        if b.hasLagTarget {
            let eta = b.etaInForce.map(String.init) ?? "?"
            let window = b.hasWindowLag ? String(format: ", recent %.1f", b.windowLag) : ""
            return "η \(eta) (lag target \(String(format: "%g", b.lagTarget))\(window))"
        }
        if b.hasEta { return "η \(b.eta) (fixed)" }
        return "η unbounded"
    }

    public static func lagSplit(_ s: Tributary_V1_StatusReply) -> String? {
        let inFlight = LagHistogram(s.trainedInFlightLag), inQueue = LagHistogram(s.trainedInQueueLag)
        guard let f = quantiles(inFlight), let q = quantiles(inQueue), let fm = inFlight.mean, let qm = inQueue.mean else { return nil }
        return "in flight p50 \(f.p50) p99 \(f.p99) mean \(String(format: "%.1f", fm))   in queue p50 \(q.p50) p99 \(q.p99) mean \(String(format: "%.1f", qm))"
    }

    /// p50/p90/p99/max of a lag histogram, in versions (nil when it is empty).
    public static func quantiles(_ h: LagHistogram) -> (p50: UInt64, p90: UInt64, p99: UInt64, max: UInt64)? {
        guard let max = h.maxLag, let p50 = h.quantile(0.5), let p90 = h.quantile(0.9), let p99 = h.quantile(0.99) else { return nil }
        return (p50, p90, p99, max)
    }

    public static func quantiles(_ wire: Tributary_V1_LagHistogram) -> (p50: UInt64, p90: UInt64, p99: UInt64, max: UInt64)? {
        quantiles(LagHistogram(wire))
    }

    private static func pad(_ s: String, _ width: Int) -> String { TextFormat.pad(s, width) }
}
