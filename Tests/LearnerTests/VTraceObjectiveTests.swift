#if canImport(Glibc)
import Domain
import Glibc
#endif
import Learner
import Protocol
import Rollout
import NeuralNet
import Testing

/// A small batch from real CartPole steps under a random behaviour policy, with a truncation
/// planted inside the unroll.
private func makeBatch(t: Int, b: Int, seed: UInt64) -> TrainingBatch {
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
        rewards.append(1)
        terminated.append(i == 5)
        truncated.append(i == 9)
        if i == 9 { finals[i] = [0.1, -0.2, 0.05, 0.3] }
    }
    let bootstrap = (0..<(b * 4)).map { _ in Float(rng.nextUnit() * 0.2 - 0.1) }
    return TrainingBatch(timeSteps: t, batch: b, observations: obs, bootstrapObservations: bootstrap, actions: actions,
                         behaviourLogp: logp, rewards: rewards, terminated: terminated, truncated: truncated, finalObservations: finals)
}

/// Central differences of `loss` in every parameter of `net` (but `skipping`) against `gradient`.
private func expectGradient(_ gradient: [Float], of loss: (ActorCritic) -> Double, at net: ActorCritic,
                            tolerance: Float, skipping: Set<Int> = []) {
    var net = net
    let eps: Float = 1e-2
    for i in net.network.parameters.indices where !skipping.contains(i) {
        let saved = net.network.parameters[i]
        net.network.parameters[i] = saved + eps
        let up = loss(net)
        net.network.parameters[i] = saved - eps
        let down = loss(net)
        net.network.parameters[i] = saved
        let numeric = Float((up - down) / Double(2 * eps))
        #expect(abs(numeric - gradient[i]) < tolerance + 2e-2 * abs(numeric), "parameter \(i): \(numeric) vs \(gradient[i])")
    }
}

@Suite struct VTraceObjectiveTests {
    /// The analytic gradient equals finite differences of the loss with the V-trace targets
    /// held fixed (they are stop-gradient constants).
    @Test func gradientMatchesFiniteDifferencesWithTargetsFixed() {
        let net = ActorCritic(observationSize: 4, hidden: [6, 5], actions: 2, seed: 3)
        let batch = makeBatch(t: 4, b: 3, seed: 8)
        var objective = VTraceObjective()
        objective.entropyCost = 0.05
        let base = objective.evaluate(net, batch)
        let n = 12
        func frozenLoss(_ candidate: ActorCritic) -> Double {
            let (logp, values) = candidate.evaluate(batch.observations, rows: n)
            let entropy = Categorical.entropy(logp, actions: 2)
            var loss = 0.0
            for i in 0..<n {
                loss -= base.pgAdvantages[i] * Double(logp[i * 2 + Int(batch.actions[i])]) / Double(n)
                loss += 0.5 * 0.5 * (base.vs[i] - Double(values[i])) * (base.vs[i] - Double(values[i])) / Double(n)
                loss -= 0.05 * Double(entropy[i]) / Double(n)
            }
            return loss
        }
        #expect(abs(frozenLoss(net) - base.loss) < 1e-5)
        expectGradient(base.gradient, of: frozenLoss, at: net, tolerance: 1e-3)
    }

    /// The same check for a Gaussian head (Pendulum's): 2-dimensional actions, log-std weights
    /// masked (their gradient is zero and the loss does not depend on them through state).
    @Test func gaussianGradientMatchesFiniteDifferencesWithTargetsFixed() {
        var net = ActorCritic(observationSize: 4, hidden: [6, 5], head: .gaussian(dimensions: 2), seed: 3)
        // Move the head away from its near-zero initialisation so every term matters.
        var rng = SplitMix64(seed: 11)
        for i in net.network.parameters.indices { net.network.parameters[i] += Float(rng.nextUnit() - 0.5) * 0.6 }
        net.maskGradient(&net.network.parameters)
        var batch = makeBatch(t: 4, b: 3, seed: 8)
        let n = 12
        batch.continuousActions = (0..<(n * 2)).map { _ in Float(rng.nextUnit() * 4 - 2) }
        batch.rewards = (0..<n).map { _ in Float(rng.nextUnit() * -10) }
        var objective = VTraceObjective()
        objective.entropyCost = 0.05
        objective.rewardScale = 0.1
        let base = objective.evaluate(net, batch)
        func frozenLoss(_ candidate: ActorCritic) -> Double {
            let out = candidate.network.forward(batch.observations, batch: n)
            let (mean, logStd, values) = candidate.splitGaussian(out, rows: n)
            var loss = 0.0
            for i in 0..<n {
                let m = Array(mean[(2 * i)..<(2 * i + 2)]), ls = Array(logStd[(2 * i)..<(2 * i + 2)])
                let lp = Gaussian.logProb(mean: m, logStd: ls, action: Array(batch.continuousActions[(2 * i)..<(2 * i + 2)]))
                loss -= base.pgAdvantages[i] * Double(lp) / Double(n)
                loss += 0.5 * 0.5 * (base.vs[i] - Double(values[i])) * (base.vs[i] - Double(values[i])) / Double(n)
                loss -= 0.05 * Double(Gaussian.entropy(logStd: ls)) / Double(n)
            }
            return loss
        }
        #expect(abs(frozenLoss(net) - base.loss) < 1e-4)
        var masked = [Float](repeating: 1, count: net.network.parameters.count)
        net.maskGradient(&masked)
        for i in masked.indices where masked[i] == 0 {
            #expect(base.gradient[i] == 0, "masked log-std weight \(i) has a gradient")
        }
        expectGradient(base.gradient, of: frozenLoss, at: net, tolerance: 2e-3, skipping: Set(masked.indices.filter { masked[$0] == 0 }))
    }

    /// Repeated Adam steps on one batch drive its loss down: the pieces are wired the right way round.
    @Test func adamStepsReduceTheLossOnAFixedBatch() {
        var net = ActorCritic(observationSize: 4, hidden: [16, 16], actions: 2, seed: 1)
        let batch = makeBatch(t: 8, b: 4, seed: 2)
        let objective = VTraceObjective()
        var adam = Adam(parameterCount: net.network.parameters.count, learningRate: 3e-3, maxGradNorm: 40)
        let first = objective.evaluate(net, batch)
        var last = first
        for _ in 0..<150 {
            last = objective.evaluate(net, batch)
            adam.update(&net.network.parameters, gradient: last.gradient)
        }
        #expect(last.valueLoss < first.valueLoss * 0.5, "value loss \(first.valueLoss) → \(last.valueLoss)")
    }
}

@Suite struct BatchAssemblyTests {
    /// A validated chunk from the synthetic source, acted by `version`.
    func chunk(version: UInt64, envs: Int, seed: UInt64) throws -> QueuedChunk {
        var source = SyntheticSource(spec: SyntheticSource.envSpec(numEnvs: UInt32(envs), observationSize: 3),
                                     unrollLength: 4, episodeLength: 3, seed: seed)
        let frames = source.next(runID: "r", workerID: "w", incarnation: 1, sequence: 0, policyVersion: version)
        let decoded = try WireCodec.decode(frames.map { $0 as any MessageFrame })
        guard case .trajectoryChunk(let c) = decoded.body else { throw ProtocolError(.malformed, "not a chunk") }
        return QueuedChunk(worker: WorkerKey([1]), chunk: try ChunkValidator.validate(
            c, frames: decoded.tensorFrames,
            rules: ChunkRules(spec: .synthetic(observationSize: 3), numEnvs: envs, unrollLength: 4, newestVersion: .max)))
    }

    /// Lag is the learner's version minus the acting version (not relative to the newest chunk:
    /// the first version of this code reported 0 whenever all chunks were equally stale).
    @Test func chunksAreConcatenatedAlongBAndLagIsAgainstTheLearner() throws {
        let a = try chunk(version: 3, envs: 2, seed: 1)
        let b = try chunk(version: 5, envs: 1, seed: 2)
        let (batch, lags) = PolicyTrainer.assemble([a, b], learnerVersion: 7)
        #expect(batch.timeSteps == 4 && batch.batch == 3)
        #expect(lags == [4, 4, 4, 4, 2, 2, 2, 2])
        // Step 1, column 2 is chunk b's step 1, env 0.
        let bObs = b.chunk.observations.copyFloats()
        #expect(Array(batch.observations[((1 * 3) + 2) * 3..<((1 * 3) + 2) * 3 + 3]) == Array(bObs[(1 * 1 + 0) * 3..<(1 * 1 + 0) * 3 + 3]))
        // Truncations (episode length 3) keep their final observations at the batch's indices.
        for (index, _) in batch.finalObservations { #expect(batch.truncated[index]) }
        #expect(batch.truncated.filter { $0 }.count == batch.finalObservations.count)
        #expect(!batch.finalObservations.isEmpty)
        let (_, sameVersion) = PolicyTrainer.assemble([a], learnerVersion: 3)
        #expect(sameVersion.allSatisfy { $0 == 0 })
    }
}
