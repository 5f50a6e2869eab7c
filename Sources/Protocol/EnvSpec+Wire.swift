import Domain

extension ElementType {
    /// The wire's dtype of this element type.
    public var wire: Tributary_V1_DType {
        switch self {
        case .float32: .float32
        case .float64: .float64
        case .int32: .int32
        case .int64: .int64
        case .uint8: .uint8
        case .uint64: .uint64
        }
    }

    /// nil for DTYPE_UNSPECIFIED and values this build does not know.
    public init?(wire: Tributary_V1_DType) {
        switch wire {
        case .float32: self = .float32
        case .float64: self = .float64
        case .int32: self = .int32
        case .int64: self = .int64
        case .uint8: self = .uint8
        case .uint64: self = .uint64
        case .unspecified, .UNRECOGNIZED: return nil
        }
    }
}

extension EnvSpec {
    /// The declaration a worker sends in its Hello for `numEnvs` copies of this environment.
    public func wire(numEnvs: Int) -> Tributary_V1_EnvSpec {
        var env = Tributary_V1_EnvSpec()
        env.envID = id
        env.numEnvs = UInt32(clamping: numEnvs)
        env.observationShape = observationShape.map { UInt64($0) }
        env.observationDtype = observationType.wire
        env.actionShape = actionSpace.shape.map { UInt64($0) }
        env.actionDtype = actionSpace.elementType.wire
        env.numActions = UInt32(clamping: actionSpace.actionCount)
        return env
    }

    /// Why a worker's declaration is not this environment, or nil when it is. Only what the
    /// wire carries is compared (a continuous space's bounds are the environment's business).
    public func mismatch(_ declared: Tributary_V1_EnvSpec) -> String? {
        if declared.envID != id { return "this learner trains '\(id)', not '\(declared.envID)'" }
        let expected = wire(numEnvs: Int(declared.numEnvs))
        func describe(_ e: Tributary_V1_EnvSpec) -> String {
            "observations \(e.observationDtype.name) \(e.observationShape), actions \(e.actionDtype.name) \(e.actionShape)"
                + (e.numActions > 0 ? " of \(e.numActions)" : "")
        }
        if declared.observationShape != expected.observationShape || declared.observationDtype != expected.observationDtype
            || declared.actionShape != expected.actionShape || declared.actionDtype != expected.actionDtype
            || declared.numActions != expected.numActions
        {
            return "'\(id)' has \(describe(expected)); the Hello declared \(describe(declared))"
        }
        return nil
    }
}

extension Tributary_V1_DType {
    /// The dtype as the docs write it: float32, int64, …
    public var name: String { ElementType(wire: self)?.rawValue ?? "unspecified(\(rawValue))" }
}
