import Foundation
import Protocol

/// `tributary staleness` and `tributary workers`: views of the status reply for people and,
/// with `--json`, for scripts (schemas in docs/operations.md).
public enum StalenessView {
    /// A lag histogram with its quantiles, as text bars (one row per lag that has samples;
    /// long runs of lags are grouped so the picture fits in `rows` lines).
    public static func histogram(_ title: String, _ counts: [UInt64], width: Int = 40, rows: Int = 16) -> [String] {
        let total = counts.reduce(0, +)
        guard total > 0, let q = StatusFormatter.quantiles(counts) else { return ["\(title): no samples"] }
        var lines = ["\(title): \(group(total)) samples   p50 \(q.p50)  p90 \(q.p90)  p99 \(q.p99)  max \(q.max)"]
        let first = counts.firstIndex(where: { $0 > 0 })!, last = counts.lastIndex(where: { $0 > 0 })!
        let span = last - first + 1
        let step = max(1, (span + rows - 1) / rows)
        var buckets: [(label: String, count: UInt64)] = []
        var lag = first
        while lag <= last {
            let end = min(last, lag + step - 1)
            let c = counts[lag...end].reduce(0, +)
            func name(_ i: Int) -> String { i == 64 ? "64+" : String(i) }
            buckets.append((step == 1 ? name(lag) : "\(name(lag))–\(name(end))", c))
            lag = end + 1
        }
        let peak = buckets.map(\.count).max() ?? 1
        let labelWidth = buckets.map(\.label.count).max() ?? 1
        for b in buckets {
            let bar = String(repeating: "█", count: Int((Double(b.count) / Double(max(1, peak)) * Double(width)).rounded()))
            let pct = String(format: "%5.1f%%", 100 * Double(b.count) / Double(total))
            lines.append("  " + b.label.padding(toLength: labelWidth, withPad: " ", startingAt: 0) + " │" + bar + " " + pct)
        }
        return lines
    }

    public static func text(_ s: Tributary_V1_StatusReply, byWorker: Bool) -> String {
        var lines = ["run \(s.runID)   policy version \(s.policyVersion)   η \(s.buffer.hasEta ? String(s.buffer.eta) : "unbounded")   max_lag \(s.buffer.hasMaxLag ? String(s.buffer.maxLag) : "none")   correction \(s.buffer.correction)"]
        lines.append("version lag = learner version when trained − version that acted")
        lines += histogram("trained", s.trainedLag.counts)
        lines += histogram("dropped unused", s.droppedLag.counts)
        if byWorker {
            lines.append("")
            lines.append(pad("WORKER", 22) + pad("INCARNATION", 18) + pad("TRAINED", 10) + pad("p50", 5) + pad("p99", 5) + pad("MAX", 5) + pad("DROPPED", 9) + "STATE")
            for w in s.workers {
                let q = StatusFormatter.quantiles(w.trainedLag.counts)
                lines.append(pad(w.workerID, 22) + pad(String(w.incarnation), 18) + pad(group(w.trainedLag.counts.reduce(0, +)), 10)
                    + pad(q?.p50 ?? "–", 5) + pad(q?.p99 ?? "–", 5) + pad(q?.max ?? "–", 5)
                    + pad(group(w.droppedLag.counts.reduce(0, +)), 9) + (w.expired ? "gone: " + w.expiredReason : "connected"))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// `{"run_id", "policy_version", "trained": H, "dropped": H, "workers": [{"worker_id",
    /// "incarnation", "expired", "trained": H, "dropped": H}]}` with H =
    /// `{"counts": [...], "samples", "p50", "p90", "p99", "max"}` (quantiles null when empty).
    public static func json(_ s: Tributary_V1_StatusReply, byWorker: Bool) throws -> String {
        func h(_ counts: [UInt64]) -> [String: Any] {
            // Quantiles as numbers: 64 stands for the last bucket, "64 or more".
            let q = StatusFormatter.quantiles(counts)
            func number(_ label: String?) -> Any { label.flatMap { Int($0.replacingOccurrences(of: "+", with: "")) } ?? NSNull() }
            return ["counts": counts, "samples": counts.reduce(0, +), "p50": number(q?.p50), "p90": number(q?.p90),
                    "p99": number(q?.p99), "max": number(q?.max)]
        }
        var object: [String: Any] = ["run_id": s.runID, "policy_version": s.policyVersion,
                                     "trained": h(s.trainedLag.counts), "dropped": h(s.droppedLag.counts)]
        if byWorker {
            object["workers"] = s.workers.map { w in
                ["worker_id": w.workerID, "incarnation": w.incarnation, "expired": w.expired,
                 "trained": h(w.trainedLag.counts), "dropped": h(w.droppedLag.counts)] as [String: Any]
            }
        }
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    static func group(_ v: UInt64) -> String { TextFormat.group(v) }
    static func pad(_ s: String, _ width: Int) -> String { TextFormat.pad(s, width) }
}
