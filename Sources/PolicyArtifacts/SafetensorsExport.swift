import Foundation
import NeuralNet

/// An actor-critic as a safetensors file (https://huggingface.co/docs/safetensors): an 8-byte
/// little-endian header length, a JSON header naming each tensor's dtype, shape and byte range,
/// then the tensors' raw little-endian float32 bytes. The tensors follow PyTorch's `nn.Linear`
/// convention, weight [out, in] and bias [out], so `x @ W.T + b` is a layer
/// (docs/operations.md, "Policies as files"):
///
///     torso.<l>.weight  [H_l+1, H_l]   torso.<l>.bias  [H_l+1]    hidden layers, then the activation
///     policy.weight     [A, H]         policy.bias     [A]        logits (categorical) or means (Gaussian)
///     policy.log_std    [A]                                       Gaussian only: log σ, clamp to [-20, 2]
///     value.weight      [1, H]         value.bias      [1]
///
/// `__metadata__` carries the model description (family, head, activation, sizes) and where the
/// policy came from (environment, run, version).
public enum SafetensorsExport {
    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        public var values: [Float]
    }

    /// The named tensors of `policy`, in file order.
    public static func tensors(_ policy: ActorCritic) -> [Tensor] {
        let net = policy.network
        let p = net.parameters
        /// Layer l's weights transposed to [out, in] (stored [in, out]) and its bias.
        func layer(_ l: Int, columns: Range<Int>) -> (weight: [Float], bias: [Float]) {
            let (inputs, outputs) = (net.sizes[l], net.sizes[l + 1])
            var w: [Float] = []
            w.reserveCapacity(inputs * columns.count)
            for j in columns {
                for i in 0..<inputs { w.append(p[net.weightOffsets[l] + i * outputs + j]) }
            }
            return (w, columns.map { p[net.biasOffsets[l] + $0] })
        }
        var out: [Tensor] = []
        for l in 0..<(net.layerCount - 1) {
            let (w, b) = layer(l, columns: 0..<net.sizes[l + 1])
            out.append(Tensor(name: "torso.\(l).weight", shape: [net.sizes[l + 1], net.sizes[l]], values: w))
            out.append(Tensor(name: "torso.\(l).bias", shape: [net.sizes[l + 1]], values: b))
        }
        let last = net.layerCount - 1
        let hidden = net.sizes[last]
        let a = policy.actions
        let (pw, pb) = layer(last, columns: 0..<a)
        out.append(Tensor(name: "policy.weight", shape: [a, hidden], values: pw))
        out.append(Tensor(name: "policy.bias", shape: [a], values: pb))
        if case .gaussian = policy.head {
            // The log-std units' weights are held at zero: log σ is their bias alone.
            out.append(Tensor(name: "policy.log_std", shape: [a], values: layer(last, columns: a..<(2 * a)).bias))
        }
        let valueColumn = policy.head.outputs
        let (vw, vb) = layer(last, columns: valueColumn..<(valueColumn + 1))
        out.append(Tensor(name: "value.weight", shape: [1, hidden], values: vw))
        out.append(Tensor(name: "value.bias", shape: [1], values: vb))
        return out
    }

    /// The model description and provenance written to `__metadata__` (string values only, as
    /// the format requires).
    public static func metadata(_ policy: ActorCritic, extra: [String: String] = [:]) -> [String: String] {
        let spec = policy.modelSpec
        var m = extra
        m["format"] = "tributary-actor-critic/1"
        m["family"] = spec.family
        m["head"] = spec.head
        m["activation"] = spec.activation
        m["observation_size"] = String(spec.observationSize)
        m["action_size"] = String(spec.actionSize)
        m["hidden_sizes"] = spec.hiddenSizes.map(String.init).joined(separator: ",")
        if case .gaussian = policy.head {
            m["log_std_min"] = String(Gaussian.logStdRange.lowerBound)
            m["log_std_max"] = String(Gaussian.logStdRange.upperBound)
        }
        return m
    }

    /// The file's bytes.
    public static func encode(_ policy: ActorCritic, metadata extra: [String: String] = [:]) throws -> Data {
        let tensors = tensors(policy)
        var header: [String: Any] = ["__metadata__": metadata(policy, extra: extra)]
        var offset = 0
        for t in tensors {
            let bytes = t.values.count * 4
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // The data starts 8-byte aligned: the header is padded with spaces, as the format allows.
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var data = Data()
        data.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for t in tensors {
            for v in t.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        }
        return data
    }
}
