import Domain

/// A chunk whose every tensor was checked against the learner's own environment.
///
/// Holds the tensor frames as received (no copy). The learner's buffer stores these. A class:
/// the buffer, the ingest path and batch assembly pass a chunk around many times, and a copy of
/// a struct of eleven tensor views retained ~25 references each time (a fifth of the learner's
/// CPU at 16 KiB chunks, by perf).
public final class ValidatedChunk: Sendable {
    public let header: Tributary_V1_TrajectoryChunk
    public let policyVersions: TensorView
    public let observations: TensorView
    public let actions: TensorView
    public let behaviourLogp: TensorView
    public let behaviourLogits: TensorView?
    public let rewards: TensorView
    public let terminated: TensorView
    public let truncated: TensorView
    public let finalObservations: TensorView?
    public let finalObservationIndex: TensorView?
    public let bootstrapObservation: TensorView
    /// Payload bytes of all tensor frames.
    public let payloadBytes: Int
    /// The behaviour policy version of each step (read once, here).
    public let stepVersions: [UInt64]

    /// Steps in the chunk: T × B.
    public var steps: Int { Int(header.length) * Int(header.numEnvs) }

    init(header: Tributary_V1_TrajectoryChunk, policyVersions: TensorView, observations: TensorView, actions: TensorView,
         behaviourLogp: TensorView, behaviourLogits: TensorView?, rewards: TensorView, terminated: TensorView,
         truncated: TensorView, finalObservations: TensorView?, finalObservationIndex: TensorView?,
         bootstrapObservation: TensorView, payloadBytes: Int, stepVersions: [UInt64]) {
        self.header = header
        self.policyVersions = policyVersions
        self.observations = observations
        self.actions = actions
        self.behaviourLogp = behaviourLogp
        self.behaviourLogits = behaviourLogits
        self.rewards = rewards
        self.terminated = terminated
        self.truncated = truncated
        self.finalObservations = finalObservations
        self.finalObservationIndex = finalObservationIndex
        self.bootstrapObservation = bootstrapObservation
        self.payloadBytes = payloadBytes
        self.stepVersions = stepVersions
    }
}

/// What a chunk is checked against: the learner's environment and run, never the sender's claims.
public struct ChunkRules: Sendable {
    /// The environment the learner trains.
    public var spec: EnvSpec
    /// B of the session (accepted from its Hello by `HelloValidator`).
    public var numEnvs: Int
    /// T of the run.
    public var unrollLength: Int
    /// The newest policy version the learner has served: no step may claim a newer one.
    public var newestVersion: UInt64

    public init(spec: EnvSpec, numEnvs: Int, unrollLength: Int, newestVersion: UInt64) {
        self.spec = spec
        self.numEnvs = numEnvs
        self.unrollLength = unrollLength
        self.newestVersion = newestVersion
    }
}

/// Checks a `TrajectoryChunk` and its tensor frames (docs/protocol.md §6, rules 5–10).
///
/// Every length and index that comes from the peer is checked before it is used, with
/// overflow-checked arithmetic; none of it can trap, in debug or release builds.
public enum ChunkValidator {
    /// Largest unroll length accepted.
    public static let maxLength = 1 << 16

    /// Payload bytes of a chunk of `length` steps of `numEnvs` copies of `spec` without its
    /// optional tensors: what a worker's credits are sized by.
    public static func typicalBytes(spec: EnvSpec, numEnvs b: Int, length t: Int) -> Int {
        let obs = spec.observationSize * spec.observationType.byteSize
        let act = spec.actionSpace.shape.reduce(1, *) * spec.actionSpace.elementType.byteSize
        return t * 8 + t * b * (obs + act + 4 + 4 + 1 + 1) + b * obs
    }

    /// The same with every optional tensor and a final observation for every step: the most
    /// one credit can bring, which the learner's memory budget counts.
    public static func maxBytes(spec: EnvSpec, numEnvs b: Int, length t: Int) -> Int {
        let obs = spec.observationSize * spec.observationType.byteSize
        let logits = spec.actionSpace.actionCount * 4
        return typicalBytes(spec: spec, numEnvs: b, length: t) + t * b * (logits + obs + 8)
    }

    public static func validate(
        _ chunk: Tributary_V1_TrajectoryChunk,
        frames: [any MessageFrame],
        rules: ChunkRules
    ) throws(ProtocolError) -> ValidatedChunk {
        // 5. The environment, T and B are the learner's.
        try FieldLimits.check(chunk.envID, FieldLimits.envID, "env_id")
        try FieldLimits.check(chunk.workerID, FieldLimits.workerID, "worker_id")
        try FieldLimits.check(chunk.promptID, FieldLimits.promptID, "prompt_id")
        guard chunk.envID == rules.spec.id else {
            throw ProtocolError(.envMismatch, "chunk is for '\(chunk.envID)', this learner trains '\(rules.spec.id)'")
        }
        let t = Int(chunk.length)
        let b = Int(chunk.numEnvs)
        guard t == rules.unrollLength else {
            throw ProtocolError(.shapeMismatch, "length T=\(t), the run's unroll length is \(rules.unrollLength)")
        }
        guard b == rules.numEnvs else {
            throw ProtocolError(.shapeMismatch, "num_envs B=\(b) but the worker's Hello said \(rules.numEnvs)")
        }
        let obs = rules.spec.observationShape
        let act = rules.spec.actionSpace.shape
        let obsType = rules.spec.observationType.wire
        let actType = rules.spec.actionSpace.elementType.wire
        // Byte ranges taken in each tensor frame, checked to tile their frames at the end.
        // (At most 32 tensor frames reach here: WireCodec's limit.)
        var ranges = [[(offset: Int, end: Int, name: String)]](repeating: [], count: frames.count)

        // 6. Every tensor: present, the right dtype and shape, its bytes inside its frame.
        func view(
            _ name: String, _ has: Bool, _ tensor: Tributary_V1_Tensor,
            _ dtype: Tributary_V1_DType, _ shape: [Int]
        ) throws(ProtocolError) -> TensorView {
            guard has else { throw ProtocolError(.shapeMismatch, "\(name) is missing") }
            guard tensor.dtype == dtype else {
                throw ProtocolError(.shapeMismatch, "\(name) has dtype \(tensor.dtype.name), expected \(dtype.name)")
            }
            guard tensor.shape.count == shape.count, zip(tensor.shape, shape).allSatisfy({ $0 == UInt64($1) }) else {
                let got = tensor.shape.prefix(FieldLimits.rank).map(String.init).joined(separator: ", ")
                throw ProtocolError(.shapeMismatch, "\(name) has shape [\(got)\(tensor.shape.count > FieldLimits.rank ? ", …" : "")], expected \(shape)")
            }
            guard Int(tensor.frame) < frames.count else {
                throw ProtocolError(.malformed, "\(name) names tensor frame \(tensor.frame) of \(frames.count)")
            }
            let frame = frames[Int(tensor.frame)]
            var expected = dtype.byteSize!
            for d in shape {
                let (p, overflow) = expected.multipliedReportingOverflow(by: d)
                guard !overflow else { throw ProtocolError(.shapeMismatch, "\(name) shape \(shape) is too large") }
                expected = p
            }
            if tensor.offset == 0, frame.count < expected {
                throw ProtocolError(.shapeMismatch, "\(name) frame has \(frame.count) bytes, shape \(shape) needs \(expected)")
            }
            guard tensor.offset <= UInt64(frame.count), expected <= frame.count - Int(tensor.offset) else {
                throw ProtocolError(.malformed, "\(name) needs \(expected) bytes from offset \(tensor.offset) of tensor frame \(tensor.frame), which has \(frame.count)")
            }
            let offset = Int(tensor.offset)
            ranges[Int(tensor.frame)].append((offset, offset + expected, name))
            return TensorView(dtype: dtype, shape: shape, frame: frame, offset: offset, byteCount: expected)
        }

        let versions = try view("policy_versions", chunk.hasPolicyVersions, chunk.policyVersions, .uint64, [t])
        let observations = try view("observations", chunk.hasObservations, chunk.observations, obsType, [t, b] + obs)
        let actions = try view("actions", chunk.hasActions, chunk.actions, actType, [t, b] + act)
        let logp = try view("behaviour_logp", chunk.hasBehaviourLogp, chunk.behaviourLogp, .float32, [t, b])
        var logits: TensorView?
        if chunk.hasBehaviourLogits {
            let n = rules.spec.actionSpace.actionCount
            guard n > 0 else {
                throw ProtocolError(.shapeMismatch, "behaviour_logits sent for a continuous action space")
            }
            logits = try view("behaviour_logits", true, chunk.behaviourLogits, .float32, [t, b, n])
        }
        let rewards = try view("rewards", chunk.hasRewards, chunk.rewards, .float32, [t, b])
        let terminated = try view("terminated", chunk.hasTerminated, chunk.terminated, .uint8, [t, b])
        let truncated = try view("truncated", chunk.hasTruncated, chunk.truncated, .uint8, [t, b])
        let bootstrap = try view(
            "bootstrap_observation", chunk.hasBootstrapObservation, chunk.bootstrapObservation, obsType, [b] + obs)

        // 7. Flags are 0/1; a truncated step carries its final observation.
        var truncatedSteps: [(Int32, Int32)] = []
        let badFlag: Int? = terminated.withUnsafeBytes { term in
            truncated.withUnsafeBytes { trunc in
                for i in 0..<(t * b) {
                    if term[i] > 1 || trunc[i] > 1 { return i }
                    if trunc[i] == 1 { truncatedSteps.append((Int32(i / b), Int32(i % b))) }
                }
                return nil
            }
        }
        if let i = badFlag {
            throw ProtocolError(.malformed, "terminated/truncated must be 0 or 1 (step \(i / b), env \(i % b))")
        }
        var finals: TensorView?
        var finalIndex: TensorView?
        if chunk.hasFinalObservations || chunk.hasFinalObservationIndex || !truncatedSteps.isEmpty {
            let k = truncatedSteps.count
            finals = try view(
                "final_observations", chunk.hasFinalObservations, chunk.finalObservations, obsType, [k] + obs)
            let index = try view(
                "final_observation_index", chunk.hasFinalObservationIndex, chunk.finalObservationIndex, .int32, [k, 2])
            let matches = index.withUnsafeBytes { raw in
                truncatedSteps.enumerated().allSatisfy { j, step in
                    raw.loadUnaligned(fromByteOffset: j * 8, as: Int32.self) == step.0
                        && raw.loadUnaligned(fromByteOffset: j * 8 + 4, as: Int32.self) == step.1
                }
            }
            guard matches else {
                throw ProtocolError(.shapeMismatch, "final_observation_index does not list the truncated steps in order")
            }
            finalIndex = index
        }
        let unreferenced = ranges.lazy.filter(\.isEmpty).count
        guard unreferenced == 0 else {
            throw ProtocolError(.malformed, "\(unreferenced) tensor frame(s) are not referenced by any tensor")
        }
        // Tensors that share a frame cover it exactly: no overlap (a byte read as two tensors),
        // no gap (bytes nobody checks).
        for (index, taken) in ranges.enumerated() where taken.count > 1 || taken[0].offset != 0 || taken[0].end != frames[index].count {
            if taken.count == 1, taken[0].offset == 0 {
                throw ProtocolError(.shapeMismatch, "\(taken[0].name) frame has \(frames[index].count) bytes, its shape needs \(taken[0].end)")
            }
            let sorted = taken.sorted { $0.offset < $1.offset }
            var end = 0
            for r in sorted {
                guard r.offset == end else {
                    throw ProtocolError(.malformed, r.offset < end
                        ? "\(r.name) overlaps another tensor in tensor frame \(index) (offset \(r.offset), the previous tensor ends at \(end))"
                        : "tensor frame \(index) has \(r.offset - end) bytes no tensor covers before \(r.name) (offset \(r.offset))")
                }
                end = r.end
            }
            guard end == frames[index].count else {
                throw ProtocolError(.malformed, "tensor frame \(index) has \(frames[index].count - end) bytes no tensor covers after its last tensor")
            }
        }

        // 8. Values: discrete actions in range, every float finite — but observations, which
        // the trainer's batch assembly checks as it copies them (BatchAssembly).
        if case .discrete(let n) = rules.spec.actionSpace,
           let i = actions.withUnsafeBytes({ TensorScan.firstOutOfRange($0, count: n) }) {
            let value = actions.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 4, as: Int32.self) }
            throw ProtocolError(.actionOutOfRange, "action \(value) at step \(i / b), env \(i % b) is outside 0..<\(n)")
        }
        var floats: [(String, TensorView)] = [("behaviour_logp", logp), ("rewards", rewards)]
        if actType == .float32 { floats.append(("actions", actions)) }
        if let logits { floats.append(("behaviour_logits", logits)) }
        for (name, tensor) in floats {
            if let i = tensor.withUnsafeBytes({ TensorScan.firstNonFinite($0) }) {
                let value = tensor.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
                throw ProtocolError(.nonFinite, "\(name) element \(i) is \(value)")
            }
        }

        // 9. Versions: served by the learner, never decreasing within the chunk.
        let stepVersions = versions.withUnsafeBytes { raw in
            (0..<t).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) }
        }
        for (s, v) in stepVersions.enumerated() {
            if v > rules.newestVersion {
                throw ProtocolError(.badVersion, "step \(s) claims policy version \(v); the newest this learner has served is \(rules.newestVersion)")
            }
            if s > 0, v < stepVersions[s - 1] {
                throw ProtocolError(.badVersion, "policy versions decrease at step \(s) (\(stepVersions[s - 1]) then \(v))")
            }
        }

        // 10. Episode statistics only where the chunk's flags end an episode, once each.
        var seen = Set<Int>()
        for (j, e) in chunk.episodes.enumerated() {
            let s = Int(e.step)
            let env = Int(e.envIndex)
            guard s < t, env < b else {
                throw ProtocolError(.badEpisode, "episodes[\(j)] names step \(e.step), env \(e.envIndex) outside T=\(t), B=\(b)")
            }
            let i = s * b + env
            let ended = (terminated.uint8(at: i) == 1, truncated.uint8(at: i) == 1)
            guard ended.0 || ended.1 else {
                throw ProtocolError(.badEpisode, "episodes[\(j)] ends at step \(s), env \(env), where no episode ends (terminated and truncated are 0)")
            }
            guard e.terminated == ended.0, e.truncated == ended.1 else {
                throw ProtocolError(.badEpisode, "episodes[\(j)] says terminated=\(e.terminated), truncated=\(e.truncated); the flags at step \(s), env \(env) say \(ended.0), \(ended.1)")
            }
            guard seen.insert(i).inserted else {
                throw ProtocolError(.badEpisode, "episodes[\(j)] repeats the episode ending at step \(s), env \(env)")
            }
            guard e.length >= 1, e.episodeReturn.isFinite else {
                throw ProtocolError(.badEpisode, "episodes[\(j)] has length \(e.length) and return \(e.episodeReturn)")
            }
        }
        return ValidatedChunk(
            header: chunk, policyVersions: versions, observations: observations, actions: actions,
            behaviourLogp: logp, behaviourLogits: logits, rewards: rewards, terminated: terminated,
            truncated: truncated, finalObservations: finals, finalObservationIndex: finalIndex,
            bootstrapObservation: bootstrap, payloadBytes: frames.reduce(0) { $0 + $1.count }, stepVersions: stepVersions)
    }
}
