/// One batch of experience in the learner's layout: [T, B] time-major (index t·B + b), as chunks
/// carry it. Each environment column is one sequence: its steps, a mask saying which count, its
/// length, and the group it belongs to (group-relative methods).
public struct TrainingBatch: Sendable {
    public var timeSteps: Int
    public var batch: Int
    /// [T, B, obs] observations.
    public var observations: [Float]
    /// [B, obs] observation after the last step.
    public var bootstrapObservations: [Float]
    /// Discrete actions [T, B] (categorical policies).
    public var actions: [Int32]
    /// Continuous actions [T, B, d] (Gaussian policies); empty for discrete ones.
    public var continuousActions: [Float]
    public var behaviourLogp: [Float]
    public var rewards: [Float]
    public var terminated: [Bool]
    public var truncated: [Bool]
    /// For each truncated step (index t·B + b): the final observation of that episode.
    public var finalObservations: [Int: [Float]]
    /// [T, B] weight of each step in the loss: 1 counts, 0 is padding (a sequence shorter than
    /// T). All ones for classic-control unrolls.
    public var mask: [Float]
    /// Per column: its steps that count (≤ T).
    public var sequenceLengths: [Int]
    /// Per column: the group it belongs to (its chunk's `group_id`), nil outside groups.
    public var groupIDs: [UInt64?]
    /// Per column: its index within its group (`sample_index`), nil outside groups.
    public var sampleIndices: [UInt32?]
    /// [T, B] version lag of each step (learner version at assembly − behaviour version); 0 when
    /// unknown.
    public var lags: [UInt64]

    public init(timeSteps: Int, batch: Int, observations: [Float], bootstrapObservations: [Float], actions: [Int32],
                behaviourLogp: [Float], rewards: [Float], terminated: [Bool], truncated: [Bool], finalObservations: [Int: [Float]],
                continuousActions: [Float] = [], mask: [Float]? = nil, sequenceLengths: [Int]? = nil,
                groupIDs: [UInt64?]? = nil, sampleIndices: [UInt32?]? = nil, lags: [UInt64]? = nil) {
        self.timeSteps = timeSteps
        self.batch = batch
        self.observations = observations
        self.bootstrapObservations = bootstrapObservations
        self.actions = actions
        self.continuousActions = continuousActions
        self.behaviourLogp = behaviourLogp
        self.rewards = rewards
        self.terminated = terminated
        self.truncated = truncated
        self.finalObservations = finalObservations
        self.mask = mask ?? [Float](repeating: 1, count: timeSteps * batch)
        self.sequenceLengths = sequenceLengths ?? [Int](repeating: timeSteps, count: batch)
        self.groupIDs = groupIDs ?? [UInt64?](repeating: nil, count: batch)
        self.sampleIndices = sampleIndices ?? [UInt32?](repeating: nil, count: batch)
        self.lags = lags ?? [UInt64](repeating: 0, count: timeSteps * batch)
    }

    /// T · B.
    public var samples: Int { timeSteps * batch }
    /// Whether its rows are worth running through the network once per distinct row
    /// (`MLP.forward(distinctRows:)`): by default when it has groups (a batch of groups answers
    /// each prompt K times). `distinctRows` overrides that (the benchmark measures both ways).
    public var repeatsRows: Bool { distinctRows ?? groupIDs.contains { $0 != nil } }
    public var distinctRows: Bool? = nil
    /// Per column: the prompt it answers (its chunk's `prompt_id`); empty when none is known.
    public var promptIDs: [String?] = []
    /// Per column: a persistent baseline for its prompt (SPO's tracker, `Trainer` fills it before
    /// preparing); empty otherwise.
    public var promptBaselines: [Double] = []

    /// Floats per observation.
    public var observationSize: Int { observations.count / max(1, samples) }
}

extension TrainingBatch {
    /// Answers to a sequence task as a batch: `observations[t]`, `tokens[t]`, `logp[t]` of every
    /// row at token t, rows in groups of `groupSize` (one group per prompt), reward 1 at the last
    /// token of a correct answer, terminal there.
    /// `prompts`: each group's prompt index (the columns' `promptIDs` are "\(task):\(index)").
    public static func answers(observations: [[Float]], tokens: [[Float]], logp: [[Float]], correct: [Bool], groupSize k: Int,
                               prompts: [Int]? = nil, task: String = "") -> TrainingBatch {
        let l = observations.count, b = correct.count
        let d = observations.first.map { $0.count / max(1, b) } ?? 0
        var batch = TrainingBatch(timeSteps: l, batch: b, observations: observations.flatMap { $0 },
                             bootstrapObservations: [Float](repeating: 0, count: b * d), actions: tokens.flatMap { $0.map { Int32($0) } },
                             behaviourLogp: logp.flatMap { $0 },
                             rewards: (0..<(l * b)).map { i in i / b == l - 1 && correct[i % b] ? 1 : 0 },
                             terminated: (0..<(l * b)).map { $0 / b == l - 1 }, truncated: [Bool](repeating: false, count: l * b),
                             finalObservations: [:], groupIDs: (0..<b).map { UInt64($0 / k) })
        if let prompts { batch.promptIDs = (0..<b).map { "\(task):\(prompts[$0 / k])" } }
        return batch
    }

    /// The rows of one forward pass that gives every value a target needs: the T·B samples,
    /// then the B bootstrap observations, then the final observation of each truncated step
    /// (in increasing sample index).
    public func targetInput() -> (input: [Float], rows: Int) {
        let finalKeys = finalObservations.keys.sorted()
        var input = observations
        input += bootstrapObservations
        for k in finalKeys { input += finalObservations[k]! }
        return (input, samples + batch + finalKeys.count)
    }

    /// Rewards (scaled) and discounts for value targets. A termination cuts bootstrap and trace
    /// (d = 0); a time limit inside the unroll does too, after folding γ V(final observation)
    /// into the reward (§1). `finalValues[j]` is the value of the j-th final observation of
    /// `targetInput()`.
    public func valueTargetTerms(gamma: Double, rewardScale: Double, finalValues: [Double]) -> (rewards: [Double], discounts: [Double]) {
        let n = samples
        var rewards = self.rewards.map { Double($0) * rewardScale }
        var discounts = [Double](repeating: gamma, count: n)
        for i in 0..<n where terminated[i] || truncated[i] { discounts[i] = 0 }
        for (j, k) in finalObservations.keys.sorted().enumerated() where !terminated[k] {
            rewards[k] += gamma * finalValues[j]
        }
        return (rewards, discounts)
    }

    /// The batch restricted to some of its environment columns (all T steps of each).
    public func columns(_ chosen: [Int]) -> TrainingBatch {
        let b = chosen.count
        let d = observationSize
        let width = continuousActions.count / max(1, samples)
        var obs: [Float] = [], acts: [Int32] = [], cont: [Float] = [], logp: [Float] = [], rew: [Float] = []
        var term: [Bool] = [], trunc: [Bool] = [], finals: [Int: [Float]] = [:], mask: [Float] = []
        obs.reserveCapacity(timeSteps * b * d)
        for t in 0..<timeSteps {
            for (j, c) in chosen.enumerated() {
                let i = t * batch + c
                obs += observations[(i * d)..<((i + 1) * d)]
                if !actions.isEmpty { acts.append(actions[i]) }
                if width > 0 { cont += continuousActions[(i * width)..<((i + 1) * width)] }
                logp.append(behaviourLogp[i])
                rew.append(rewards[i])
                term.append(terminated[i])
                trunc.append(truncated[i])
                mask.append(self.mask[i])
                if let f = finalObservations[i] { finals[t * b + j] = f }
            }
        }
        let boot = chosen.flatMap { bootstrapObservations[($0 * d)..<(($0 + 1) * d)] }
        var subset = TrainingBatch(timeSteps: timeSteps, batch: b, observations: obs, bootstrapObservations: boot, actions: acts,
                                   behaviourLogp: logp, rewards: rew, terminated: term, truncated: trunc, finalObservations: finals,
                                   continuousActions: cont, mask: mask, sequenceLengths: chosen.map { sequenceLengths[$0] },
                                   groupIDs: chosen.map { groupIDs[$0] }, sampleIndices: chosen.map { sampleIndices[$0] },
                                   lags: pick(lags, columns: chosen))
        subset.distinctRows = distinctRows
        if !promptIDs.isEmpty { subset.promptIDs = chosen.map { promptIDs[$0] } }
        if !promptBaselines.isEmpty { subset.promptBaselines = chosen.map { promptBaselines[$0] } }
        return subset
    }

    /// Per-sample values (index t·B + b) of the chosen columns, in the layout of `columns(_:)`.
    public func pick<T>(_ values: [T], columns chosen: [Int]) -> [T] {
        var out: [T] = []
        out.reserveCapacity(timeSteps * chosen.count)
        for t in 0..<timeSteps { for c in chosen { out.append(values[t * batch + c]) } }
        return out
    }
}
