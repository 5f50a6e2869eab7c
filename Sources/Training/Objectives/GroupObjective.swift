import Corrections
import Domain
#if canImport(Glibc)
import Glibc
#endif

/// A group-relative method (`../shared/specs/algorithms.md` §5–8, §10–12, §16): how a
/// sequence's scalar advantage comes from its group, which token-level policy loss trains on
/// it, what the loss is centred on, and an optional KL penalty to the frozen initial policy.
/// `GroupMethod.preset(_:)` names the published combinations (`--preset`).
public struct GroupMethod: Sendable, Equatable, Codable {
    /// The preset's name (runs, metrics and logs say it).
    public var name: String
    public var advantage: Advantage
    public var loss: Loss
    /// What `log π_old` is: the behaviour policy μ (the worker's log-probs; the seed paper's
    /// setting) or the proximal policy (the learner's parameters at the batch's start).
    public var centre: Centre = .behaviour
    /// k1/k2/k3 KL to the reference policy (the network as initialised, version 1), times
    /// `referenceCoefficient`, aggregated as the policy loss is; 0: off.
    public var reference = KL.Parameters(estimator: .k3)
    public var referenceCoefficient = 0.0
    /// The aggregation the preset was published with (the run's `--aggregation` overrides it).
    public var aggregation = LossAggregation.tokenMean

    public enum Advantage: Sendable, Equatable, Codable {
        case group(GroupAdvantage.Parameters)
        /// RED-Drop: excess negatives dropped, mean baseline over the rest.
        case redDrop
        /// BNPO: Beta-normalised over the batch's groups.
        case bnpo
        /// SPO: R − p̂(prompt) from a persistent per-prompt Beta tracker the trainer keeps
        /// (`TrainingBatch.promptBaselines`), normalised over the batch; groups play no part.
        case spo(SPOTracker.Parameters)
    }

    public enum Loss: Sendable, Equatable, Codable {
        case rec(REC.Parameters)
        /// PPO-clip (GRPO, Dr.GRPO, RLOO, BNPO).
        case ppoClip(PPO.Parameters)
        case gspo(GSPO.Parameters)
        case cispo(CISPO.Parameters)
        case m2po(M2PO.Parameters)
        case icePop(IcePop.Parameters)
        case dppoBinaryTV(DPPOBinaryTV.Parameters)
        /// Decoupled PPO with the proximal log-prob interpolated by versions (no proximal pass).
        case a3po(DecoupledPPO.Parameters)
    }

    public enum Centre: String, Sendable, Equatable, Codable {
        case behaviour
        case proximal
    }

    public init(name: String, advantage: Advantage, loss: Loss, aggregation: LossAggregation = .tokenMean) {
        self.name = name
        self.advantage = advantage
        self.loss = loss
        self.aggregation = aggregation
    }

    static let clip = PPO.Parameters(epsLow: 0.2, epsHigh: 0.2, dualClip: nil)
    static let mean = Advantage.group(.init(baseline: .mean))
    static let grpo = Advantage.group(.init(baseline: .grpo))

    /// Every preset, by name: the seed paper's table (§6) and the rest of §5, §8, §12, §16.
    public static let presets: [GroupMethod] = {
        var all: [GroupMethod] = [
            GroupMethod(name: "reinforce", advantage: mean, loss: .rec(.init(clipMode: .none))),
            GroupMethod(name: "grpo", advantage: grpo, loss: .ppoClip(clip), aggregation: .seqMeanTokenMean),
            GroupMethod(name: "grpo-population", advantage: .group(.init(baseline: .grpoPopulation)), loss: .ppoClip(clip),
                        aggregation: .seqMeanTokenMean),
            GroupMethod(name: "dr-grpo", advantage: mean, loss: .ppoClip(clip), aggregation: .seqMeanTokenSumNorm),
            GroupMethod(name: "rloo", advantage: .group(.init(baseline: .rloo)), loss: .ppoClip(clip)),
        ]
        for mode in [REC.ClipMode.none, .oneSide, .twoSide, .ring] {
            for weight in [REC.Weight.importanceSampling, .none] {
                let name = "rec-\(mode.rawValue.replacingOccurrences(of: "-", with: ""))-\(weight == .none ? "nois" : "is")"
                all.append(GroupMethod(name: name, advantage: mean, loss: .rec(.init(clipMode: mode, weight: weight))))
            }
        }
        all += [
            GroupMethod(name: "rec-oneside-nois-wide", advantage: mean,
                        loss: .rec(.init(clipMode: .oneSide, epsLow: 0.6, epsHigh: 2.0))),
            GroupMethod(name: "rec-gspo-oneside-nois", advantage: mean,
                        loss: .rec(.init(clipMode: .gspoOneSide, epsLow: 3e-4, epsHigh: 4e-4))),
            GroupMethod(name: "asymre", advantage: mean, loss: .rec(.init(clipMode: .none, regularizer: .forwardKL, coefficient: 0.1))),
            GroupMethod(name: "asymre-shift", advantage: .group(.init(baseline: .mean, shift: -0.1)), loss: .rec(.init(clipMode: .none))),
            GroupMethod(name: "opmd", advantage: mean, loss: .rec(.init(clipMode: .none, regularizer: .k2, coefficient: 0.1))),
            GroupMethod(name: "red-drop", advantage: .redDrop, loss: .rec(.init(clipMode: .none))),
            GroupMethod(name: "red-weight", advantage: mean, loss: .rec(.init(clipMode: .none, weight: .advantage))),
            GroupMethod(name: "gspo", advantage: grpo, loss: .gspo(GSPO.Parameters()), aggregation: .seqMeanTokenMean),
            GroupMethod(name: "cispo", advantage: grpo, loss: .cispo(CISPO.Parameters())),
            GroupMethod(name: "bnpo", advantage: .bnpo, loss: .ppoClip(clip)),
            GroupMethod(name: "spo", advantage: .spo(SPOTracker.Parameters()), loss: .ppoClip(clip)),
            GroupMethod(name: "m2po", advantage: grpo, loss: .m2po(M2PO.Parameters())),
            GroupMethod(name: "icepop", advantage: grpo, loss: .icePop(IcePop.Parameters())),
            GroupMethod(name: "dppo-tv", advantage: grpo, loss: .dppoBinaryTV(DPPOBinaryTV.Parameters())),
            GroupMethod(name: "a3po", advantage: grpo,
                        loss: .a3po(DecoupledPPO.Parameters(epsLow: 0.2, epsHigh: 0.2, dualClip: nil, behaviourCap: 5))),
        ]
        return all
    }()

    public static var presetNames: [String] { presets.map(\.name) }

    public static func preset(_ name: String) -> GroupMethod? { presets.first { $0.name == name } }
}

/// The objective of every group-relative method: scalar advantages per sequence (an
/// environment column, its return the sum of its rewards) from the column's group — columns
/// sharing a `group_id`; a column without one is a group of its own — broadcast to the
/// sequence's tokens, then the method's token loss. No critic: the value head gets no gradient.
/// Masked tokens (clipping as dropping, M2PO, IcePop) stay in the aggregation's denominator, and
/// the entropy bonus covers every valid token.
public struct GroupObjective: Objective {
    public var settings: ObjectiveSettings
    public var method: GroupMethod

    public init(settings: ObjectiveSettings = ObjectiveSettings(), method: GroupMethod) {
        self.settings = settings
        self.method = method
    }

    public var name: String { method.name }
    public var needsProximalOutputs: Bool { method.centre == .proximal }
    public var referenceKL: KL.Parameters? { method.referenceCoefficient > 0 ? method.reference : nil }

    /// The columns of each group, in column order.
    static func groups(_ b: TrainingBatch) -> [[Int]] {
        var index: [UInt64: Int] = [:]
        var out: [[Int]] = []
        for c in 0..<b.batch {
            guard let g = b.groupIDs[c] else { out.append([c]); continue }
            if let i = index[g] { out[i].append(c) } else {
                index[g] = out.count
                out.append([c])
            }
        }
        return out
    }

    /// Each column's return: its rewards (scaled) over its valid steps.
    static func sequenceRewards(_ b: TrainingBatch, scale: Double) -> [Double] {
        (0..<b.batch).map { c in
            (0..<b.timeSteps).reduce(0.0) { $0 + Double(b.rewards[$1 * b.batch + c] * b.mask[$1 * b.batch + c]) } * scale
        }
    }

    public func prepare(_ batch: TrainingBatch, proximal: PolicyOutputs, target: PolicyOutputs?) -> PreparedBatch {
        let rewards = Self.sequenceRewards(batch, scale: settings.rewardScale)
        let groups = Self.groups(batch)
        let perColumn: [Double]
        switch method.advantage {
        case .group(let p): perColumn = GroupAdvantage.compute(rewards: rewards, groups: groups, parameters: p)
        case .redDrop:
            // Seeded by the batch's content, so a replayed batch drops the same samples.
            var rng = SplitMix64(seed: batch.groupIDs.reduce(UInt64(batch.batch)) { $0 &* 31 &+ ($1 ?? 0) })
            perColumn = GroupAdvantage.redDrop(rewards: rewards, groups: groups, using: &rng).advantages
        case .bnpo: perColumn = GroupAdvantage.bnpo(rewards: rewards, groups: groups).advantages
        case .spo:
            // The trainer reads each column's baseline from its tracker before the update; a
            // batch without them (no tracker yet) gets the prior's.
            let baselines = batch.promptBaselines.count == batch.batch ? batch.promptBaselines
                : [Double](repeating: SPOTracker.priorBaseline, count: batch.batch)
            perColumn = SPOTracker.advantages(rewards: rewards.map { min(1, max(0, $0)) }, baselines: baselines)
        }
        var advantages = [Double](repeating: 0, count: batch.samples)
        for t in 0..<batch.timeSteps { for c in 0..<batch.batch { advantages[t * batch.batch + c] = perColumn[c] } }
        var prepared = PreparedBatch(logpProx: proximal.logpi, advantages: advantages)
        prepared.groupStats = Self.groupStats(rewards: rewards, groups: groups, advantages: perColumn)
        return prepared
    }

    /// Groups, the share of them with no signal (all advantages 0), and the returns' mean and std.
    static func groupStats(rewards: [Double], groups: [[Int]], advantages: [Double]) -> CorrectionStats {
        var s = CorrectionStats()
        s.groups = groups.count
        let flat = groups.filter { g in g.allSatisfy { advantages[$0] == 0 } }.count
        s.zeroAdvantageGroupFraction = groups.isEmpty ? 0 : Double(flat) / Double(groups.count)
        let n = Double(max(1, rewards.count))
        s.rewardMean = rewards.reduce(0, +) / n
        s.rewardStd = (rewards.reduce(0) { $0 + ($1 - s.rewardMean) * ($1 - s.rewardMean) } / n).squareRoot()
        return s
    }

    public func evaluate(_ b: TrainingBatch, prepared p: PreparedBatch, current o: PolicyOutputs) -> TokenTerms {
        let n = b.samples
        let logpMu = b.behaviourLogp.map(Double.init)
        let logpOld = method.centre == .proximal && !p.logpProx.isEmpty ? p.logpProx : logpMu
        let mask = b.mask.map(Double.init)
        let sequences = (0..<n).map { $0 % b.batch }
        let a = p.advantages
        var losses: [Double], gradients: [Double], stats: CorrectionStats
        switch method.loss {
        case .rec(let q):
            let r = REC.compute(logp: o.logpi, logpOld: logpOld, advantages: a, mask: mask, sequences: sequences, parameters: q)
            (losses, gradients, stats) = (r.losses, r.gradients, r.stats)
        case .ppoClip(let q):
            let r = PPO.compute(logp: o.logpi, logpOld: logpOld, advantages: a, mask: mask, parameters: q)
            (losses, gradients, stats) = (r.losses, r.gradients, r.stats)
        case .gspo(let q):
            let r = GSPO.compute(logp: o.logpi, logpOld: logpOld, advantages: a, mask: mask, sequences: sequences, parameters: q)
            (losses, gradients, stats) = (r.losses, r.gradients, r.stats)
        case .cispo(let q):
            let r = CISPO.compute(logp: o.logpi, logpOld: logpOld, advantages: a, mask: mask, parameters: q)
            (losses, gradients, stats) = (r.losses, r.gradients, r.stats)
        case .m2po(let q):
            let r = M2PO.compute(logp: o.logpi, logpBehaviour: logpMu, advantages: a, mask: mask, parameters: q)
            (losses, gradients, stats) = (r.losses, r.gradients, r.stats)
        case .icePop(let q):
            let r = IcePop.compute(logp: o.logpi, logpBehaviour: logpMu, advantages: a, mask: mask, parameters: q)
            (losses, gradients, stats) = (r.losses, r.gradients, r.stats)
        case .dppoBinaryTV(let q):
            let r = DPPOBinaryTV.compute(logp: o.logpi, logpBehaviour: logpMu, advantages: a, mask: mask, parameters: q)
            (losses, gradients, stats) = (r.losses, r.gradients, r.stats)
        case .a3po(let q):
            let prox = A3PO.proximalLogp(logpBehaviour: logpMu, logpTheta: o.logpi, lags: b.lags.map(Double.init))
            let r = DecoupledPPO.compute(logpTheta: o.logpi, logpProx: prox, logpMu: logpMu, advantages: a, mask: mask, parameters: q)
            (losses, gradients, stats) = (r.losses, r.gradients, r.stats)
        }
        // The behaviour-vs-learner numbers are always against μ, whatever the loss is centred on.
        let behaviour = CorrectionStats.behaviour(logpi: o.logpi, logmu: logpMu, mask: mask)
        stats.meanAbsLogRatio = behaviour.meanAbsLogRatio
        stats.approxKL = behaviour.approxKL
        if let g = p.groupStats {
            stats.groups = g.groups
            stats.zeroAdvantageGroupFraction = g.zeroAdvantageGroupFraction
            stats.rewardMean = g.rewardMean
            stats.rewardStd = g.rewardStd
        }
        if let kl = referenceKL, !p.logpRef.isEmpty {
            let k = KL.compute(logpTheta: o.logpi, logpRef: p.logpRef, mask: mask, parameters: kl)
            for i in 0..<n {
                losses[i] += method.referenceCoefficient * k.values[i]
                gradients[i] += method.referenceCoefficient * k.gradients[i]
            }
        }
        let zeros = [Double](repeating: 0, count: n)
        return TokenTerms(policyLoss: losses, policyGradient: gradients, valueLoss: zeros, valueGradient: zeros,
                          stats: stats, advantages: a, returns: zeros)
    }
}
