/// TFRecord framing, the container of TensorBoard event files. Each record is
///
///     uint64 LE  length of data
///     uint32 LE  masked CRC-32C of the 8 length bytes
///     data
///     uint32 LE  masked CRC-32C of data
///
/// (`CRC32C.mask`). Readers stop at the first record whose length or checksum is wrong.
public enum TFRecord {
    /// Bytes of framing around the data: 8 + 4 before, 4 after.
    public static let overhead = 16

    /// Appends one record holding `data` to `out`.
    public static func append(_ data: [UInt8], to out: inout [UInt8]) {
        var header = [UInt8]()
        header.reserveCapacity(12)
        appendLE(UInt64(data.count), to: &header)
        appendLE(CRC32C.mask(CRC32C.checksum(header)), to: &header)
        out.reserveCapacity(out.count + data.count + overhead)
        out += header
        out += data
        appendLE(CRC32C.mask(CRC32C.checksum(data)), to: &out)
    }

    /// One record holding `data`.
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        append(data, to: &out)
        return out
    }

    public enum ParseError: Error, Equatable {
        /// The bytes end inside the record starting at `offset`.
        case truncated(offset: Int)
        case lengthChecksumMismatch(offset: Int)
        case dataChecksumMismatch(offset: Int)
    }

    /// The data of every record in `bytes`, checking both checksums of each.
    public static func records(in bytes: [UInt8]) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 12 else { throw ParseError.truncated(offset: offset) }
            let length = readLE(UInt64.self, bytes, offset)
            guard readLE(UInt32.self, bytes, offset + 8) == CRC32C.mask(CRC32C.checksum(bytes[offset..<offset + 8])) else {
                throw ParseError.lengthChecksumMismatch(offset: offset)
            }
            let after = UInt64(bytes.count - offset - 12)  // bytes after the header, ≥ 0 here
            guard length <= after, after - length >= 4 else { throw ParseError.truncated(offset: offset) }
            let start = offset + 12, end = start + Int(length)
            let data = Array(bytes[start..<end])
            guard readLE(UInt32.self, bytes, end) == CRC32C.mask(CRC32C.checksum(data)) else {
                throw ParseError.dataChecksumMismatch(offset: offset)
            }
            out.append(data)
            offset = end + 4
        }
        return out
    }

    static func appendLE<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        for k in 0..<(T.bitWidth / 8) { out.append(UInt8(truncatingIfNeeded: value >> (8 * k))) }
    }

    static func readLE<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], _ offset: Int) -> T {
        var v: T = 0
        for k in 0..<(T.bitWidth / 8) { v |= T(bytes[offset + k]) << (8 * k) }
        return v
    }
}
