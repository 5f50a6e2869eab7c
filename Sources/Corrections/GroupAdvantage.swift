#if canImport(Glibc)
import Glibc
#endif

/// Group-relative advantages (`shared/specs/algorithms.md` §5, §6, §8): one scalar per sample
/// (a whole sequence) from the rewards of the K samples of its prompt, broadcast to the
/// sample's tokens by the caller.
///
/// Groups are given as index lists into `rewards`; every index belongs to exactly one group.
/// A single-sample group gets mean 0 and std 1, as verl and Trinity do (so `A = R`, shifted by
/// `shift` where one is asked for); callers that dislike that drop such groups.
public enum GroupAdvantage {
    public enum Baseline: String, CaseIterable, Sendable, Codable {
        /// GRPO as verl: `(R − mean) / (std_unbiased + 1e-6)`.
        case grpo
        /// GRPO with the population std (Trinity's REC advantage with `std_normalize`).
        case grpoPopulation = "grpo-population"
        /// `R − mean`: Dr.GRPO, group REINFORCE and the REC family (`std_normalize = false`).
        case mean
        /// RLOO: `K/(K−1) (R − mean) = R − mean_{j≠i} R_j`.
        case rloo
        /// OPMD's legacy baseline `τ log(mean exp(R/τ))` ("logavgexp").
        case logAvgExp = "logavgexp"
    }

    public struct Parameters: Sendable, Equatable, Codable {
        public var baseline: Baseline = .mean
        /// Subtracted from the baseline: AsymRE uses −0.1 (`A = R − (mean + shift)`).
        public var shift: Double = 0
        /// τ of the logavgexp baseline.
        public var tau: Double = 1
        public init() {}
        public init(baseline: Baseline, shift: Double = 0, tau: Double = 1) {
            self.baseline = baseline
            self.shift = shift
            self.tau = tau
        }
    }

    /// Per-sample advantages. Spec examples, `R = (1, 0, 0, 0)`: GRPO (1.499997, −0.499999, …);
    /// population std (1.732047, −0.577349, …); mean (0.75, −0.25, …); RLOO (1, −1/3, …);
    /// AsymRE shift −0.1 (0.85, −0.15, …); logavgexp τ 1 (0.642626, −0.357374, …).
    public static func compute(rewards: [Double], groups: [[Int]], parameters p: Parameters = Parameters()) -> [Double] {
        var advantages = [Double](repeating: 0, count: rewards.count)
        for group in groups where !group.isEmpty {
            let r = group.map { rewards[$0] }
            let k = Double(r.count)
            let single = r.count == 1
            let mean = single ? 0 : r.reduce(0, +) / k
            switch p.baseline {
            case .grpo, .grpoPopulation:
                let ss = r.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
                let std = single ? 1 : (p.baseline == .grpo ? (ss / (k - 1)).squareRoot() : (ss / k).squareRoot())
                for (i, x) in zip(group, r) { advantages[i] = (x - mean - p.shift) / (std + 1e-6) }
            case .mean:
                for (i, x) in zip(group, r) { advantages[i] = x - mean - p.shift }
            case .rloo:
                let scale = single ? 1 : k / (k - 1)
                for (i, x) in zip(group, r) { advantages[i] = scale * (x - mean) - p.shift }
            case .logAvgExp:
                let b = single ? 0 : logAvgExp(r, tau: p.tau)
                for (i, x) in zip(group, r) { advantages[i] = x - b - p.shift }
            }
        }
        return advantages
    }

    /// `τ log(mean exp(R/τ))`, computed stably. Spec: R = (1, 0, 0, 0) → 0.357374 (τ 1), 0.477229 (τ 0.5).
    public static func logAvgExp(_ rewards: [Double], tau: Double) -> Double {
        precondition(tau > 0 && !rewards.isEmpty)
        let scaled = rewards.map { $0 / tau }
        let top = scaled.max()!
        let sum = scaled.reduce(0) { $0 + exp($1 - top) }
        return tau * (top + log(sum / Double(rewards.count)))
    }

    /// RED-Drop (Trinity `drop="balance"`): where a group's negatives (R below its mean)
    /// outnumber its positives, the excess negatives, drawn at random, are dropped, and the
    /// mean baseline is recomputed over the samples kept. Returns the advantages (0 for a
    /// dropped sample, which stays in the loss's denominator as Trinity's does) and the
    /// kept mask.
    public static func redDrop<G: RandomNumberGenerator>(rewards: [Double], groups: [[Int]], using rng: inout G)
        -> (advantages: [Double], kept: [Bool]) {
        var advantages = [Double](repeating: 0, count: rewards.count)
        var kept = [Bool](repeating: true, count: rewards.count)
        for group in groups where !group.isEmpty {
            let mean = group.count == 1 ? 0 : group.reduce(0) { $0 + rewards[$1] } / Double(group.count)
            let positives = group.filter { rewards[$0] > mean }
            var negatives = group.filter { rewards[$0] < mean }
            var members = group
            if negatives.count > positives.count {
                negatives.shuffle(using: &rng)
                let dropped = Set(negatives.prefix(negatives.count - positives.count))
                for i in dropped { kept[i] = false }
                members = group.filter { !dropped.contains($0) }
            }
            let keptMean = group.count == 1 ? 0 : members.reduce(0) { $0 + rewards[$1] } / Double(members.count)
            for i in members { advantages[i] = rewards[i] - keptMean }
        }
        return (advantages, kept)
    }

    /// BNPO (§8): rewards in [0, 1]; per group p = mean R (a single-sample group: p = 0); over
    /// the batch's groups m = mean p, v = var p (unbiased; one group: m = 0, v = 1); the Beta
    /// parameters α = max(1 + k m / 3, 1), β = max(1 + k (1 − m) / 3, 1) with k = m(1 − m)/v − 1;
    /// `A = (R − p) / f_Beta(p; α, β)` with `1/f` clamped to [0, 1e6]. v = 0 falls back to α = β = 1.
    /// Spec: p = (0.25, 0.5, 0.5, 0.75) → α = β = 1.833333, A(R=1, p=0.25) = 0.667379.
    public static func bnpo(rewards: [Double], groups: [[Int]]) -> (advantages: [Double], alpha: Double, beta: Double) {
        let nonEmpty = groups.filter { !$0.isEmpty }
        let means = nonEmpty.map { g in g.count == 1 ? 0 : g.reduce(0) { $0 + rewards[$1] } / Double(g.count) }
        var m = 0.0, v = 1.0
        if means.count > 1 {
            m = means.reduce(0, +) / Double(means.count)
            v = means.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(means.count - 1)
        }
        var alpha = 1.0, beta = 1.0
        if v > 0 {
            let k = m * (1 - m) / v - 1
            alpha = max(1 + k * m / 3, 1)
            beta = max(1 + k * (1 - m) / 3, 1)
        }
        var advantages = [Double](repeating: 0, count: rewards.count)
        for (g, p) in zip(nonEmpty, means) {
            let pdf = betaPDF(p, alpha, beta)
            let weight = pdf > 0 ? min(1e6, max(0, 1 / pdf)) : 1e6
            for i in g { advantages[i] = (rewards[i] - p) * weight }
        }
        return (advantages, alpha, beta)
    }

    /// The Beta(α, β) density at x in [0, 1] (0 outside, and at an end where the density vanishes).
    public static func betaPDF(_ x: Double, _ a: Double, _ b: Double) -> Double {
        guard x >= 0, x <= 1 else { return 0 }
        if (x == 0 && a > 1) || (x == 1 && b > 1) { return 0 }
        if (x == 0 && a == 1) { return exp(-logBeta(a, b)) * pow(1 - x, b - 1) }
        if (x == 1 && b == 1) { return exp(-logBeta(a, b)) * pow(x, a - 1) }
        return exp((a - 1) * log(x) + (b - 1) * log(1 - x) - logBeta(a, b))
    }

    static func logBeta(_ a: Double, _ b: Double) -> Double { lgamma(a) + lgamma(b) - lgamma(a + b) }
}

/// SPO's persistent per-prompt value tracker (§7): a Beta(α, β) per prompt whose mean is the
/// baseline, forgetting old evidence in proportion to how far the policy moved. Learner-owned
/// (one writer); updated once per fresh sample, never per epoch or reuse.
public struct SPOTracker: Sendable, Equatable, Codable {
    public struct Parameters: Sendable, Equatable, Codable {
        /// ρ = 2^(−D / D_half), clamped to [ρ_min, ρ_max].
        public var halfLife = 0.06
        public var rhoMin = 0.875
        public var rhoMax = 0.96
        /// Prompts tracked at most (prompt ids come from workers); a prompt first seen beyond
        /// this keeps the prior baseline and is not stored.
        public var maxPrompts = 65_536
        public init() {}
    }

    public var parameters: Parameters
    /// (α, β) per prompt id.
    public private(set) var state: [String: [Double]] = [:]

    public init(parameters: Parameters = Parameters()) { self.parameters = parameters }

    /// The prior of a prompt never seen: α = β = 0.5 with no offline data.
    public static let prior = (alpha: 0.5, beta: 0.5)
    /// p̂ of a prompt never seen (or of an answer without a prompt id).
    public static var priorBaseline: Double { prior.alpha / (prior.alpha + prior.beta) }

    /// α₀, β₀ from n₀ offline samples with s successes: N = 1/(1 − ρ_min), α₀ = N (s + ½)/(n₀ + 1),
    /// β₀ = N (n₀ − s + ½)/(n₀ + 1). Spec: n₀ 8, s 2 → (2.222222, 5.777778).
    public static func initial(samples n0: Int, successes s: Int, rhoMin: Double = 0.875) -> (alpha: Double, beta: Double) {
        let n = 1 / (1 - rhoMin)
        return (n * (Double(s) + 0.5) / Double(n0 + 1), n * (Double(n0 - s) + 0.5) / Double(n0 + 1))
    }

    public mutating func seed(_ prompt: String, alpha: Double, beta: Double) { state[prompt] = [alpha, beta] }

    /// p̂ = α/(α + β), read before this step's update.
    public func baseline(_ prompt: String) -> Double {
        guard let s = state[prompt] else { return Self.priorBaseline }
        return s[0] / (s[0] + s[1])
    }

    public func alphaBeta(_ prompt: String) -> (Double, Double) {
        let s = state[prompt] ?? [Self.prior.alpha, Self.prior.beta]
        return (s[0], s[1])
    }

    /// ρ = clamp(2^(−D/D_half), ρ_min, ρ_max). Spec: D 0.03 → 0.875 (raw 0.707107); D 0.001 → 0.96.
    public func rho(distance d: Double) -> Double {
        min(parameters.rhoMax, max(parameters.rhoMin, pow(2, -d / parameters.halfLife)))
    }

    /// α ← ρα + R, β ← ρβ + (1 − R), with ρ from the policy distance D since the prompt's last
    /// visit (0 on a first visit). Spec: (2, 6), R 1, D 0.03 → (2.75, 5.25).
    public mutating func update(_ prompt: String, reward: Double, distance: Double) {
        guard state[prompt] != nil || state.count < parameters.maxPrompts else { return }
        let (a, b) = alphaBeta(prompt)
        let r = rho(distance: distance)
        state[prompt] = [r * a + reward, r * b + (1 - reward)]
    }

    /// `A = R − p̂`, then normalised over the batch: `(A − mean)/(std_unbiased + 1e-8)`.
    /// Spec: R (1, 0, 1, 0), p̂ (0.25, 0.25, 0.8, 0.1) → (1.358732, −0.905822, 0.113228, −0.566139).
    public static func advantages(rewards: [Double], baselines: [Double]) -> [Double] {
        precondition(rewards.count == baselines.count)
        let raw = zip(rewards, baselines).map { $0 - $1 }
        guard raw.count > 1 else { return raw }
        let mean = raw.reduce(0, +) / Double(raw.count)
        let std = (raw.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(raw.count - 1)).squareRoot()
        return raw.map { ($0 - mean) / (std + 1e-8) }
    }
}
