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
/// The bytes are not copied out of the transport's buffer: they are `byteCount` bytes from
/// `offset` of `frame` (a frame may hold several tensors, docs/protocol.md §2). They may be
/// unaligned (ZeroMQ receives into shared buffers, and a shared frame packs tensors back to
/// back), so element reads go through `loadUnaligned`, or `copyFloats()` when an aligned
/// array is needed.
public struct TensorView: Sendable {
    public let dtype: Tributary_V1_DType
    public let shape: [Int]
    public let frame: any MessageFrame
    public let offset: Int
    public let byteCount: Int

    /// A view of `byteCount` bytes from `offset` of `frame`; the caller has checked the range.
    public init(dtype: Tributary_V1_DType, shape: [Int], frame: any MessageFrame, offset: Int = 0, byteCount: Int? = nil) {
        self.dtype = dtype
        self.shape = shape
        self.frame = frame
        self.offset = offset
        self.byteCount = byteCount ?? frame.count - offset
        precondition(offset >= 0 && self.byteCount >= 0 && offset + self.byteCount <= frame.count)
    }

    public var elementCount: Int { shape.reduce(1, *) }

    /// The tensor's bytes (only its own, when it shares its frame).
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try frame.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + byteCount)]))
        }
    }

    /// Element `i` of a float32 tensor.
    public func float32(at i: Int) -> Float {
        precondition(dtype == .float32 && i >= 0 && i < elementCount)
        return withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
    }

    /// Element `i` of a uint64 tensor.
    public func uint64(at i: Int) -> UInt64 {
        precondition(dtype == .uint64 && i >= 0 && i < elementCount)
        return withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) }
    }

    /// Element `i` of a uint8 tensor.
    public func uint8(at i: Int) -> UInt8 {
        precondition(dtype == .uint8 && i >= 0 && i < elementCount)
        return withUnsafeBytes { $0[i] }
    }

    /// A float32 tensor as an array (one copy).
    public func copyFloats() -> [Float] {
        precondition(dtype == .float32)
        return withUnsafeBytes { raw in
            [Float](unsafeUninitializedCapacity: elementCount) { buffer, count in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
                count = elementCount
            }
        }
    }
}

/// Collects tensor frames while a message is built, handing out descriptors.
///
/// With `sharingBelow` > 0 (only for a learner whose Welcome says `shared_tensor_frames`),
/// tensors smaller than that many bytes are packed back to back into one shared frame, so a
/// chunk's ten small tensors cost one frame instead of ten; larger ones keep a frame of their
/// own (sent without a copy, and never copied into the shared one).
public struct TensorFrames: Sendable {
    private var ownFrames: [OwnedFrame] = []
    private let sharingBelow: Int
    private var shared: OwnedFrame = []
    private var sharedIndex: Int?

    /// Tensors below this many bytes are packed into a chunk's shared frame when the learner
    /// allows it: the transport's zero-copy threshold (`ReactorLoop.zeroCopyThreshold`), below
    /// which it copies a frame anyway, so packing adds no copy.
    public static let sharedTensorLimit = 32 * 1024

    public init(sharingBelow: Int = 0) {
        self.sharingBelow = sharingBelow
    }

    /// The tensor frames, in the order the descriptors name them.
    public var frames: [OwnedFrame] {
        guard let sharedIndex else { return ownFrames }
        var all = ownFrames
        all[sharedIndex] = shared
        return all
    }

    /// A descriptor of `byteCount` bytes of `dtype` and `shape` (its frame and offset still 0).
    private func describe(_ dtype: Tributary_V1_DType, shape: [Int], byteCount: Int) -> Tributary_V1_Tensor {
        precondition(byteCount == shape.reduce(1, *) * (dtype.byteSize ?? 0), "tensor bytes disagree with shape")
        var t = Tributary_V1_Tensor()
        t.dtype = dtype
        t.shape = shape.map { UInt64($0) }
        return t
    }

    /// Appends a tensor's bytes (a frame of their own, or the shared frame) and returns its descriptor.
    public mutating func add(_ dtype: Tributary_V1_DType, shape: [Int], bytes: UnsafeRawBufferPointer) -> Tributary_V1_Tensor {
        var t = describe(dtype, shape: shape, byteCount: bytes.count)
        if bytes.count < sharingBelow {
            if sharedIndex == nil {
                sharedIndex = ownFrames.count
                ownFrames.append([])
            }
            t.frame = UInt32(sharedIndex!)
            t.offset = UInt64(shared.count)
            shared.append(contentsOf: bytes)
        } else {
            t.frame = UInt32(ownFrames.count)
            ownFrames.append(OwnedFrame(bytes))
        }
        return t
    }

    /// The same for bytes already in an array: a frame of their own shares the array (no copy).
    public mutating func add(_ dtype: Tributary_V1_DType, shape: [Int], bytes: OwnedFrame) -> Tributary_V1_Tensor {
        if bytes.count < sharingBelow { return bytes.withUnsafeBytes { add(dtype, shape: shape, bytes: $0) } }
        var t = describe(dtype, shape: shape, byteCount: bytes.count)
        t.frame = UInt32(ownFrames.count)
        ownFrames.append(bytes)
        return t
    }

    public mutating func add(_ values: [Float], shape: [Int]) -> Tributary_V1_Tensor {
        values.withUnsafeBytes { add(.float32, shape: shape, bytes: $0) }
    }

    public mutating func add(_ values: [UInt64], shape: [Int]) -> Tributary_V1_Tensor {
        values.withUnsafeBytes { add(.uint64, shape: shape, bytes: $0) }
    }

    public mutating func add(_ values: [Int32], shape: [Int]) -> Tributary_V1_Tensor {
        values.withUnsafeBytes { add(.int32, shape: shape, bytes: $0) }
    }

    public mutating func add(_ values: [UInt8], shape: [Int]) -> Tributary_V1_Tensor {
        add(.uint8, shape: shape, bytes: values)
    }
}
