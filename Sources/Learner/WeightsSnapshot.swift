import Domain
import Protocol

/// One published parameter vector: what `GetWeights` serves and `WeightsAvailable` announces.
public struct WeightsSnapshot: Sendable {
    public var version: UInt64
    public var model: ModelSpec
    public var bytes: [UInt8]
    public var digest: [UInt8]
    /// The `Weights` messages that serve it, encoded once (`encodeParts`) rather than on every
    /// `GetWeights`; nil until then.
    public private(set) var encodedParts: [[OwnedFrame]]?

    public init(version: UInt64, model: ModelSpec, bytes: [UInt8]) {
        self.version = version
        self.model = model
        self.bytes = bytes
        self.digest = WeightsDigest.sha256(bytes)
    }

    /// Encodes the `Weights` messages now, so serving them is a copy of references.
    public mutating func encodeParts(partBytes: Int) {
        encodedParts = parts(partBytes: partBytes)
    }

    /// Version 0: nothing published yet.
    public static let empty = WeightsSnapshot(version: 0, model: .none, bytes: [])

    public func announcement(runID: String) -> Tributary_V1_WeightsAvailable {
        var a = Tributary_V1_WeightsAvailable()
        a.runID = runID
        a.version = version
        a.digest = .init(digest)
        a.size = UInt64(bytes.count)
        return a
    }

    /// The `Weights` messages that carry this snapshot, each at most `partBytes` of payload.
    public func parts(partBytes: Int) -> [[OwnedFrame]] {
        let count = max(1, (bytes.count + partBytes - 1) / partBytes)
        return (0..<count).map { index in
            let start = index * partBytes
            let end = min(bytes.count, start + partBytes)
            var tensors = TensorFrames()
            var w = Tributary_V1_Weights()
            w.version = version
            w.digest = .init(digest)
            w.totalSize = UInt64(bytes.count)
            w.partIndex = UInt32(index)
            w.partCount = UInt32(count)
            w.offset = UInt64(start)
            if index == 0 { w.model = model.wire }
            w.data = tensors.add(Array(bytes[start..<end]), shape: [end - start])
            return WireCodec.encode(.weights(w), tensors: tensors.frames)
        }
    }

    /// The answer to `GetWeights` when the requester already has this version.
    public func notModified() -> [OwnedFrame] {
        var w = Tributary_V1_Weights()
        w.version = version
        w.digest = .init(digest)
        w.totalSize = UInt64(bytes.count)
        w.notModified = true
        return WireCodec.encode(.weights(w))
    }
}
