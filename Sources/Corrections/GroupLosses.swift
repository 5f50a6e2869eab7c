#if canImport(Glibc)
import Glibc
#endif

/// What a token-level policy loss of the group-relative family gives per token: the loss
/// `l_t`, its derivative with respect to `log π_θ(a_t)`, and whether the token was kept (a
/// masked token has loss and gradient 0 from the policy term but stays in the aggregation's
/// denominator, as Trinity's REC does). The caller aggregates (`LossAggregation`).
public struct TokenLoss: Sendable {
    public var losses: [Double]
    public var gradients: [Double]
    /// false where the method masked the token (clipping as dropping, M2PO, IcePop, …).
    public var kept: [Bool]
    /// `maskedFraction` (tokens not kept), `clippedFraction` (GSPO/CISPO/DPPO bounds hit) and
    /// the behaviour statistics (ESS, mean |log ratio|, approx KL) over the valid tokens.
    public var stats: CorrectionStats
}

/// Trinity-RFT's REC family (`shared/specs/algorithms.md` §6): group-relative REINFORCE with
/// clipping used as a mask, an optional importance weight and an optional regulariser.
/// `r = exp(log π_θ − log π_old)` is detached (it weighs, it is never differentiated).
///
/// Per token: `l_t = −A_w · log π_θ · keep_t + reg_t` with A_w = A (no weight) or A·exp(A/temp)
/// (RED-Weight), and `l_t = −A·r · keep_t + reg_t` with the IS weight (the same gradient as
/// Trinity's `−A·sg(r)·log π_θ`, and a loss whose derivative it is); `reg = −coef·log π_θ`
/// (forward-kl) or `coef·(log π_θ − log π_old)²` (k2).
public enum REC {
    public enum ClipMode: String, CaseIterable, Sendable, Codable {
        case none
        /// keep if (A ≥ 0 and r ≤ 1 + ε_high) or (A ≤ 0 and r ≥ 1 − ε_low).
        case oneSide = "one-side"
        /// keep if 1 − ε_low ≤ r ≤ 1 + ε_high.
        case twoSide = "two-side"
        /// two-side, or (A ≥ 0 and r ≤ 1 − ε'_low), or (A ≤ 0 and r ≥ 1 + ε'_high).
        case ring
        /// the one-side test on the sequence ratio exp(mean_t(log π_θ − log π_old)).
        case gspoOneSide = "gspo-one-side"
    }

    public enum Weight: String, CaseIterable, Sendable, Codable {
        case none
        case importanceSampling = "is"
        /// RED-Weight: A·exp(A/temp), A clamped to [−20·temp, 20·temp] inside the exp.
        case advantage
    }

    public enum Regularizer: String, CaseIterable, Sendable, Codable {
        case none
        /// `−coef · log π_θ` (AsymRE's form: the same gradient as shifting every advantage by +coef).
        case forwardKL = "forward-kl"
        /// `coef · (log π_θ − log π_old)²` (OPMD, Kimi's k2; the ½ absorbed into coef).
        case k2
    }

    public struct Parameters: Sendable, Equatable, Codable {
        public var clipMode: ClipMode = .none
        public var weight: Weight = .none
        public var regularizer: Regularizer = .none
        public var coefficient: Double = 0
        public var epsLow = 0.2
        public var epsHigh = 0.2
        /// ε'_low, ε'_high of the ring (the registry defaults 0.6 / 2.0).
        public var ringLow = 0.6
        public var ringHigh = 2.0
        /// RED-Weight's temperature.
        public var temperature = 1.0
        public init() {}
        public init(clipMode: ClipMode, weight: Weight = .none, regularizer: Regularizer = .none, coefficient: Double = 0,
                    epsLow: Double = 0.2, epsHigh: Double = 0.2) {
            self.clipMode = clipMode
            self.weight = weight
            self.regularizer = regularizer
            self.coefficient = coefficient
            self.epsLow = epsLow
            self.epsHigh = epsHigh
        }
    }

    /// Whether a token with ratio r and advantage a is kept by `mode` (`gspoOneSide` takes the
    /// sequence ratio as r). Spec: r (1.3, 0.7, 0.3, 3.5, 1.0), A (1, −1, 1, −1, 0.5) → two-side
    /// (0,0,0,0,1), one-side (0,0,1,1,1), ring (0,0,1,1,1).
    public static func keep(_ mode: ClipMode, ratio r: Double, advantage a: Double, _ p: Parameters) -> Bool {
        switch mode {
        case .none: return true
        case .oneSide, .gspoOneSide: return (a >= 0 && r <= 1 + p.epsHigh) || (a <= 0 && r >= 1 - p.epsLow)
        case .twoSide: return r >= 1 - p.epsLow && r <= 1 + p.epsHigh
        case .ring:
            return (r >= 1 - p.epsLow && r <= 1 + p.epsHigh) || (a >= 0 && r <= 1 - p.ringLow) || (a <= 0 && r >= 1 + p.ringHigh)
        }
    }

    /// Per-token losses and gradients. `sequences[i]` names the sequence of token i (needed by
    /// `gspoOneSide` only). Spec (N = 5, token-mean): gradient coefficients ×5 of the example
    /// above — none-NoIS (−1, 1, −1, 1, −0.5), one-side-IS (0, 0, −0.3, 3.5, −0.5).
    public static func compute(logp: [Double], logpOld: [Double], advantages: [Double], mask: [Double]? = nil,
                               sequences: [Int]? = nil, parameters p: Parameters) -> TokenLoss {
        let n = logp.count
        precondition(logpOld.count == n && advantages.count == n)
        Masking.check(mask, n)
        let logRatio = (0..<n).map { LogRatio.clamp(logp[$0] - logpOld[$0]) }
        var ratio = logRatio.map { exp($0) }
        if p.clipMode == .gspoOneSide {
            precondition(sequences?.count == n, "gspo-one-side needs each token's sequence")
            ratio = SequenceRatio.perToken(logRatio: logRatio, mask: mask, sequences: sequences!)
        }
        var losses = [Double](repeating: 0, count: n)
        var gradients = [Double](repeating: 0, count: n)
        var kept = [Bool](repeating: true, count: n)
        var masked = 0, valid = 0
        for i in 0..<n where Masking.valid(mask, i) {
            valid += 1
            let a = advantages[i]
            let k = keep(p.clipMode, ratio: ratio[i], advantage: a, p)
            kept[i] = k
            if !k { masked += 1 }
            let w: Double
            switch p.weight {
            case .none: w = a
            case .importanceSampling: w = a * exp(logRatio[i])
            case .advantage: w = a * exp(min(20, max(-20, a / p.temperature)))
            }
            if k {
                // The IS weight is detached: the gradient is −A·r either way, and −A·r is the
                // loss whose derivative that is (Trinity reports −A·sg(r)·log π, same gradient).
                losses[i] = p.weight == .importanceSampling ? -w : -w * logp[i]
                gradients[i] = -w
            }
            switch p.regularizer {
            case .none: break
            case .forwardKL:
                losses[i] -= p.coefficient * logp[i]
                gradients[i] -= p.coefficient
            case .k2:
                let d = logp[i] - logpOld[i]
                losses[i] += p.coefficient * d * d
                gradients[i] += 2 * p.coefficient * d
            }
        }
        var stats = CorrectionStats.behaviour(logpi: logp, logmu: logpOld, mask: mask)
        stats.maskedFraction = Masking.fraction(masked, of: valid)
        return TokenLoss(losses: losses, gradients: gradients, kept: kept, stats: stats)
    }
}

/// Sequence-level ratios: `exp(mean_t(log π_θ − log π_old))` over each sequence's valid tokens.
enum SequenceRatio {
    /// The sequence ratio of each token's sequence (1 for a token of a sequence with no valid token),
    /// with the log clamped above at `cap` (verl clamps GSPO's at 10).
    static func perToken(logRatio: [Double], mask: [Double]?, sequences: [Int], cap: Double = LogRatio.bound) -> [Double] {
        var sum: [Int: Double] = [:], count: [Int: Double] = [:]
        for i in logRatio.indices where Masking.valid(mask, i) {
            sum[sequences[i], default: 0] += logRatio[i]
            count[sequences[i], default: 0] += 1
        }
        return sequences.map { s in
            guard let c = count[s], c > 0 else { return 1 }
            return exp(min(cap, sum[s]! / c))
        }
    }
}

/// GSPO (§12, verl): the sequence ratio `s_i = exp(mean_t(log π_θ − log π_old))` (log clamped
/// at 10), token-wise straight-through (∂s_{i,t}/∂log π_θ(t) = s_i), PPO-clipped:
/// `l_t = max(−A s_i, −A clip(s_i, 1 − ε_low, 1 + ε_high))`. Use with seq-mean-token-mean.
public enum GSPO {
    public struct Parameters: Sendable, Equatable, Codable {
        public var epsLow = 3e-4
        public var epsHigh = 4e-4
        public init() {}
        public init(epsLow: Double, epsHigh: Double) {
            self.epsLow = epsLow
            self.epsHigh = epsHigh
        }
    }

    public static func compute(logp: [Double], logpOld: [Double], advantages: [Double], mask: [Double]? = nil,
                               sequences: [Int], parameters p: Parameters = Parameters()) -> TokenLoss {
        let n = logp.count
        precondition(logpOld.count == n && advantages.count == n && sequences.count == n)
        let logRatio = (0..<n).map { LogRatio.clamp(logp[$0] - logpOld[$0]) }
        let s = SequenceRatio.perToken(logRatio: logRatio, mask: mask, sequences: sequences, cap: 10)
        var losses = [Double](repeating: 0, count: n), gradients = losses
        var clipped = 0, valid = 0
        for i in 0..<n where Masking.valid(mask, i) {
            valid += 1
            let a = advantages[i]
            let l1 = -a * s[i]
            let l2 = -a * min(1 + p.epsHigh, max(1 - p.epsLow, s[i]))
            losses[i] = max(l1, l2)
            // The unclipped branch carries the gradient (ties included); the clamp at 10 holds it constant.
            if l1 >= l2, log(s[i]) < 10 { gradients[i] = -a * s[i] } else if l1 < l2 { clipped += 1 }
        }
        var stats = CorrectionStats.behaviour(logpi: logp, logmu: logpOld, mask: mask)
        stats.clippedFraction = Masking.fraction(clipped, of: valid)
        return TokenLoss(losses: losses, gradients: gradients, kept: [Bool](repeating: true, count: n), stats: stats)
    }
}

/// CISPO (§12, MiniMax-M1): REINFORCE with a clipped, detached IS weight, so no token's
/// gradient is dropped: ∂l_t/∂log π_θ = −min(r, cap) · A. The cap is the only bound
/// (MiniMax-M1 tunes only the upper one); 4 by default, our choice.
public enum CISPO {
    public struct Parameters: Sendable, Equatable, Codable {
        public var cap = 4.0
        public init() {}
        public init(cap: Double) { self.cap = cap }
    }

    public static func compute(logp: [Double], logpOld: [Double], advantages: [Double], mask: [Double]? = nil,
                               parameters p: Parameters = Parameters()) -> TokenLoss {
        let n = logp.count
        precondition(logpOld.count == n && advantages.count == n)
        var losses = [Double](repeating: 0, count: n), gradients = losses
        var capped = 0, valid = 0
        for i in 0..<n where Masking.valid(mask, i) {
            valid += 1
            let r = LogRatio.ratio(logp[i] - logpOld[i])
            if r > p.cap { capped += 1 }
            let w = min(r, p.cap) * advantages[i]
            // −A·r below the cap and −A·cap·log π above: each piece's derivative is the
            // gradient −sg(min(r, cap))·A (the loss value MiniMax reports is −w·log π).
            losses[i] = r > p.cap ? -w * logp[i] : -w
            gradients[i] = -w
        }
        var stats = CorrectionStats.behaviour(logpi: logp, logmu: logpOld, mask: mask)
        stats.truncatedFraction = Masking.fraction(capped, of: valid)
        return TokenLoss(losses: losses, gradients: gradients, kept: [Bool](repeating: true, count: n), stats: stats)
    }
}

/// M2PO (§16, AReaL): a second-moment trust region. The tokens' squared log-ratios
/// `(log π_θ − log μ)²` are sorted in descending order and the largest masked until the mean over
/// the remaining tokens is below τ (0.04); the kept tokens train with the IS-weighted
/// policy gradient `−A·r` (r = π_θ/μ, no clipping).
public enum M2PO {
    public struct Parameters: Sendable, Equatable, Codable {
        public var threshold = 0.04
        public init() {}
        public init(threshold: Double) { self.threshold = threshold }
    }

    /// Which valid tokens survive: the fewest largest-(Δ)² tokens removed so that the mean of
    /// the rest is < τ (all kept when it already is).
    public static func keep(logp: [Double], logpBehaviour: [Double], mask: [Double]? = nil, threshold: Double) -> [Bool] {
        let n = logp.count
        var kept = [Bool](repeating: true, count: n)
        var order: [(Double, Int)] = []
        var total = 0.0
        for i in 0..<n where Masking.valid(mask, i) {
            let d = LogRatio.clamp(logp[i] - logpBehaviour[i])
            order.append((d * d, i))
            total += d * d
        }
        order.sort { $0.0 > $1.0 }
        var remaining = order.count
        var j = 0
        while remaining > 0, total / Double(remaining) >= threshold {
            kept[order[j].1] = false
            total -= order[j].0
            remaining -= 1
            j += 1
        }
        return kept
    }

    public static func compute(logp: [Double], logpBehaviour: [Double], advantages: [Double], mask: [Double]? = nil,
                               parameters p: Parameters = Parameters()) -> TokenLoss {
        let n = logp.count
        precondition(logpBehaviour.count == n && advantages.count == n)
        let kept = keep(logp: logp, logpBehaviour: logpBehaviour, mask: mask, threshold: p.threshold)
        return MaskedImportanceWeighted.loss(logp: logp, logpBehaviour: logpBehaviour, advantages: advantages, mask: mask, kept: kept)
    }
}

/// The IS-weighted policy gradient on the tokens a rule kept: `l_t = −A·r` (r = π_θ/μ, not
/// clipped) where kept, 0 where masked; the masked fraction is over the valid tokens.
enum MaskedImportanceWeighted {
    static func loss(logp: [Double], logpBehaviour: [Double], advantages: [Double], mask: [Double]?, kept: [Bool]) -> TokenLoss {
        let n = logp.count
        var losses = [Double](repeating: 0, count: n), gradients = losses
        var masked = 0, valid = 0
        for i in 0..<n where Masking.valid(mask, i) {
            valid += 1
            guard kept[i] else { masked += 1; continue }
            let r = LogRatio.ratio(logp[i] - logpBehaviour[i])
            losses[i] = -advantages[i] * r
            gradients[i] = -advantages[i] * r
        }
        var stats = CorrectionStats.behaviour(logpi: logp, logmu: logpBehaviour, mask: mask)
        stats.maskedFraction = Masking.fraction(masked, of: valid)
        return TokenLoss(losses: losses, gradients: gradients, kept: kept.enumerated().map { !Masking.valid(mask, $0.offset) || $0.element }, stats: stats)
    }
}

/// IcePop (§16, slime): the token weight is r = π_θ/μ inside a hard band [α, β] and 0 outside:
/// `l_t = −A·r` kept, 0 masked. α 0.5, β 5 (the band slime's docs suggest; unverified).
public enum IcePop {
    public struct Parameters: Sendable, Equatable, Codable {
        public var low = 0.5
        public var high = 5.0
        public init() {}
        public init(low: Double, high: Double) {
            self.low = low
            self.high = high
        }
    }

    public static func compute(logp: [Double], logpBehaviour: [Double], advantages: [Double], mask: [Double]? = nil,
                               parameters p: Parameters = Parameters()) -> TokenLoss {
        let n = logp.count
        precondition(logpBehaviour.count == n && advantages.count == n)
        let kept = (0..<n).map { i in
            let r = LogRatio.ratio(logp[i] - logpBehaviour[i])
            return r >= p.low && r <= p.high
        }
        return MaskedImportanceWeighted.loss(logp: logp, logpBehaviour: logpBehaviour, advantages: advantages, mask: mask, kept: kept)
    }
}

/// DPPO-Binary-TV (§16, prime-rl): a trust region on the probability difference. A token is
/// dropped when π − μ > δ with A > 0, or π − μ < −δ with A < 0; the loss is
/// `−keep·A·(π/μ) + c·(log(π/μ))²` (δ 0.2, c 1e-3).
public enum DPPOBinaryTV {
    public struct Parameters: Sendable, Equatable, Codable {
        public var delta = 0.2
        public var coefficient = 1e-3
        public init() {}
    }

    public static func compute(logp: [Double], logpBehaviour: [Double], advantages: [Double], mask: [Double]? = nil,
                               parameters p: Parameters = Parameters()) -> TokenLoss {
        let n = logp.count
        precondition(logpBehaviour.count == n && advantages.count == n)
        var losses = [Double](repeating: 0, count: n), gradients = losses
        var kept = [Bool](repeating: true, count: n)
        var masked = 0, valid = 0
        for i in 0..<n where Masking.valid(mask, i) {
            valid += 1
            let a = advantages[i]
            let diff = exp(logp[i]) - exp(logpBehaviour[i])
            let k = !((diff > p.delta && a > 0) || (diff < -p.delta && a < 0))
            kept[i] = k
            if !k { masked += 1 }
            let lr = LogRatio.clamp(logp[i] - logpBehaviour[i])
            let r = exp(lr)
            losses[i] = (k ? -a * r : 0) + p.coefficient * lr * lr
            gradients[i] = (k ? -a * r : 0) + 2 * p.coefficient * lr * (abs(logp[i] - logpBehaviour[i]) <= LogRatio.bound ? 1 : 0)
        }
        var stats = CorrectionStats.behaviour(logpi: logp, logmu: logpBehaviour, mask: mask)
        stats.maskedFraction = Masking.fraction(masked, of: valid)
        return TokenLoss(losses: losses, gradients: gradients, kept: kept, stats: stats)
    }
}

/// A-3PO (§16, AReaL `prox_approx`): decoupled PPO without the proximal forward pass. The
/// proximal log-prob is interpolated between the behaviour and the current policy by versions,
/// `log π_prox ≈ log μ + α (log π_θ − log μ)` with `α = (v_prox − v_b)/(v_θ − v_b)`. With the
/// proximal policy the learner's version at the batch's start (lag s = v_prox − v_b) and the
/// policy being trained one version later, α = s/(s + 1): fresh data (s = 0) uses μ itself.
/// The current log-prob enters detached (it is a constant of the step).
public enum A3PO {
    public static func proximalLogp(logpBehaviour: [Double], logpTheta: [Double], lags: [Double]) -> [Double] {
        precondition(logpBehaviour.count == logpTheta.count && lags.count == logpTheta.count)
        return logpBehaviour.indices.map { i in
            let s = max(0, lags[i])
            let alpha = s / (s + 1)
            return logpBehaviour[i] + alpha * (logpTheta[i] - logpBehaviour[i])
        }
    }
}
