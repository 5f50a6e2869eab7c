import Domain
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
        lines.append("tributary top — \(learner.isEmpty ? "" : "learner " + learner + "  ")(q quits)")
        lines.append("run \(s.runID)  up \(uptime)")
        lines.append("version \(TextFormat.group(s.policyVersion))  updates \(TextFormat.group(s.updates)) (\(TextFormat.rate(s.updatesPerSecond))/s)  env steps \(TextFormat.group(s.stepsReceived)) (\(TextFormat.rate(s.envStepsPerSecond))/s)")
        lines.append("return (mean of last 100) \(s.episodes > 0 ? TextFormat.score(s.meanReturn100) : "–")  episodes \(TextFormat.group(s.episodes))  workers \(s.workersConnected) connected, \(s.workersExpired) expired")
        let b = s.buffer, a = s.accounting
        if s.hasTraining, s.updates > 0 {
            let t = s.training
            var line = String(format: "entropy %.3g  loss %.4g  value loss %.4g  KL %.2g", t.entropy, t.loss, t.valueLoss, t.approxKl)
            if t.hasEvalMeanReturn { line += String(format: "  eval %.1f", t.evalMeanReturn) }
            if t.hasBestEvalReturn { line += String(format: " (best %.1f)", t.bestEvalReturn) }
            lines.append(line)
            if t.groups > 0 {
                lines.append(String(format: "groups %@ trained, %@ timed out  without signal %.0f %%  return %.3f ± %.3f  masked %.1f %%",
                                    TextFormat.group(a.groupsTrained), TextFormat.group(a.groupsTimedOut), 100 * t.zeroAdvantageGroupFraction,
                                    t.rewardMean, t.rewardStd, 100 * t.maskedFraction))
            }
        }
        lines.append("\(StatusFormatter.admission(b))  max_lag \(b.hasMaxLag ? String(b.maxLag) : "none")  reuse \(b.maxReuse)  order \(b.order)  correction \(b.correction)")
        // Gauges: how full the buffer is, and (with η) how much of the admission budget is used.
        let gaugeWidth = max(10, min(30, width - 50))
        lines.append("buffer  " + gauge(Double(a.buffered), of: Double(max(1, b.capacityChunks)), width: gaugeWidth)
            + "  \(a.buffered)/\(b.capacityChunks) chunks, \(s.bufferedColumns) columns")
        if let eta = b.etaInForce, b.batchColumns > 0 {
            let budget = Double((eta + 1) * UInt64(b.batchColumns))
            lines.append("η budget" + gauge(Double(s.bufferedColumns), of: budget, width: gaugeWidth)
                + "  \(s.bufferedColumns)/\(Int(budget)) columns buffered")
        }
        let dropped = a.dropped.values.reduce(0, +)
        let reasons = a.dropped.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \(TextFormat.group($0.value))" }.joined(separator: ", ")
        if let split = StatusFormatter.lagSplit(s) { lines.append("lag     " + split) }
        lines.append("chunks  received \(TextFormat.group(a.received)) = trained \(TextFormat.group(a.trained)) + dropped \(TextFormat.group(dropped))\(reasons.isEmpty ? "" : " (\(reasons))") + buffered \(TextFormat.group(a.buffered))")
        // The staleness histogram of trained samples, as bars, and the worker table share what
        // rows remain: the table gets its header and at least three rows, more on a taller
        // terminal; the histogram one row per bucket up to half of the rest.
        let live = s.workers.filter { !$0.expired }
        let gone = s.workers.filter { $0.expired }
        let free = rows - lines.count - 2  // a blank line and the table's header
        let n = live.count + gone.count
        let trained = LagHistogram(s.trainedLag)
        let wanted = trained.counts.filter { $0 > 0 }.count + 1
        let histogramRows = wanted + n <= free ? wanted : max(2, min(wanted, max(free / 2, free - n - 1)))
        let workerRows = n <= free - histogramRows ? n : max(0, free - histogramRows - 1)
        let histogram = StalenessView.histogram("staleness (trained)", trained, width: max(10, width - 24), rows: histogramRows - 1)
        lines += histogram.prefix(histogramRows)
        lines.append("")
        let columns = workerColumns(width: width)
        lines.append(columns.map { TextFormat.pad($0.title, $0.width, right: $0.right) }.joined() + "STATE")
        let shown = Array((live + gone).prefix(workerRows))
        for w in shown {
            lines.append(columns.map { TextFormat.pad($0.value(w), $0.width, right: $0.right) }.joined() + (w.expired ? w.expiredReason : "ok"))
        }
        if s.workers.isEmpty { lines.append("(no workers)") }
        let hidden = live.count + gone.count - shown.count
        if hidden > 0 { lines.append("… \(hidden) more (tributary workers lists all)") }
        // Fit the screen exactly: cut long lines, fill or trim to `rows`.
        lines = lines.map { TextFormat.fit($0, width) }
        if lines.count > rows { lines = Array(lines.prefix(rows)) }
        while lines.count < rows { lines.append("") }
        return lines
    }

    struct Column {
        var title: String
        var width: Int
        var right: Bool
        var value: (Tributary_V1_WorkerStatus) -> String
    }

    /// The worker table's columns for a terminal `width` wide: the essential ones always, then
    /// as many more as fit with room left for the state (in a fixed order on screen).
    static func workerColumns(width: Int) -> [Column] {
        typealias F = TextFormat
        func lag(_ w: Tributary_V1_WorkerStatus, _ pick: ((p50: UInt64, p90: UInt64, p99: UInt64, max: UInt64)) -> UInt64) -> String {
            StatusFormatter.quantiles(w.trainedLag).map { String(pick($0)) } ?? "–"
        }
        // (column, essential, position on screen)
        let all: [(Column, Bool, Int)] = [
            (Column(title: "WORKER", width: 16, right: false) { $0.workerID }, true, 0),
            // The incarnation is a start time in ms; its last digits tell incarnations apart.
            (Column(title: "INC", width: 6, right: false) { String(String($0.incarnation).suffix(5)) }, false, 1),
            (Column(title: "HOST", width: 14, right: false) { $0.keyName.isEmpty ? $0.host : "key " + $0.keyName }, true, 2),
            (Column(title: "CHUNK/S", width: 9, right: true) { $0.expired ? "–" : String(format: "%.1f", $0.chunksPerSecond) }, true, 3),
            (Column(title: "STEPS/S", width: 9, right: true) { $0.expired ? "–" : F.rate($0.stepsPerSecond) }, false, 4),
            (Column(title: "p50", width: 6, right: true) { lag($0, \.p50) }, true, 5),
            (Column(title: "p99", width: 6, right: true) { lag($0, \.p99) }, true, 6),
            (Column(title: "MAX", width: 6, right: true) { lag($0, \.max) }, false, 7),
            (Column(title: "CRED", width: 5, right: true) { String($0.creditsOutstanding) }, true, 8),
            (Column(title: "CHUNKS", width: 10, right: true) { F.group($0.chunksReceived) }, false, 9),
            (Column(title: "REJ", width: 6, right: true) { F.group($0.chunksRejected) }, false, 10),
            (Column(title: "VERSION", width: 9, right: true) { F.group($0.actingVersion) }, false, 11),
            (Column(title: "SEEN", width: 7, right: true) { F.age($0.lastSeenMsAgo) }, true, 12),
            (Column(title: "PEER", width: 22, right: false) { $0.peerAddress }, false, 13),
        ]
        let stateRoom = 12
        var chosen = all.filter(\.1)
        var used = chosen.reduce(0) { $0 + $1.0.width }
        for extra in all where !extra.1 && used + extra.0.width + stateRoom <= width {
            chosen.append(extra)
            used += extra.0.width
        }
        return chosen.sorted { $0.2 < $1.2 }.map(\.0)
    }

    private static func gauge(_ value: Double, of total: Double, width: Int) -> String {
        let f = min(1, max(0, value / total))
        let filled = Int((f * Double(width)).rounded())
        return " [" + String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled) + String(format: "] %3.0f%%", 100 * f)
    }

}
