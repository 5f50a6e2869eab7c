import Corrections
import Domain
import Foundation
import NeuralNet
import Testing
@testable import Training

@Suite struct ObjectiveGradientTests {
    /// V-trace: the analytic gradient equals finite differences of the loss with the V-trace
    /// targets held fixed (they are stop-gradient constants), written out independently.
    @Test func vtraceGradientMatchesFiniteDifferencesWithTargetsFixed() {
        let trainer = smallTrainer(.vtrace)
        let batch = makeBatch(t: 4, b: 3, seed: 8)
        let base = trainer.evaluate(batch)
        let n = 12
        func frozenLoss(_ parameters: [Float]) -> Double {
            var net = trainer.net
            net.network.parameters = parameters
            let (logp, values) = net.evaluate(batch.observations, rows: n)
            let entropy = Categorical.entropy(logp, actions: 2)
            var loss = 0.0
            for i in 0..<n {
                loss -= base.terms.advantages[i] * Double(logp[i * 2 + Int(batch.actions[i])]) / Double(n)
                loss += 0.5 * 0.5 * (base.terms.returns[i] - Double(values[i])) * (base.terms.returns[i] - Double(values[i])) / Double(n)
                loss -= 0.05 * Double(entropy[i]) / Double(n)
            }
            return loss
        }
        #expect(abs(frozenLoss(trainer.net.network.parameters) - base.loss) < 1e-5)
        expectGradient(base.gradient, of: frozenLoss, at: trainer.net.network.parameters, tolerance: 1e-3, "vtrace")
    }

    /// The same for a Gaussian head (Pendulum's): 2-dimensional actions, log-std weights masked.
    @Test func gaussianGradientMatchesFiniteDifferencesWithTargetsFixed() {
        var trainer = smallTrainer(.vtrace, head: .gaussian(dimensions: 2)) { $0.rewardScale = 0.1 }
        var rng = SplitMix64(seed: 11)
        for i in trainer.net.network.parameters.indices { trainer.net.network.parameters[i] += Float(rng.nextUnit() - 0.5) * 0.6 }
        trainer.net.maskGradient(&trainer.net.network.parameters)
        var batch = makeBatch(t: 4, b: 3, seed: 8)
        let n = 12
        batch.continuousActions = (0..<(n * 2)).map { _ in Float(rng.nextUnit() * 4 - 2) }
        batch.rewards = (0..<n).map { _ in Float(rng.nextUnit() * -10) }
        let base = trainer.evaluate(batch)
        func frozenLoss(_ parameters: [Float]) -> Double {
            var net = trainer.net
            net.network.parameters = parameters
            let out = net.network.forward(batch.observations, batch: n)
            let (mean, logStd, values) = net.splitGaussian(out, rows: n)
            var loss = 0.0
            for i in 0..<n {
                let m = Array(mean[(2 * i)..<(2 * i + 2)]), ls = Array(logStd[(2 * i)..<(2 * i + 2)])
                let lp = Gaussian.logProb(mean: m, logStd: ls, action: Array(batch.continuousActions[(2 * i)..<(2 * i + 2)]))
                loss -= base.terms.advantages[i] * Double(lp) / Double(n)
                loss += 0.5 * 0.5 * (base.terms.returns[i] - Double(values[i])) * (base.terms.returns[i] - Double(values[i])) / Double(n)
                loss -= 0.05 * Double(Gaussian.entropy(logStd: ls)) / Double(n)
            }
            return loss
        }
        #expect(abs(frozenLoss(trainer.net.network.parameters) - base.loss) < 1e-4)
        var masked = [Float](repeating: 1, count: trainer.net.network.parameters.count)
        trainer.net.maskGradient(&masked)
        for i in masked.indices where masked[i] == 0 { #expect(base.gradient[i] == 0, "masked log-std weight \(i) has a gradient") }
        expectGradient(base.gradient, of: frozenLoss, at: trainer.net.network.parameters, tolerance: 2e-3,
                       skipping: Set(masked.indices.filter { masked[$0] == 0 }), "gaussian")
    }

    /// Every PPO-family objective, under every aggregation mode and a mask with holes: the
    /// gradient the trainer computes equals finite differences of the loss it reports, with the
    /// prepared quantities (proximal log-probs, advantages, targets) fixed.
    @Test(arguments: [Correction.ppo, .tisPPO, .decoupledPPO, .appo], LossAggregation.allCases)
    func ppoFamilyGradientMatchesFiniteDifferences(_ correction: Correction, _ mode: LossAggregation) {
        var trainer = smallTrainer(correction) {
            $0.aggregation = mode
            $0.corrections.ppo.dualClip = nil  // keep the loss smooth around the test point
        }
        // A proximal policy a little away from the current one, so ratios are not all 1.
        var batch = makeBatch(t: 4, b: 3, seed: 5)
        batch.mask = (0..<12).map { $0 % 5 == 4 ? 0 : 1 }
        let prepared = trainer.prepare(batch)
        trainer.target = trainer.net
        var rng = SplitMix64(seed: 2)
        for i in trainer.net.network.parameters.indices { trainer.net.network.parameters[i] += Float(rng.nextUnit() - 0.5) * 0.02 }
        let base = trainer.evaluate(batch, prepared: prepared)
        func loss(_ parameters: [Float]) -> Double {
            var t = trainer
            t.net.network.parameters = parameters
            return t.evaluate(batch, prepared: prepared).loss
        }
        #expect(base.loss.isFinite)
        expectGradient(base.gradient, of: loss, at: trainer.net.network.parameters, tolerance: 2e-3, "\(correction) \(mode)")
    }
}

@Suite struct TrainerTests {
    /// The trainer's whole state survives save and restore bit for bit: two trainers, one
    /// restored from the other's JSON, take the same next steps to the same bits.
    @Test(arguments: Correction.allCases)
    func stateRoundTripsBitExactly(_ correction: Correction) throws {
        var a = smallTrainer(correction) { $0.corrections.minibatches = 2 }
        for s in 0..<3 { _ = a.step(makeBatch(t: 4, b: 4, seed: UInt64(s))) }
        let json = try JSONEncoder().encode(a.state)
        let decoded = try JSONDecoder().decode(TrainerState.self, from: json)
        #expect(decoded == a.state)
        var b = try Trainer(restoring: decoded)
        #expect(b.state == a.state)
        for s in 3..<7 {
            let batch = makeBatch(t: 4, b: 4, seed: UInt64(s))
            let ra = a.step(batch), rb = b.step(batch)
            #expect(ra.loss.bitPattern == rb.loss.bitPattern)
        }
        #expect(a.net.network.parameters.map(\.bitPattern) == b.net.network.parameters.map(\.bitPattern))
        #expect(a.state == b.state)
        #expect(a.version == 8)
    }

    /// A checkpoint written before the optimizer was a setting has no "optimizer" and no
    /// maximum second moment: it restores as the Adam it was trained with.
    @Test func aStateWithoutAnOptimizerRestoresAsAdam() throws {
        var old = smallTrainer(.vtrace) { $0.optimizer = .adam }
        _ = old.step(makeBatch(t: 4, b: 4, seed: 1))
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(old.state)) as! [String: Any]
        var settings = json["settings"] as! [String: Any]
        settings.removeValue(forKey: "optimizer")
        json["settings"] = settings
        #expect(json["adamMaxSecondMoment"] == nil)
        let decoded = try JSONDecoder().decode(TrainerState.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(decoded.settings.optimizer == nil)
        let restored = try Trainer(restoring: decoded)
        #expect(restored.adam.amsgrad == false)
    }

    @Test func aStateOfAnotherShapeIsRefused() throws {
        var state = smallTrainer(.vtrace).state
        state.parameters.values.removeLast()
        #expect(throws: TrainerStateError.self) { try Trainer(restoring: state) }
    }

    /// A batch that passes every check but overflows the loss (finite rewards of 3e38) is
    /// skipped: no version, the parameters as they were, the reason named.
    @Test(arguments: Correction.allCases)
    func overflowingUpdatesAreSkippedAndLeaveNoTrace(_ correction: Correction) {
        var trainer = smallTrainer(correction) { $0.rewardScale = 1e10 }
        var batch = makeBatch(t: 4, b: 3, seed: 1)
        batch.rewards = [Float](repeating: 3e38, count: 12)
        let before = trainer.net.network.parameters
        let result = trainer.step(batch)
        #expect(!result.applied)
        #expect(["non_finite_loss", "non_finite_gradient", "non_finite_parameters"].contains(result.skip?.reason ?? ""))
        #expect(trainer.net.network.parameters == before)
        #expect(trainer.version == 1)
        // The next ordinary batch trains.
        var ordinary = makeBatch(t: 4, b: 3, seed: 2)
        ordinary.rewards = [Float](repeating: 1e-12, count: 12)
        #expect(trainer.step(ordinary).applied)
        #expect(trainer.version == 2)
    }

    /// The reduction seam sits between backward and every optimizer step.
    @Test func theGradientReducerSeesEveryMinibatch() {
        final class Counter: GradientReducer, @unchecked Sendable {
            var calls = 0
            func reduce(_ gradient: inout [Float]) {
                calls += 1
                for i in gradient.indices { gradient[i] = 0 }
            }
        }
        let counter = Counter()
        var trainer = smallTrainer(.ppo) {
            $0.corrections.epochs = 3
            $0.corrections.minibatches = 2
        }
        trainer.gradientReducer = counter
        let before = trainer.net.network.parameters
        #expect(trainer.step(makeBatch(t: 4, b: 4, seed: 1)).optimizerSteps == 6)
        #expect(counter.calls == 6)
        #expect(trainer.net.network.parameters == before, "a zeroed gradient moved the parameters")
    }

    /// Repeated steps on one batch drive its value loss down: the pieces are wired the right way.
    /// (γ = 0: the targets are the rewards, not bootstrapped values that move with the network.)
    @Test(arguments: Correction.allCases.filter { $0 != .group })  // group methods have no critic
    func stepsReduceTheValueLossOnAFixedBatch(_ correction: Correction) {
        var trainer = smallTrainer(correction) {
            $0.hidden = [16, 16]
            $0.gamma = 0
        }
        var batch = makeBatch(t: 8, b: 4, seed: 2)
        batch.rewards = [Float](repeating: 1, count: 32)
        let first = trainer.evaluate(batch).valueLoss
        for _ in 0..<150 { _ = trainer.step(batch) }
        #expect(trainer.evaluate(batch).valueLoss < first * 0.5, "\(correction): value loss \(first) → \(trainer.evaluate(batch).valueLoss)")
    }

    /// Masked steps do not count: garbage in a masked column (its own sequence, so no target of
    /// another column depends on it) changes nothing, under every aggregation mode.
    @Test(arguments: LossAggregation.allCases)
    func maskedStepsDoNotCount(_ mode: LossAggregation) {
        let trainer = smallTrainer(.vtrace) { $0.aggregation = mode }
        var batch = makeBatch(t: 4, b: 3, seed: 4)
        let full = trainer.evaluate(batch)
        batch.mask = (0..<12).map { $0 % 3 == 2 ? 0 : 1 }
        var garbage = batch
        for i in 0..<12 where i % 3 == 2 { garbage.behaviourLogp[i] = -80 }
        let masked = trainer.evaluate(batch)
        let maskedGarbage = trainer.evaluate(garbage)
        #expect(masked.loss != full.loss)
        #expect(abs(masked.policyLoss - maskedGarbage.policyLoss) < 1e-9, "masked samples leaked into the loss")
    }

    @Test func columnsKeepGroupsMasksAndLengths() {
        var batch = makeBatch(t: 2, b: 3, seed: 1)
        batch.groupIDs = [7, nil, 9]
        batch.sampleIndices = [0, nil, 1]
        batch.sequenceLengths = [2, 1, 2]
        batch.mask = [1, 1, 1, 1, 0, 1]
        let sub = batch.columns([2, 1])
        #expect(sub.groupIDs == [9, nil])
        #expect(sub.sampleIndices == [1, nil])
        #expect(sub.sequenceLengths == [2, 1])
        #expect(sub.mask == [1, 1, 1, 0])
    }
}
