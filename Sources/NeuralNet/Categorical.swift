#if canImport(Glibc)
import Domain
import Glibc
#endif

/// A categorical policy head over logits [batch, actions] (row-major).
public enum Categorical {
    /// log softmax of every row, computed stably (max subtracted).
    public static func logSoftmax(_ logits: [Float], actions: Int) -> [Float] {
        precondition(actions > 0 && logits.count % actions == 0)
        var out = logits
        for r in 0..<(logits.count / actions) {
            let row = r * actions
            var maxValue = -Float.infinity
            for j in 0..<actions { maxValue = max(maxValue, logits[row + j]) }
            var sum: Float = 0
            for j in 0..<actions { sum += expf(logits[row + j] - maxValue) }
            // (x − max) − log Σ: subtracting max first keeps precision for large logits.
            let logSum = logf(sum)
            for j in 0..<actions { out[row + j] = (logits[row + j] - maxValue) - logSum }
        }
        return out
    }

    /// Entropy −Σ p log p of every row of log-probabilities.
    public static func entropy(_ logp: [Float], actions: Int) -> [Float] {
        (0..<(logp.count / actions)).map { r in
            var h: Float = 0
            for j in 0..<actions {
                let lp = logp[r * actions + j]
                h -= expf(lp) * lp
            }
            return h
        }
    }

    /// Samples one action per row from log-probabilities.
    public static func sample(_ logp: [Float], actions: Int, using rng: inout SplitMix64) -> [Int32] {
        (0..<(logp.count / actions)).map { r in
            let u = Float(rng.nextUnit())
            var cumulative: Float = 0
            for j in 0..<actions {
                cumulative += expf(logp[r * actions + j])
                if u < cumulative { return Int32(j) }
            }
            return Int32(actions - 1)  // rounding left u above the last sum
        }
    }

    /// dL/dlogits for L = Σ_r [ w_r · log p(a_r) + c_r · H_r ], the shape of every
    /// policy-gradient-plus-entropy loss: for row r and action j,
    /// w_r (1[j = a_r] − p_j) − c_r p_j (log p_j + H_r).
    public static func gradient(
        logp: [Float], actions: Int, taken: [Int32], logpWeights: [Float], entropyWeights: [Float]
    ) -> [Float] {
        let rows = logp.count / actions
        precondition(taken.count == rows && logpWeights.count == rows && entropyWeights.count == rows)
        let h = entropy(logp, actions: actions)
        var grad = [Float](repeating: 0, count: logp.count)
        for r in 0..<rows {
            for j in 0..<actions {
                let i = r * actions + j
                let p = expf(logp[i])
                let onehot: Float = Int32(j) == taken[r] ? 1 : 0
                grad[i] = logpWeights[r] * (onehot - p) - entropyWeights[r] * p * (logp[i] + h[r])
            }
        }
        return grad
    }
}
