import Corrections

/// The off-policy correction a run trains with, chosen in the config (`--correction`).
/// Formulas: `../shared/specs/algorithms.md` §1–4; implementations: the `Corrections` module.
///
/// What `logp_old` (the centre of PPO's trust region) is, per correction:
/// - `ppo`: the behaviour policy μ, the worker's log-prob (option (i) of §2): the trust
///   region limits the distance to a possibly stale policy.
/// - `tis-ppo`: the proximal policy — the learner's parameters at the start of the batch's
///   update, recomputed by a forward pass (option (ii)) — times a truncated importance weight
///   `min(π_prox/μ, C)` for the gap between the proximal and the behaviour policy (§3).
/// - `decoupled-ppo`: the proximal policy, and the behaviour weight `π_prox/μ` filtered
///   (zeroed) above a cap (AReaL, §4).
/// - `appo`: a target network, refreshed every few batches (option (iii)); V-trace
///   advantages and value targets (RLlib's APPO).
/// - `vtrace`: no trust region; IMPALA's loss with truncated importance weights (§1).
public enum Correction: String, Sendable, CaseIterable, Codable {
    case vtrace
    case ppo
    case tisPPO = "tis-ppo"
    case decoupledPPO = "decoupled-ppo"
    case appo
    /// A group-relative method (`corrections.group`, chosen with `--preset`).
    case group

    public var name: String { rawValue }

    /// The objective that trains with this correction: the one place a correction becomes code.
    public func objective(_ settings: ObjectiveSettings) -> any Objective {
        switch self {
        case .vtrace: VTraceObjective(settings: settings)
        case .ppo: PPOObjective(settings: settings)
        case .tisPPO: TISPPOObjective(settings: settings)
        case .decoupledPPO: DecoupledPPOObjective(settings: settings)
        case .appo: APPOObjective(settings: settings)
        case .group: GroupObjective(settings: settings, method: settings.corrections.group)
        }
    }
}

/// The parameters of every correction; each uses its own.
public struct CorrectionSettings: Sendable, Equatable, Codable {
    /// V-trace (vtrace, appo): ρ̄, c̄, ρ̄_pg, λ and the advantage form.
    public var vtrace = VTrace.Parameters()
    /// Clipping of ppo and tis-ppo: ε_low, ε_high and the dual clip c (nil: off).
    public var ppo = PPO.Parameters(epsLow: 0.2, epsHigh: 0.2, dualClip: 3)
    /// tis-ppo: the truncated IS weight's level and cap C.
    public var tis = TruncatedIS.Parameters(level: .token, cap: 2)
    /// tis-ppo: instead of capping the weight, drop (mask) samples whose ratio π_prox/μ is
    /// outside [1/C, C] (§3's rejection variant), with C = `tis.cap`.
    public var tisMask = false
    /// decoupled-ppo: clipping and the behaviour-weight cap (AReaL's `behav_imp_weight_cap`).
    public var decoupled = DecoupledPPO.Parameters(epsLow: 0.2, epsHigh: 0.2, dualClip: nil, behaviourCap: 5)
    /// appo: clip 0.4, target clip 2.0 (RLlib's defaults), target refreshed every this many batches.
    public var appo = APPO.Parameters(clip: 0.4, targetClip: 2)
    public var targetUpdateEvery = 4
    /// GAE λ of the PPO family (ppo, tis-ppo, decoupled-ppo).
    public var gaeLambda = 0.95
    /// Whiten the PPO family's advantages over the batch.
    public var normalizeAdvantages = true
    /// Clip of the value loss around the proximal values (PPO family; nil: plain squared error).
    public var valueClip: Double? = nil
    /// Passes over each batch and minibatches per pass (PPO family; V-trace takes one step).
    public var epochs = 2
    public var minibatches = 2
    /// group: the group-relative method (`--preset`; GRPO unless told).
    public var group = GroupMethod.preset("grpo")!

    public init() {}

    enum CodingKeys: String, CodingKey {
        case vtrace, ppo, tis, tisMask, decoupled, appo, targetUpdateEvery, gaeLambda, normalizeAdvantages, valueClip, epochs, minibatches
        case group
    }

    /// Decodes checkpoints written before the group methods existed (no `group`: GRPO).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vtrace = try c.decode(VTrace.Parameters.self, forKey: .vtrace)
        ppo = try c.decode(PPO.Parameters.self, forKey: .ppo)
        tis = try c.decode(TruncatedIS.Parameters.self, forKey: .tis)
        tisMask = try c.decode(Bool.self, forKey: .tisMask)
        decoupled = try c.decode(DecoupledPPO.Parameters.self, forKey: .decoupled)
        appo = try c.decode(APPO.Parameters.self, forKey: .appo)
        targetUpdateEvery = try c.decode(Int.self, forKey: .targetUpdateEvery)
        gaeLambda = try c.decode(Double.self, forKey: .gaeLambda)
        normalizeAdvantages = try c.decode(Bool.self, forKey: .normalizeAdvantages)
        valueClip = try c.decodeIfPresent(Double.self, forKey: .valueClip)
        epochs = try c.decode(Int.self, forKey: .epochs)
        minibatches = try c.decode(Int.self, forKey: .minibatches)
        group = try c.decodeIfPresent(GroupMethod.self, forKey: .group) ?? GroupMethod.preset("grpo")!
    }
}
