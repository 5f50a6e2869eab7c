import Foundation
import Protocol
import Telemetry

/// `tributary top`: one screen of a running learner, redrawn in place. The renderer is a pure
/// function of two status replies (the previous one gives per-worker rates when the learner's
/// own are missing) and the terminal's size, so it is tested against recorded replies.
public enum TopView {
    /// Exactly `rows` lines, none longer than `columns` characters.
    public static func render(_ s: Tributary_V1_StatusReply, columns: Int = 80, rows: Int = 24, learner: String = "") -> [String] {
        let width = max(40, columns)
        var lines: [String] = []
        let uptime = ProgressLine.duration(.milliseconds(Int64(s.uptimeMs)))
        lines.append("tributary top — \(learner.isEmpty ? "" : learner + "  ")run \(s.runID)  up \(uptime)  (q quits)")
        lines.append("version \(s.policyVersion)  updates \(TextFormat.group(s.updates)) (\(rate(s.updatesPerSecond))/s)  env steps \(TextFormat.group(s.stepsReceived)) (\(rate(s.envStepsPerSecond))/s)")
        lines.append("return (mean of last 100) \(s.episodes > 0 ? String(format: "%.1f", s.meanReturn100) : "–")  episodes \(TextFormat.group(s.episodes))  workers \(s.workersConnected) connected, \(s.workersExpired) expired")
        let b = s.buffer, a = s.accounting
        lines.append("η \(b.hasEta ? String(b.eta) : "unbounded")  max_lag \(b.hasMaxLag ? String(b.maxLag) : "none")  reuse \(b.maxReuse)  order \(b.order)  correction \(b.correction)")
        // Gauges: how full the buffer is, and (with η) how much of the admission budget is used.
        let gaugeWidth = max(10, min(30, width - 50))
        lines.append("buffer  " + gauge(Double(a.buffered), of: Double(max(1, b.capacityChunks)), width: gaugeWidth)
            + "  \(a.buffered)/\(b.capacityChunks) chunks, \(s.bufferedColumns) columns")
        if b.hasEta, b.batchColumns > 0 {
            let budget = Double((b.eta + 1) * UInt64(b.batchColumns))
            lines.append("η budget" + gauge(Double(s.bufferedColumns), of: budget, width: gaugeWidth)
                + "  \(s.bufferedColumns)/\(Int(budget)) columns buffered")
        }
        let dropped = a.dropped.values.reduce(0, +)
        let reasons = a.dropped.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        lines.append("chunks  received \(a.received) = trained \(a.trained) + dropped \(dropped)\(reasons.isEmpty ? "" : " (\(reasons))") + buffered \(a.buffered)")
        // The staleness histogram of trained samples, as bars, in what rows remain after the
        // worker table (which gets at least its header and three rows).
        let live = s.workers.filter { !$0.expired }
        let gone = s.workers.filter { $0.expired }
        let workerRows = min(live.count + gone.count, max(3, rows - lines.count - 1 - 2 - 8))
        let histogramRows = max(2, rows - lines.count - 2 - workerRows - 1)
        let histogram = StalenessView.histogram("staleness (trained)", s.trainedLag.counts, width: max(10, width - 24), rows: histogramRows - 1)
        lines += histogram.prefix(histogramRows)
        lines.append("")
        lines.append(TextFormat.pad("WORKER", 16) + TextFormat.pad("INC", 6) + TextFormat.pad("HOST", 14) + TextFormat.pad("CHUNK/S", 9)
            + TextFormat.pad("p50", 5) + TextFormat.pad("p99", 5) + TextFormat.pad("CRED", 5) + TextFormat.pad("SEEN", 8) + "STATE")
        let shown = Array((live + gone).prefix(workerRows))
        for w in shown {
            let q = StatusFormatter.quantiles(w.trainedLag.counts)
            // The incarnation is a start time in ms; its last digits tell incarnations apart.
            let inc = String(String(w.incarnation).suffix(5))
            lines.append(TextFormat.pad(w.workerID, 16) + TextFormat.pad(inc, 6) + TextFormat.pad(w.host, 14)
                + TextFormat.pad(w.expired ? "–" : String(format: "%.1f", w.chunksPerSecond), 9)
                + TextFormat.pad(q?.p50 ?? "–", 5) + TextFormat.pad(q?.p99 ?? "–", 5) + TextFormat.pad(String(w.creditsOutstanding), 5)
                + TextFormat.pad(seen(w.lastSeenMsAgo), 8) + (w.expired ? "gone: " + w.expiredReason : "ok"))
        }
        if s.workers.isEmpty { lines.append("(no workers)") }
        let hidden = live.count + gone.count - shown.count
        if hidden > 0 { lines.append("… \(hidden) more (tributary workers lists all)") }
        // Fit the screen exactly: cut long lines, fill or trim to `rows`.
        lines = lines.map { $0.count > width ? String($0.prefix(width - 1)) + "…" : $0 }
        if lines.count > rows { lines = Array(lines.prefix(rows)) }
        while lines.count < rows { lines.append("") }
        return lines
    }

    private static func gauge(_ value: Double, of total: Double, width: Int) -> String {
        let f = min(1, max(0, value / total))
        let filled = Int((f * Double(width)).rounded())
        return " [" + String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled) + String(format: "] %3.0f%%", 100 * f)
    }

    private static func rate(_ r: Double) -> String {
        if r >= 1e6 { return String(format: "%.2fM", r / 1e6) }
        if r >= 1e4 { return String(format: "%.0fk", r / 1e3) }
        return String(format: "%.1f", r)
    }

    private static func seen(_ ms: UInt64) -> String {
        ms < 1000 ? "\(ms) ms" : String(format: "%.0f s", Double(ms) / 1000)
    }
}
