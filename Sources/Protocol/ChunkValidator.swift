/// A chunk whose every tensor was checked against its header and the worker's `EnvSpec`.
///
/// Holds the tensor frames as received (no copy). The learner's buffer stores these.
public struct ValidatedChunk: Sendable {
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

    /// Steps in the chunk: T × B.
    public var steps: Int { Int(header.length) * Int(header.numEnvs) }
}

/// Checks a `TrajectoryChunk` and its tensor frames (docs/protocol.md "TrajectoryChunk").
///
/// Every rule answers with `.shapeMismatch` (the tensors disagree with the header or the
/// worker's EnvSpec) or `.malformed` (the frames themselves are wrong); none can trap.
public enum ChunkValidator {
    /// Largest unroll length accepted.
    public static let maxLength = 1 << 16

    /// Payload bytes of a chunk of `length` steps for this EnvSpec (without optional
    /// tensors and final observations): what credits are sized by.
    public static func expectedBytes(env: Tributary_V1_EnvSpec, length t: Int) -> Int {
        let b = Int(env.numEnvs)
        let obs = env.observationShape.reduce(1) { $0 * Int(clamping: $1) } * (env.observationDtype.byteSize ?? 4)
        let act = env.actionShape.reduce(1) { $0 * Int(clamping: $1) } * (env.actionDtype.byteSize ?? 4)
        return t * 8 + t * b * (obs + act + 4 + 4 + 1 + 1) + b * obs
    }

    public static func validate(
        _ chunk: Tributary_V1_TrajectoryChunk,
        frames: [any MessageFrame],
        env: Tributary_V1_EnvSpec
    ) throws(ProtocolError) -> ValidatedChunk {
        let t = Int(chunk.length)
        let b = Int(chunk.numEnvs)
        guard t > 0, t <= maxLength else {
            throw ProtocolError(.shapeMismatch, "length T=\(t) is outside 1...\(maxLength)")
        }
        guard b > 0, b == Int(env.numEnvs) else {
            throw ProtocolError(.shapeMismatch, "num_envs B=\(b) but the worker's Hello said \(env.numEnvs)")
        }
        guard chunk.envID == env.envID else {
            throw ProtocolError(.shapeMismatch, "env_id '\(chunk.envID)' but the worker's Hello said '\(env.envID)'")
        }
        let obs = env.observationShape.map { Int(clamping: $0) }
        let act = env.actionShape.map { Int(clamping: $0) }
        var used = Set<UInt32>()

        func view(
            _ name: String, _ has: Bool, _ tensor: Tributary_V1_Tensor,
            _ dtype: Tributary_V1_DType, _ shape: [Int]
        ) throws(ProtocolError) -> TensorView {
            guard has else { throw ProtocolError(.shapeMismatch, "\(name) is missing") }
            guard tensor.dtype == dtype else {
                throw ProtocolError(.shapeMismatch, "\(name) has dtype \(tensor.dtype), expected \(dtype)")
            }
            let got = tensor.shape.map { Int(clamping: $0) }
            guard got == shape else {
                throw ProtocolError(.shapeMismatch, "\(name) has shape \(got), expected \(shape)")
            }
            guard Int(tensor.frame) < frames.count else {
                throw ProtocolError(.malformed, "\(name) names tensor frame \(tensor.frame) of \(frames.count)")
            }
            guard used.insert(tensor.frame).inserted else {
                throw ProtocolError(.malformed, "\(name) reuses tensor frame \(tensor.frame)")
            }
            let frame = frames[Int(tensor.frame)]
            let (elements, o1) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            let (expected, o2) = elements.multipliedReportingOverflow(by: dtype.byteSize!)
            guard !o1, !o2, frame.count == expected else {
                throw ProtocolError(.shapeMismatch, "\(name) frame has \(frame.count) bytes, shape \(shape) needs \(expected)")
            }
            return TensorView(dtype: dtype, shape: shape, frame: frame)
        }

        let versions = try view("policy_versions", chunk.hasPolicyVersions, chunk.policyVersions, .uint64, [t])
        let observations = try view(
            "observations", chunk.hasObservations, chunk.observations, env.observationDtype, [t, b] + obs)
        let actions = try view("actions", chunk.hasActions, chunk.actions, env.actionDtype, [t, b] + act)
        let logp = try view("behaviour_logp", chunk.hasBehaviourLogp, chunk.behaviourLogp, .float32, [t, b])
        var logits: TensorView?
        if chunk.hasBehaviourLogits {
            guard env.numActions > 0 else {
                throw ProtocolError(.shapeMismatch, "behaviour_logits sent for a continuous action space")
            }
            logits = try view(
                "behaviour_logits", true, chunk.behaviourLogits, .float32, [t, b, Int(env.numActions)])
        }
        let rewards = try view("rewards", chunk.hasRewards, chunk.rewards, .float32, [t, b])
        let terminated = try view("terminated", chunk.hasTerminated, chunk.terminated, .uint8, [t, b])
        let truncated = try view("truncated", chunk.hasTruncated, chunk.truncated, .uint8, [t, b])
        let bootstrap = try view(
            "bootstrap_observation", chunk.hasBootstrapObservation, chunk.bootstrapObservation,
            env.observationDtype, [b] + obs)

        // Flags are 0/1; a truncated step carries its final observation.
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
                "final_observations", chunk.hasFinalObservations, chunk.finalObservations,
                env.observationDtype, [k] + obs)
            let index = try view(
                "final_observation_index", chunk.hasFinalObservationIndex, chunk.finalObservationIndex,
                .int32, [k, 2])
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
        guard used.count == frames.count else {
            throw ProtocolError(.malformed, "\(frames.count - used.count) tensor frame(s) are not referenced by any tensor")
        }
        return ValidatedChunk(
            header: chunk, policyVersions: versions, observations: observations, actions: actions,
            behaviourLogp: logp, behaviourLogits: logits, rewards: rewards, terminated: terminated,
            truncated: truncated, finalObservations: finals, finalObservationIndex: finalIndex,
            bootstrapObservation: bootstrap, payloadBytes: frames.reduce(0) { $0 + $1.count })
    }
}
