#if canImport(Glibc)
import Glibc
#endif
import Domain
import NeuralNet
import Testing
@testable import Training

/// A small batch from CartPole-like steps under a random behaviour policy, with a termination
/// and a truncation planted inside the unroll.
func makeBatch(t: Int, b: Int, seed: UInt64) -> TrainingBatch {
    var rng = SplitMix64(seed: seed)
    var obs: [Float] = []
    var actions: [Int32] = []
    var logp: [Float] = []
    var rewards: [Float] = []
    var terminated: [Bool] = []
    var truncated: [Bool] = []
    var finals: [Int: [Float]] = [:]
    for i in 0..<(t * b) {
        obs += (0..<4).map { _ in Float(rng.nextUnit() * 0.2 - 0.1) }
        actions.append(Int32(rng.next() % 2))
        logp.append(logf(Float(0.3 + 0.4 * rng.nextUnit())))
        rewards.append(Float(rng.nextUnit()))
        terminated.append(i == 5)
        truncated.append(i == 9)
        if i == 9 { finals[i] = [0.1, -0.2, 0.05, 0.3] }
    }
    let bootstrap = (0..<(b * 4)).map { _ in Float(rng.nextUnit() * 0.2 - 0.1) }
    return TrainingBatch(timeSteps: t, batch: b, observations: obs, bootstrapObservations: bootstrap, actions: actions,
                         behaviourLogp: logp, rewards: rewards, terminated: terminated, truncated: truncated, finalObservations: finals)
}

/// Central differences of `loss` in every parameter (but `skipping`) against `gradient`.
func expectGradient(_ gradient: [Float], of loss: ([Float]) -> Double, at parameters: [Float],
                    tolerance: Float, skipping: Set<Int> = [], _ what: String = "") {
    var p = parameters
    let eps: Float = 1e-2
    var worst: (Int, Float, Float)?
    for i in p.indices where !skipping.contains(i) {
        let saved = p[i]
        p[i] = saved + eps
        let up = loss(p)
        p[i] = saved - eps
        let down = loss(p)
        p[i] = saved
        let numeric = Float((up - down) / Double(2 * eps))
        if abs(numeric - gradient[i]) >= tolerance + 2e-2 * abs(numeric), worst == nil { worst = (i, numeric, gradient[i]) }
    }
    #expect(worst == nil, "\(what): parameter \(worst?.0 ?? -1): numeric \(worst?.1 ?? 0) vs analytic \(worst?.2 ?? 0)")
}

/// A trainer with a small network for observation size 4.
func smallTrainer(_ correction: Correction, head: PolicyHead = .categorical(actions: 2), configure: (inout TrainerSettings) -> Void = { _ in }) -> Trainer {
    var s = TrainerSettings()
    s.hidden = [6, 5]
    s.correction = correction
    s.seed = 3
    s.entropyCost = 0.05
    configure(&s)
    return Trainer(settings: s, observationSize: 4, head: head)
}
