/// Value checks over tensor bytes read in place (possibly unaligned), 16 elements at a time.
///
/// The learner checks every float it will train on and every discrete action before a chunk
/// is admitted. These run on the socket thread for every chunk, so they are vectorised:
/// a 256 KiB observation tensor is scanned in a few microseconds.
enum TensorScan {
    private typealias Lanes = SIMD16<UInt32>
    private static let width = 16

    /// Index of the first float32 element that is NaN or ±infinity, nil when all are finite.
    static func firstNonFinite(_ raw: UnsafeRawBufferPointer) -> Int? {
        let n = raw.count / 4
        let exponent = Lanes(repeating: 0x7F80_0000)
        var i = 0
        while i + width <= n {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: Lanes.self)
            if any((v & exponent) .== exponent) { break }
            i += width
        }
        while i < n {
            let bits = raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)
            if bits & 0x7F80_0000 == 0x7F80_0000 { return i }
            i += 1
        }
        return nil
    }

    /// Index of the first int32 element outside `0..<count`, nil when all are inside.
    static func firstOutOfRange(_ raw: UnsafeRawBufferPointer, count: Int) -> Int? {
        let n = raw.count / 4
        // Negative values read as unsigned are above any count.
        let limit = Lanes(repeating: UInt32(clamping: count))
        var i = 0
        while i + width <= n {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: Lanes.self)
            if any(v .>= limit) { break }
            i += width
        }
        while i < n {
            if raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self) >= UInt32(clamping: count) { return i }
            i += 1
        }
        return nil
    }
}
