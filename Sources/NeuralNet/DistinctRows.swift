/// The distinct rows of a row-major matrix, and which of them each row is.
///
/// Group-relative methods feed the network many identical rows: the K answers to a prompt share
/// its first-token input, and a sharpening policy makes them share later prefixes too (on
/// `addrev`, of the 1,024 rows of a 64 × 8 × 2-token batch about a third are distinct at the
/// start and a fifth while it learns: docs/benchmarks.md). A network's output is a function of its row alone, so running it once per distinct
/// row and gathering gives the same outputs; on the way back, the output gradients of equal rows
/// are summed before the backward pass, which gives the same parameter gradient (backpropagation
/// is linear in the output gradient for fixed activations). Rows are equal when their bits are,
/// so −0 and +0 differ (only less is shared).
public struct DistinctRows: Sendable {
    /// Rows of the original matrix.
    public let rows: Int
    /// Distinct rows.
    public let count: Int
    /// For each original row, the index of its distinct row.
    public let index: [Int32]
    /// The distinct rows, row-major [count, width], in order of first appearance.
    public let data: [Float]

    /// Finds the distinct rows of `x` ([rows, width]), or nil when at least `keepBelow` of them
    /// are distinct (the gather and the fold would then cost more than they save).
    public init?(_ x: [Float], rows: Int, width: Int, keepBelow: Double = 0.85) {
        precondition(x.count == rows * width)
        guard rows > 1, width > 0 else { return nil }
        var index = [Int32](repeating: 0, count: rows)
        var firstRow: [Int] = []  // original row of each distinct row
        var buckets: [UInt64: [Int32]] = [:]
        buckets.reserveCapacity(rows)
        x.withUnsafeBufferPointer { p in
            let base = p.baseAddress!
            func equal(_ a: Int, _ b: Int) -> Bool {
                for k in 0..<width where base[a * width + k].bitPattern != base[b * width + k].bitPattern { return false }
                return true
            }
            for r in 0..<rows {
                // FNV-1a over the row's bit patterns.
                var h: UInt64 = 0xCBF2_9CE4_8422_2325
                for k in 0..<width { h = (h ^ UInt64(base[r * width + k].bitPattern)) &* 0x0000_0100_0000_01B3 }
                if let candidates = buckets[h], let hit = candidates.first(where: { equal(firstRow[Int($0)], r) }) {
                    index[r] = hit
                } else {
                    let d = Int32(firstRow.count)
                    firstRow.append(r)
                    buckets[h, default: []].append(d)
                    index[r] = d
                }
            }
        }
        guard Double(firstRow.count) < keepBelow * Double(rows) else { return nil }
        var data = [Float](repeating: 0, count: firstRow.count * width)
        for (d, r) in firstRow.enumerated() {
            for k in 0..<width { data[d * width + k] = x[r * width + k] }
        }
        self.rows = rows
        count = firstRow.count
        self.index = index
        self.data = data
    }

    /// Every original row's values from the distinct rows' `values` ([count, width] → [rows, width]).
    public func expand(_ values: [Float], width: Int) -> [Float] {
        precondition(values.count == count * width)
        return [Float](unsafeUninitializedCapacity: rows * width) { buffer, n in
            values.withUnsafeBufferPointer { v in
                for r in 0..<rows {
                    let d = Int(index[r])
                    (buffer.baseAddress! + r * width).update(from: v.baseAddress! + d * width, count: width)
                }
            }
            n = rows * width
        }
    }

    /// Sums the original rows' `values` into their distinct rows ([rows, width] → [count, width]).
    public func fold(_ values: [Float], width: Int) -> [Float] {
        precondition(values.count == rows * width)
        var out = [Float](repeating: 0, count: count * width)
        for r in 0..<rows {
            let d = Int(index[r])
            for k in 0..<width { out[d * width + k] += values[r * width + k] }
        }
        return out
    }
}
