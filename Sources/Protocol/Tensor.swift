import Domain

#if _endian(big)
#error("Tributary reads tensor frames in place and assumes a little-endian host")
#endif

extension Tributary_V1_DType {
    /// Bytes per element, or nil for DTYPE_UNSPECIFIED and unknown values.
    public var byteSize: Int? { ElementType(wire: self)?.byteSize }
}

/// A tensor received in a message: its description plus the frame holding its bytes.
///
/// The bytes are not copied out of the transport's buffer. They may be unaligned
/// (ZeroMQ receives into shared buffers), so element reads go through
/// `loadUnaligned`, or `copyFloats()` when an aligned array is needed.
public struct TensorView: Sendable {
    public let dtype: Tributary_V1_DType
    public let shape: [Int]
    public let frame: any MessageFrame

    public var elementCount: Int { shape.reduce(1, *) }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try frame.withUnsafeBytes(body)
    }

    /// Element `i` of a float32 tensor.
    public func float32(at i: Int) -> Float {
        precondition(dtype == .float32 && i >= 0 && i < elementCount)
        return frame.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
    }

    /// Element `i` of a uint64 tensor.
    public func uint64(at i: Int) -> UInt64 {
        precondition(dtype == .uint64 && i >= 0 && i < elementCount)
        return frame.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) }
    }

    /// Element `i` of a uint8 tensor.
    public func uint8(at i: Int) -> UInt8 {
        precondition(dtype == .uint8 && i >= 0 && i < elementCount)
        return frame.withUnsafeBytes { $0[i] }
    }

    /// A float32 tensor as an array (one copy).
    public func copyFloats() -> [Float] {
        precondition(dtype == .float32)
        return frame.withUnsafeBytes { raw in
            [Float](unsafeUninitializedCapacity: elementCount) { buffer, count in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
                count = elementCount
            }
        }
    }
}

/// Collects tensor frames while a message is built, handing out descriptors.
public struct TensorFrames: Sendable {
    public private(set) var frames: [OwnedFrame] = []

    public init() {}

    /// Appends a tensor frame and returns its descriptor.
    public mutating func add(_ dtype: Tributary_V1_DType, shape: [Int], bytes: OwnedFrame) -> Tributary_V1_Tensor {
        precondition(bytes.count == shape.reduce(1, *) * (dtype.byteSize ?? 0), "tensor bytes disagree with shape")
        var t = Tributary_V1_Tensor()
        t.dtype = dtype
        t.shape = shape.map { UInt64($0) }
        t.frame = UInt32(frames.count)
        frames.append(bytes)
        return t
    }

    public mutating func add(_ values: [Float], shape: [Int]) -> Tributary_V1_Tensor {
        add(.float32, shape: shape, bytes: values.withUnsafeBytes { OwnedFrame($0) })
    }

    public mutating func add(_ values: [UInt64], shape: [Int]) -> Tributary_V1_Tensor {
        add(.uint64, shape: shape, bytes: values.withUnsafeBytes { OwnedFrame($0) })
    }

    public mutating func add(_ values: [Int32], shape: [Int]) -> Tributary_V1_Tensor {
        add(.int32, shape: shape, bytes: values.withUnsafeBytes { OwnedFrame($0) })
    }

    public mutating func add(_ values: [UInt8], shape: [Int]) -> Tributary_V1_Tensor {
        add(.uint8, shape: shape, bytes: values)
    }
}
