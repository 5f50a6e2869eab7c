/// Whether every value is finite (no NaN, no ±infinity): the check the trainer makes on a
/// loss's gradient and on the parameters before it applies or publishes them.
public func allFinite(_ values: [Float]) -> Bool {
    values.withUnsafeBufferPointer { buffer in
        typealias Lanes = SIMD16<UInt32>
        let exponent = Lanes(repeating: 0x7F80_0000)
        let raw = UnsafeRawBufferPointer(buffer)
        var i = 0
        while i + 16 <= buffer.count {
            if any((raw.loadUnaligned(fromByteOffset: i * 4, as: Lanes.self) & exponent) .== exponent) { return false }
            i += 16
        }
        while i < buffer.count {
            if !buffer[i].isFinite { return false }
            i += 1
        }
        return true
    }
}
