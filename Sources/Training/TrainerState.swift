import Foundation
import Corrections
import Domain
import NeuralNet

/// Everything a `Trainer` is, as a `Codable` value: settings, version, parameters, the
/// optimizer's moments, the target network, the shuffle's random state. Float arrays are kept
/// as their little-endian bit patterns (`FloatBits`), so encoding and decoding — in JSON or any
/// other format — give back the same bits.
public struct TrainerState: Sendable, Equatable, Codable {
    public var settings: TrainerSettings
    public var observationSize: Int
    public var head: Head
    public var version: UInt64
    public var parameters: FloatBits
    public var adamStep: Int
    public var adamFirstMoment: FloatBits
    public var adamSecondMoment: FloatBits
    public var target: FloatBits?
    public var shuffleState: UInt64
    /// AMSGrad's maximum second moment (absent with Adam and in older checkpoints).
    public var adamMaxSecondMoment: FloatBits? = nil
    /// The reference policy of a KL penalty (absent in checkpoints without one).
    public var reference: FloatBits? = nil
    /// SPO's per-prompt tracker (absent for other methods and in older checkpoints).
    public var spo: SPOTracker? = nil

    /// The policy head, as stored.
    public enum Head: Sendable, Equatable, Codable {
        case categorical(actions: Int)
        case gaussian(dimensions: Int)

        init(_ h: PolicyHead) {
            switch h {
            case .categorical(let n): self = .categorical(actions: n)
            case .gaussian(let d): self = .gaussian(dimensions: d)
            }
        }

        public var policyHead: PolicyHead {
            switch self {
            case .categorical(let n): .categorical(actions: n)
            case .gaussian(let d): .gaussian(dimensions: d)
            }
        }
    }
}

/// A float array stored as raw little-endian bytes (base64 in JSON): exact, NaN included.
public struct FloatBits: Sendable, Equatable, Codable {
    public var values: [Float]

    public init(_ values: [Float]) { self.values = values }

    public init(from decoder: any Decoder) throws {
        let data = try decoder.singleValueContainer().decode(Data.self)
        guard data.count % 4 == 0 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(data.count) bytes is not a whole number of floats"))
        }
        values = data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(values.withUnsafeBytes { Data($0) })
    }
}

/// Why a saved state cannot be restored.
public struct TrainerStateError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

extension Trainer {
    /// The whole state, bit-exactly.
    public var state: TrainerState {
        let moments = adam.moments
        return TrainerState(settings: settings, observationSize: net.observationSize, head: .init(net.head), version: version,
                            parameters: FloatBits(net.network.parameters), adamStep: moments.step,
                            adamFirstMoment: FloatBits(moments.m), adamSecondMoment: FloatBits(moments.v),
                            target: target.map { FloatBits($0.network.parameters) }, shuffleState: shuffle.currentState,
                            adamMaxSecondMoment: adam.maxSecondMoment.map(FloatBits.init),
                            reference: reference.map { FloatBits($0.network.parameters) }, spo: spo)
    }

    /// A trainer exactly where `state` left one: the next `step` does bit for bit what the
    /// saved trainer's would have.
    public init(restoring state: TrainerState) throws(TrainerStateError) {
        self.init(settings: state.settings, observationSize: state.observationSize, head: state.head.policyHead)
        let count = net.network.parameters.count
        for (name, array) in [("parameters", state.parameters), ("adam m", state.adamFirstMoment), ("adam v", state.adamSecondMoment)]
        where array.values.count != count {
            throw TrainerStateError(description: "\(name) has \(array.values.count) values, the network has \(count)")
        }
        if let t = state.target, t.values.count != count {
            throw TrainerStateError(description: "the target network has \(t.values.count) values, the network has \(count)")
        }
        if let r = state.reference, r.values.count != count {
            throw TrainerStateError(description: "the reference network has \(r.values.count) values, the network has \(count)")
        }
        net.network.parameters = state.parameters.values
        if let v = state.adamMaxSecondMoment, v.values.count != count {
            throw TrainerStateError(description: "adam max v has \(v.values.count) values, the network has \(count)")
        }
        adam.moments = (state.adamStep, state.adamFirstMoment.values, state.adamSecondMoment.values)
        adam.maxSecondMoment = state.adamMaxSecondMoment?.values
        if let t = state.target {
            var copy = net
            copy.network.parameters = t.values
            target = copy
        }
        if let r = state.reference {
            var copy = net
            copy.network.parameters = r.values
            reference = copy
        }
        version = state.version
        shuffle = SplitMix64(seed: state.shuffleState)
        if let tracker = state.spo { spo = tracker }
    }
}
