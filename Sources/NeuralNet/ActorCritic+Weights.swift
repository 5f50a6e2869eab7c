import Domain

/// A model description and parameter bytes that do not make an actor-critic this build can run.
public struct ModelError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

extension ActorCritic {
    /// The family name of Tributary's actor-critic networks.
    public static let family = "mlp-actor-critic"

    /// This network's description (what `Welcome.model` and `Weights.model` carry).
    public var modelSpec: ModelSpec {
        let head: String = switch self.head {
        case .categorical: "categorical"
        case .gaussian: "gaussian"
        }
        return ModelSpec(family: Self.family, hiddenSizes: Array(network.sizes.dropFirst().dropLast()),
                         activation: network.activation.rawValue, head: head, observationSize: network.inputSize, actionSize: actions)
    }

    /// The parameters as float32 little-endian bytes (what `Weights` carries).
    public var parameterBytes: [UInt8] {
        network.parameters.withUnsafeBytes { [UInt8]($0) }
    }

    /// A network described by `spec` with the parameters in `bytes`, bit-exactly.
    public init(spec: ModelSpec, bytes: [UInt8]) throws(ModelError) {
        guard spec.family == Self.family, spec.head == "categorical" || spec.head == "gaussian",
              let activation = Activation(rawValue: spec.activation),
              spec.observationSize > 0, spec.actionSize > 0, spec.hiddenSizes.allSatisfy({ $0 > 0 }), spec.hiddenSizes.count <= 16
        else { throw ModelError(description: "unsupported model: \(spec.family)/\(spec.head)/\(spec.activation)") }
        let n = spec.actionSize
        // Refuse a description whose parameter count does not fit the bytes before allocating it.
        let sizes = [spec.observationSize] + spec.hiddenSizes + [(spec.head == "gaussian" ? 2 * n : n) + 1]
        var count = 0
        for (a, b) in zip(sizes, sizes.dropFirst()) {
            let (w, o1) = a.multipliedReportingOverflow(by: b)
            let (sum, o2) = count.addingReportingOverflow(w + b)
            guard !o1, !o2 else { throw ModelError(description: "the model's layer sizes overflow") }
            count = sum
        }
        guard bytes.count == count * 4 else {
            throw ModelError(description: "weights have \(bytes.count) bytes, the model needs \(count * 4)")
        }
        self.init(observationSize: spec.observationSize, hidden: spec.hiddenSizes,
                  head: spec.head == "gaussian" ? .gaussian(dimensions: n) : .categorical(actions: n), activation: activation, seed: 0)
        load(bytes)
    }

    /// Replaces the parameters with `bytes` (little-endian Float32, `parameterBytes`' layout) when
    /// they describe this same model: a worker installing a new version of the network it acts
    /// with, without building (and randomly initialising) another. False, and nothing changed,
    /// when `spec` is another model or the size does not match.
    public mutating func replaceParameters(spec: ModelSpec, bytes: [UInt8]) -> Bool {
        guard spec == modelSpec, bytes.count == network.parameters.count * 4 else { return false }
        load(bytes)
        return true
    }

    private mutating func load(_ bytes: [UInt8]) {
        network.parameters.withUnsafeMutableBytes { target in
            bytes.withUnsafeBytes { source in target.copyMemory(from: source) }
        }
    }
}
