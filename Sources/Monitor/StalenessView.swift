import Domain
import Foundation
import Protocol

/// `tributary staleness` and `tributary workers`: views of the status reply for people and,
/// with `--json`, for scripts (schemas in docs/operations.md).
public enum StalenessView {
    /// A lag histogram with its quantiles, as text bars: one row per bucket that has samples
    /// (exact lags below 64, ranges above), neighbouring buckets grouped so the picture fits in
    /// `rows` lines.
    public static func histogram(_ title: String, _ h: LagHistogram, width: Int = 40, rows: Int = 16) -> [String] {
        let total = h.total
        guard total > 0, let q = StatusFormatter.quantiles(h), let mean = h.mean else { return ["\(title): no samples"] }
        var lines = ["\(title): \(group(total)) samples   p50 \(q.p50)  p90 \(q.p90)  p99 \(q.p99)  max \(q.max)  mean \(String(format: "%.1f", mean))"]
        let counts = h.counts
        let first = counts.firstIndex(where: { $0 > 0 })!, last = counts.lastIndex(where: { $0 > 0 })!
        // Every bucket from the first to the last when they fit; else only those with samples;
        // else neighbouring buckets grouped.
        let span = last - first + 1
        let filled = counts.indices.filter { counts[$0] > 0 }
        let groups: [ClosedRange<Int>]
        if span <= rows {
            groups = (first...last).map { $0...$0 }
        } else if filled.count <= rows {
            groups = filled.map { $0...$0 }
        } else {
            let step = (span + rows - 1) / max(1, rows)
            groups = stride(from: first, through: last, by: step).map { $0...min(last, $0 + step - 1) }
        }
        let buckets: [(label: String, count: UInt64)] = groups.map { g in
            let low = LagHistogram.lowerBound(ofBucket: g.lowerBound), high = min(LagHistogram.upperBound(ofBucket: g.upperBound), q.max)
            return (low == high ? String(low) : "\(low)–\(high)", counts[g].reduce(0, +))
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
        var lines = ["run \(s.runID)   policy version \(s.policyVersion)   \(StatusFormatter.admission(s.buffer))   max_lag \(s.buffer.hasMaxLag ? String(s.buffer.maxLag) : "none")   correction \(s.buffer.correction)"]
        lines.append("version lag = learner version when trained − version that acted")
        lines += histogram("trained", LagHistogram(s.trainedLag))
        lines += histogram("dropped unused", LagHistogram(s.droppedLag))
        if byWorker {
            lines.append("")
            lines.append(pad("WORKER", 22) + pad("INCARNATION", 18) + pad("TRAINED", 10) + pad("p50", 6) + pad("p99", 6) + pad("MAX", 6) + pad("DROPPED", 9) + "STATE")
            for w in s.workers {
                let q = StatusFormatter.quantiles(w.trainedLag)
                func lag(_ v: UInt64?) -> String { v.map { String($0) } ?? "–" }
                lines.append(pad(w.workerID, 22) + pad(String(w.incarnation), 18) + pad(group(w.trainedLag.counts.reduce(0, +)), 10)
                    + pad(lag(q?.p50), 6) + pad(lag(q?.p99), 6) + pad(lag(q?.max), 6)
                    + pad(group(w.droppedLag.counts.reduce(0, +)), 9) + (w.expired ? "gone: " + w.expiredReason : "connected"))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// `tributary staleness --json`: `StalenessReport` (schema in docs/operations.md).
    public static func json(_ s: Tributary_V1_StatusReply, byWorker: Bool) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(StalenessReport(s, byWorker: byWorker)), as: UTF8.self)
    }

    static func group(_ v: UInt64) -> String { TextFormat.group(v) }
    static func pad(_ s: String, _ width: Int) -> String { TextFormat.pad(s, width) }
}

/// `{"run_id", "policy_version", "trained": H, "dropped": H, "workers": [{"worker_id",
/// "incarnation", "expired", "trained": H, "dropped": H}]}` with H = `{"counts": [...],
/// "lower_bounds": [...], "samples", "p50", "p90", "p99", "max", "mean"}`: counts[i] samples
/// with a lag from lower_bounds[i] up to the next bound (exact below 64); quantiles in
/// versions, null when there are no samples; `workers` only with `--by-worker`.
public struct StalenessReport: Codable, Sendable, Equatable {
    public var runID: String
    public var policyVersion: UInt64
    public var trained: Histogram
    public var dropped: Histogram
    public var workers: [Worker]?

    public struct Histogram: Codable, Sendable, Equatable {
        public var counts: [UInt64]
        public var lowerBounds: [UInt64]
        public var samples: UInt64
        public var p50: UInt64?, p90: UInt64?, p99: UInt64?, max: UInt64?
        public var mean: Double?

        enum CodingKeys: String, CodingKey { case counts, lowerBounds = "lower_bounds", samples, p50, p90, p99, max, mean }

        public init(_ wire: Tributary_V1_LagHistogram) {
            let h = LagHistogram(wire)
            counts = h.counts
            lowerBounds = h.counts.indices.map { LagHistogram.lowerBound(ofBucket: $0) }
            samples = h.total
            let q = StatusFormatter.quantiles(h)
            (p50, p90, p99, max) = (q?.p50, q?.p90, q?.p99, q?.max)
            mean = h.mean
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(counts, forKey: .counts)
            try c.encode(lowerBounds, forKey: .lowerBounds)
            try c.encode(samples, forKey: .samples)
            // Written as null when there are no samples, not left out.
            try c.encode(p50, forKey: .p50)
            try c.encode(p90, forKey: .p90)
            try c.encode(p99, forKey: .p99)
            try c.encode(max, forKey: .max)
            try c.encode(mean, forKey: .mean)
        }
    }

    public struct Worker: Codable, Sendable, Equatable {
        public var workerID: String
        public var incarnation: UInt64
        public var expired: Bool
        public var trained: Histogram
        public var dropped: Histogram

        enum CodingKeys: String, CodingKey { case workerID = "worker_id", incarnation, expired, trained, dropped }
    }

    public init(_ s: Tributary_V1_StatusReply, byWorker: Bool) {
        runID = s.runID
        policyVersion = s.policyVersion
        trained = Histogram(s.trainedLag)
        dropped = Histogram(s.droppedLag)
        workers = byWorker ? s.workers.map {
            Worker(workerID: $0.workerID, incarnation: $0.incarnation, expired: $0.expired,
                   trained: Histogram($0.trainedLag), dropped: Histogram($0.droppedLag))
        } : nil
    }

    enum CodingKeys: String, CodingKey { case runID = "run_id", policyVersion = "policy_version", trained, dropped, workers }
}
