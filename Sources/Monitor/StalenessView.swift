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
/// "incarnation", "expired", "trained": H, "dropped": H}]}` with H =
/// `{"counts": [...], "samples", "p50", "p90", "p99", "max"}` (quantiles null when empty;
/// `workers` only with `--by-worker`).
public struct StalenessReport: Codable, Sendable, Equatable {
    public var runID: String
    public var policyVersion: UInt64
    public var trained: Histogram
    public var dropped: Histogram
    public var workers: [Worker]?

    public struct Histogram: Codable, Sendable, Equatable {
        public var counts: [UInt64]
        public var samples: UInt64
        /// Lags; 64 stands for the last bucket, "64 or more".
        public var p50: Int?, p90: Int?, p99: Int?, max: Int?

        public init(_ counts: [UInt64]) {
            self.counts = counts
            samples = counts.reduce(0, +)
            let q = StatusFormatter.quantiles(counts)
            func number(_ label: String?) -> Int? { label.flatMap { Int($0.replacingOccurrences(of: "+", with: "")) } }
            (p50, p90, p99, max) = (number(q?.p50), number(q?.p90), number(q?.p99), number(q?.max))
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(counts, forKey: .counts)
            try c.encode(samples, forKey: .samples)
            // Written as null when there are no samples, not left out.
            try c.encode(p50, forKey: .p50)
            try c.encode(p90, forKey: .p90)
            try c.encode(p99, forKey: .p99)
            try c.encode(max, forKey: .max)
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
        trained = Histogram(s.trainedLag.counts)
        dropped = Histogram(s.droppedLag.counts)
        workers = byWorker ? s.workers.map {
            Worker(workerID: $0.workerID, incarnation: $0.incarnation, expired: $0.expired,
                   trained: Histogram($0.trainedLag.counts), dropped: Histogram($0.droppedLag.counts))
        } : nil
    }

    enum CodingKeys: String, CodingKey { case runID = "run_id", policyVersion = "policy_version", trained, dropped, workers }
}
