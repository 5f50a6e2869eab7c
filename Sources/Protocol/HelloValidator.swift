import Domain

/// What a learner admits a worker's Hello against: its own environment, never the worker's claim.
public struct HelloRules: Sendable {
    /// The environment the learner trains (its registry's, or the run configuration's).
    public var spec: EnvSpec
    /// T of the run: a chunk has T × B steps.
    public var unrollLength: Int
    /// T × B of one chunk, at most: bounds the memory and the batch one chunk can bring.
    public var maxChunkSteps: Int

    public init(spec: EnvSpec, unrollLength: Int, maxChunkSteps: Int) {
        self.spec = spec
        self.unrollLength = unrollLength
        self.maxChunkSteps = maxChunkSteps
    }
}

/// Checks a `Hello` (docs/protocol.md §4). Pure: the learner calls it before it keeps anything.
public enum HelloValidator {
    /// The Hello's accepted terms.
    public struct Admitted: Sendable, Equatable {
        /// The protocol version chosen for the session.
        public var protocolVersion: UInt32
        /// B: environment copies in every chunk.
        public var numEnvs: Int
    }

    /// In this order: field sizes (`CODE_FIELD_TOO_LONG`), a common protocol version
    /// (`CODE_UNSUPPORTED_VERSION`), a worker id (`CODE_MALFORMED`), the learner's own
    /// environment (`CODE_ENV_MISMATCH`), and a chunk within `maxChunkSteps` (`CODE_OVERSIZE`).
    public static func validate(_ hello: Tributary_V1_Hello, rules: HelloRules) throws(ProtocolError) -> Admitted {
        try FieldLimits.check(hello.workerID, FieldLimits.workerID, "worker_id")
        try FieldLimits.check(hello.host, FieldLimits.host, "host")
        try FieldLimits.check(hello.softwareVersion, FieldLimits.softwareVersion, "software_version")
        try FieldLimits.check(count: hello.protocolVersions.count, FieldLimits.protocolVersions, "protocol_versions")
        try FieldLimits.check(count: hello.capabilities.count, FieldLimits.capabilities, "capabilities")
        for c in hello.capabilities { try FieldLimits.check(c, FieldLimits.capability, "a capability") }
        let env = hello.env
        try FieldLimits.check(env.envID, FieldLimits.envID, "env.env_id")
        try FieldLimits.check(count: env.observationShape.count, FieldLimits.rank, "env.observation_shape")
        try FieldLimits.check(count: env.actionShape.count, FieldLimits.rank, "env.action_shape")

        guard let version = ProtocolVersion.negotiate(peer: hello.protocolVersions) else {
            throw ProtocolError(
                .unsupportedVersion,
                "worker speaks protocol versions \(hello.protocolVersions), this learner speaks \(ProtocolVersion.supported)")
        }
        if hello.workerID.isEmpty { throw ProtocolError(.malformed, "Hello has an empty worker_id") }
        if env.numEnvs == 0 { throw ProtocolError(.envMismatch, "Hello needs env.num_envs > 0") }
        if let reason = rules.spec.mismatch(env) { throw ProtocolError(.envMismatch, reason) }
        let b = Int(env.numEnvs)
        let steps = rules.unrollLength * b
        if steps > rules.maxChunkSteps {
            throw ProtocolError(
                .oversize,
                "num_envs \(b) × unroll length \(rules.unrollLength) = \(steps) steps per chunk; this learner takes at most \(rules.maxChunkSteps) (--max-chunk-steps)")
        }
        return Admitted(protocolVersion: version, numEnvs: b)
    }
}
