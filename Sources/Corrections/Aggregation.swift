/// How per-sample (per-token) losses `l_i` with mask `m_i` become one scalar, as verl's
/// `agg_loss` (`shared/specs/algorithms.md` §0). Every mode is linear in the losses,
/// `L = Σ_i w_i l_i`, so the same weights `w_i = ∂L/∂l_i` give the gradient.
///
/// Layout: `losses` and `mask` are flat; `sequences` are the index ranges of the sequences in
/// that flat array (contiguous rows of a batch-major `[N, L]` layout, padding included and masked
/// out). The ranges must be disjoint and cover every index. `nil` means the whole array is one
/// sequence. A time-major `[T, B]` batch (index `t·B + b`) has its columns strided, not
/// contiguous: use `tokenMean` there, or transpose to batch-major before using a `seqMean…` mode.
///
/// Masks are non-negative weights (normally 0/1); a sequence whose mask sums to 0 is left out
/// of the sequence means (verl excludes fully masked sequences). No valid sample → 0.
public enum LossAggregation: String, CaseIterable, Sendable, Codable {
    /// `Σ l·m / Σ m` (verl default; Trinity REC).
    case tokenMean = "token-mean"
    /// Mean over sequences of each sequence's `Σ l·m / Σ m` (original GRPO, GSPO).
    case seqMeanTokenMean = "seq-mean-token-mean"
    /// Mean over sequences of each sequence's `Σ l·m`.
    case seqMeanTokenSum = "seq-mean-token-sum"
    /// `Σ l·m / L_max` (Dr.GRPO style, verl's constant denominator as the spec gives it):
    /// `L_max = maxLength`, or when `nil` the longest range in `sequences` (the padded row
    /// width), or the array length when `sequences` is `nil`.
    case seqMeanTokenSumNorm = "seq-mean-token-sum-norm"

    /// The aggregated loss `L = Σ_i w_i l_i` (§0), with `w = weights(mask:sequences:maxLength:)`.
    /// Terms with `w_i = 0` (masked, padding) are skipped, so a NaN or ∞ there cannot leak in.
    /// Spec example: losses (1, 2, ·, ·) and (1, 1, 1, 1), L_max 4 → 1.166667, 1.25, 3.5, 1.75.
    public func aggregate(_ losses: [Double], mask: [Double], sequences: [Range<Int>]? = nil, maxLength: Int? = nil) -> Double {
        precondition(losses.count == mask.count, "\(losses.count) losses, \(mask.count) mask entries")
        let w = weights(mask: mask, sequences: sequences, maxLength: maxLength)
        var total = 0.0
        for i in losses.indices where w[i] != 0 { total += w[i] * losses[i] }
        return total
    }

    /// The aggregated loss and its gradient by the chain rule: given per-sample gradients
    /// `g_i = ∂l_i/∂x_i` (e.g. `PPO.Result.gradients`), returns `L` and `∂L/∂x_i = w_i g_i`.
    public func aggregate(_ losses: [Double], gradients: [Double], mask: [Double], sequences: [Range<Int>]? = nil,
                          maxLength: Int? = nil) -> (loss: Double, gradients: [Double]) {
        precondition(losses.count == mask.count && gradients.count == mask.count)
        let w = weights(mask: mask, sequences: sequences, maxLength: maxLength)
        var total = 0.0
        var g = [Double](repeating: 0, count: w.count)
        for i in w.indices where w[i] != 0 {
            total += w[i] * losses[i]
            g[i] = w[i] * gradients[i]
        }
        return (total, g)
    }

    /// Per-sample weights `w_i = ∂L/∂l_i` (§0), with `S` the number of sequences whose mask sum
    /// is positive and `M_s = Σ_{i∈s} m_i`:
    /// - token-mean: `m_i / Σ m`
    /// - seq-mean-token-mean: `m_i / (M_s · S)` for i in sequence s
    /// - seq-mean-token-sum: `m_i / S`
    /// - seq-mean-token-sum-norm: `m_i / L_max`
    public func weights(mask: [Double], sequences: [Range<Int>]? = nil, maxLength: Int? = nil) -> [Double] {
        let n = mask.count
        precondition(mask.allSatisfy { $0 >= 0 }, "mask values must be non-negative weights")
        let ranges = Self.validated(sequences, count: n)
        var w = [Double](repeating: 0, count: n)
        switch self {
        case .tokenMean:
            let total = mask.reduce(0, +)
            guard total > 0 else { return w }
            for i in 0..<n where mask[i] != 0 { w[i] = mask[i] / total }
        case .seqMeanTokenMean, .seqMeanTokenSum:
            let sums = ranges.map { r in r.reduce(0.0) { $0 + mask[$1] } }
            let counted = sums.filter { $0 > 0 }.count
            guard counted > 0 else { return w }
            for (r, sum) in zip(ranges, sums) where sum > 0 {
                let scale = self == .seqMeanTokenMean ? 1 / (sum * Double(counted)) : 1 / Double(counted)
                for i in r where mask[i] != 0 { w[i] = mask[i] * scale }
            }
        case .seqMeanTokenSumNorm:
            let length = maxLength ?? (sequences == nil ? n : ranges.map(\.count).max() ?? 0)
            precondition(length >= 0)
            guard length > 0 else { return w }
            for i in 0..<n where mask[i] != 0 { w[i] = mask[i] / Double(length) }
        }
        return w
    }

    /// Contiguous rows of a batch-major `[count, length]` layout: `[0..<L, L..<2L, …]`.
    public static func rows(count: Int, length: Int) -> [Range<Int>] {
        precondition(count >= 0 && length >= 0)
        return (0..<count).map { $0 * length..<($0 + 1) * length }
    }

    /// `nil` → one sequence over everything; otherwise checks the ranges partition `0..<n`.
    static func validated(_ sequences: [Range<Int>]?, count n: Int) -> [Range<Int>] {
        guard let sequences else { return n == 0 ? [] : [0..<n] }
        var covered = [Bool](repeating: false, count: n)
        for r in sequences {
            precondition(r.lowerBound >= 0 && r.upperBound <= n, "sequence \(r) outside 0..<\(n)")
            for i in r {
                precondition(!covered[i], "sequences overlap at index \(i)")
                covered[i] = true
            }
        }
        precondition(covered.allSatisfy { $0 }, "sequences must cover every index")
        return sequences
    }
}
