import Domain
import Environments
import NeuralNet
import Protocol

/// A worker's chunks for a sequence task, as group-relative methods need them: each round
/// draws `promptsPerRound` prompts, samples K answers to each token by token — one batched
/// forward pass over prompts × K per token, each token's log-prob under the sampling
/// distribution recorded — scores them with the task's verifier, and makes one chunk per prompt:
/// T = the answer length, B = K columns (the group), `group_id` unique to the group,
/// `sample_index` 0 (the chunk holds the whole group), `prompt_id` the prompt's stable name.
/// Every answer is one episode (return 0 or 1), terminal at its last token.
public struct GroupedSequenceSource: ChunkSource {
    public let spec: Tributary_V1_EnvSpec
    public var unrollLength: Int { length }
    public var needsPolicy: Bool { true }
    public var sharesTensorFrames: Bool {
        get { adder.sharesTensorFrames }
        set { adder.sharesTensorFrames = newValue }
    }

    let task: any SequenceTaskDefinition.Type
    let groupSize: Int
    let promptsPerRound: Int
    let length: Int
    private var rng: SplitMix64
    private var adder: ChunkAdder
    /// Chunks of the last round not yet handed out, in order.
    private var pending: [Round.Group] = []
    private var groupsMade: UInt64 = 0

    struct Round {
        struct Group {
            var promptIndex: Int
            var steps: [ActedStep]
            var bootstrap: [Float]
        }
    }

    /// nil when `envID` is not a sequence task.
    public init?(envID: String, groupSize: Int, promptsPerRound: Int, seed: UInt64) {
        guard let task = EnvironmentRegistry.sequenceTask(envID), let info = EnvironmentRegistry.spec(envID),
              groupSize > 0, promptsPerRound > 0
        else { return nil }
        self.task = task
        self.groupSize = groupSize
        self.promptsPerRound = promptsPerRound
        length = task.answerLength
        rng = SplitMix64(seed: seed ^ 0x6A09_E667)
        spec = info.wire(numEnvs: groupSize)
        adder = ChunkAdder(spec: spec, unrollLength: length)
    }

    public mutating func next(runID: String, workerID: String, incarnation: UInt64, sequence: UInt64, policy: Policy) -> [OwnedFrame] {
        if pending.isEmpty { pending = sampleRound(policy).reversed() }
        let g = pending.removeLast()
        for s in g.steps { adder.add(s) }
        groupsMade += 1
        // Unique per incarnation (a random 64-bit value) and group: collisions across workers are
        // as unlikely as two incarnations drawing the same value.
        let id = incarnation &+ groupsMade &* 0x9E37_79B9_7F4A_7C15
        return adder.chunk(runID: runID, workerID: workerID, incarnation: incarnation, sequence: sequence, bootstrap: g.bootstrap,
                           group: ChunkGroup(id: id, promptID: task.promptID(g.promptIndex)))
    }

    /// One round: P prompts × K answers sampled with `policy`, split into P groups.
    mutating func sampleRound(_ policy: Policy) -> [Round.Group] {
        guard let net = policy.network else { preconditionFailure("GroupedSequenceSource acts only with weights") }
        let (k, l, d) = (groupSize, length, task.observationSize)
        let answers = SequenceSampler.sample(task, net: net, prompts: promptsPerRound, k: k, using: &rng)
        var groups: [Round.Group] = []
        for g in 0..<promptsPerRound {
            let columns = (g * k)..<((g + 1) * k)
            let rewards = columns.map { Float(answers.correct[$0] ? 1 : 0) }
            var steps: [ActedStep] = []
            for t in 0..<l {
                let last = t == l - 1
                steps.append(ActedStep(
                    observations: Array(answers.observations[t][(g * k * d)..<((g + 1) * k * d)]),
                    actions: Array(answers.tokens[t][columns]), logp: Array(answers.logp[t][columns]),
                    rewards: last ? rewards : [Float](repeating: 0, count: k),
                    terminated: [Bool](repeating: last, count: k), truncated: [Bool](repeating: false, count: k),
                    finalObservations: [:],
                    episodes: last ? (0..<k).map { (env: $0, episodeReturn: Double(rewards[$0]), length: l, terminated: true) } : [],
                    policyVersion: policy.version))
            }
            var bootstrap = [Float](repeating: 0, count: k * d)
            for (j, r) in columns.enumerated() {
                task.encode(prompt: task.prompt(answers.prompts[g]), answer: answers.answers[r], position: l, into: &bootstrap, at: j * d)
            }
            groups.append(Round.Group(promptIndex: answers.prompts[g], steps: steps, bootstrap: bootstrap))
        }
        return groups
    }
}

/// Answers to a sequence task sampled token by token: P prompts drawn uniformly, K answers each,
/// one batched forward pass over all P × K rows per token (rows p·K ..< (p+1)·K answer prompt p).
public enum SequenceSampler {
    public struct Answers: Sendable {
        /// Prompt indices, [P].
        public var prompts: [Int]
        /// Per token t: the inputs [P·K, obs], the tokens chosen [P·K] and their log-probs [P·K].
        public var observations: [[Float]]
        public var tokens: [[Float]]
        public var logp: [[Float]]
        /// Per row: its tokens, and whether the verifier accepts them.
        public var answers: [[Int]]
        public var correct: [Bool]

        public var successRate: Double { Double(correct.filter { $0 }.count) / Double(max(1, correct.count)) }
    }

    /// `distinctRows`: one forward pass per distinct input row (the K answers to a prompt share
    /// their first input), the same samples either way.
    public static func sample(_ task: any SequenceTaskDefinition.Type, net: ActorCritic, prompts p: Int, k: Int,
                              distinctRows: Bool = true, using rng: inout SplitMix64) -> Answers {
        let rows = p * k, d = task.observationSize
        let prompts = (0..<p).map { _ in Int(rng.next() % UInt64(task.promptCount)) }
        let promptTokens = prompts.map { task.prompt($0) }
        var out = Answers(prompts: prompts, observations: [], tokens: [], logp: [], answers: [[Int]](repeating: [], count: rows), correct: [])
        for t in 0..<task.answerLength {
            var input = [Float](repeating: 0, count: rows * d)
            for r in 0..<rows { task.encode(prompt: promptTokens[r / k], answer: out.answers[r], position: t, into: &input, at: r * d) }
            let (chosen, logp) = net.act(input, rows: rows, distinctRows: distinctRows, using: &rng)
            for r in 0..<rows { out.answers[r].append(Int(chosen[r])) }
            out.observations.append(input)
            out.tokens.append(chosen)
            out.logp.append(logp)
        }
        out.correct = (0..<rows).map { task.isCorrect(prompt: promptTokens[$0 / k], answer: out.answers[$0]) }
        return out
    }
}
