import Protocol

extension ActorCritic {
    /// The wire's description of this network (`Welcome.model`, `Weights.model`).
    public var modelSpec: Tributary_V1_ModelSpec {
        var spec = Tributary_V1_ModelSpec()
        spec.family = "mlp-actor-critic"
        spec.hiddenSizes = network.sizes.dropFirst().dropLast().map { UInt32($0) }
        spec.activation = network.activation.rawValue
        switch head {
        case .categorical: spec.head = "categorical"
        case .gaussian: spec.head = "gaussian"
        }
        spec.observationSize = UInt32(network.inputSize)
        spec.actionSize = UInt32(actions)
        return spec
    }

    /// The parameters as float32 little-endian bytes (what `Weights` carries).
    public var parameterBytes: [UInt8] {
        network.parameters.withUnsafeBytes { [UInt8]($0) }
    }

    /// A network described by `spec` with the parameters in `bytes`, bit-exactly.
    public init(spec: Tributary_V1_ModelSpec, bytes: [UInt8]) throws(ProtocolError) {
        guard spec.family == "mlp-actor-critic", spec.head == "categorical" || spec.head == "gaussian",
              let activation = Activation(rawValue: spec.activation),
              spec.observationSize > 0, spec.actionSize > 0, spec.hiddenSizes.allSatisfy({ $0 > 0 })
        else { throw ProtocolError(.malformed, "unsupported model: \(spec.family)/\(spec.head)/\(spec.activation)") }
        let n = Int(spec.actionSize)
        self.init(observationSize: Int(spec.observationSize), hidden: spec.hiddenSizes.map(Int.init),
                  head: spec.head == "gaussian" ? .gaussian(dimensions: n) : .categorical(actions: n), activation: activation, seed: 0)
        guard bytes.count == network.parameters.count * 4 else {
            throw ProtocolError(.shapeMismatch, "weights have \(bytes.count) bytes, the model needs \(network.parameters.count * 4)")
        }
        bytes.withUnsafeBytes { raw in
            for i in network.parameters.indices { network.parameters[i] = raw.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
        }
    }
}
