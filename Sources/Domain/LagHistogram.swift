/// Samples (steps) by version lag: learner version when trained (or dropped) minus the version
/// that acted.
///
/// Buckets are exact for lags 0…63 and log-scaled above, four per power of two (64–79, 80–95,
/// 96–111, 112–127, 128–159, …), so the whole `UInt64` range fits in 296 buckets and every
/// quantile is a number: exact below 64, within 25 % above. The largest lag and the sum of all
/// lags are kept exactly. `counts` grows only as far as the largest lag seen, so a histogram of
/// small lags stays small.
public struct LagHistogram: Sendable, Equatable {
    /// Lags below this have a bucket each.
    public static let exactBelow: UInt64 = 64
    /// Buckets per power of two above `exactBelow`.
    public static let perOctave = 4

    public private(set) var counts: [UInt64] = []
    /// The largest lag counted (nil when empty).
    public private(set) var maxLag: UInt64?
    /// The sum of every sample's lag (mean = sum / total).
    public private(set) var sum: UInt64 = 0

    public init() {}

    /// A histogram from its parts, as sent in a status reply.
    public init(counts: [UInt64], maxLag: UInt64?, sum: UInt64) {
        self.counts = counts
        self.maxLag = counts.contains(where: { $0 > 0 }) ? maxLag ?? Self.upperBound(ofBucket: counts.lastIndex(where: { $0 > 0 })!) : nil
        self.sum = sum
    }

    /// The bucket that holds `lag`.
    public static func bucket(of lag: UInt64) -> Int {
        if lag < exactBelow { return Int(lag) }
        let octave = 63 - lag.leadingZeroBitCount  // ≥ 6
        let sub = Int((lag >> UInt64(octave - 2)) & 3)
        return Int(exactBelow) + perOctave * (octave - 6) + sub
    }

    /// The smallest lag bucket `i` holds.
    public static func lowerBound(ofBucket i: Int) -> UInt64 {
        if i < Int(exactBelow) { return UInt64(i) }
        let octave = 6 + (i - Int(exactBelow)) / perOctave, sub = UInt64((i - Int(exactBelow)) % perOctave)
        return (4 + sub) << UInt64(octave - 2)
    }

    /// The largest lag bucket `i` holds.
    public static func upperBound(ofBucket i: Int) -> UInt64 {
        i == bucket(of: .max) ? .max : lowerBound(ofBucket: i + 1) - 1
    }

    public mutating func add(lag: UInt64, count: UInt64 = 1) {
        guard count > 0 else { return }
        let i = Self.bucket(of: lag)
        if i >= counts.count { counts.append(contentsOf: repeatElement(0, count: i + 1 - counts.count)) }
        counts[i] += count
        maxLag = Swift.max(maxLag ?? 0, lag)
        sum &+= lag &* count
    }

    public mutating func add(_ other: LagHistogram) {
        if other.counts.count > counts.count { counts.append(contentsOf: repeatElement(0, count: other.counts.count - counts.count)) }
        for i in other.counts.indices { counts[i] += other.counts[i] }
        if let m = other.maxLag { maxLag = Swift.max(maxLag ?? 0, m) }
        sum &+= other.sum
    }

    /// Takes back what `add(other)` added. The largest lag stays exact unless the samples that
    /// held it were taken back; then it is the top of the highest bucket left.
    public mutating func subtract(_ other: LagHistogram) {
        for i in other.counts.indices where i < counts.count { counts[i] -= Swift.min(counts[i], other.counts[i]) }
        sum -= Swift.min(sum, other.sum)
        if let last = counts.lastIndex(where: { $0 > 0 }) {
            counts.removeSubrange((last + 1)...)
            maxLag = Swift.min(maxLag ?? .max, Self.upperBound(ofBucket: last))
        } else {
            counts = []
            maxLag = nil
            sum = 0
        }
    }

    public var total: UInt64 { counts.reduce(0, +) }
    public var isEmpty: Bool { maxLag == nil }
    public var mean: Double? { isEmpty ? nil : Double(sum) / Double(total) }

    /// The smallest lag at or below which a fraction `q` of the samples lie (nil when empty):
    /// exact below 64; above, the top of the bucket it falls in, never above the largest lag.
    public func quantile(_ q: Double) -> UInt64? {
        let n = total
        guard n > 0, let maxLag else { return nil }
        let target = Swift.max(1, UInt64((Double(n) * q).rounded(.up)))
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() {
            seen += c
            if seen >= target { return Swift.min(Self.upperBound(ofBucket: i), maxLag) }
        }
        return maxLag
    }

    /// The number of samples with lag ≤ `bound` when `bound` is the top of a bucket (as
    /// Prometheus' cumulative `le` buckets need); otherwise those of every bucket whose top is
    /// ≤ `bound`.
    public func cumulative(atMost bound: UInt64) -> UInt64 {
        var n: UInt64 = 0
        for (i, c) in counts.enumerated() where Self.upperBound(ofBucket: i) <= bound { n += c }
        return n
    }
}
