/// CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, initial value and final XOR
/// 0xFFFFFFFF), the checksum of TFRecord framing. Slice-by-8: eight 256-entry tables, eight
/// bytes per step. Check values: `"123456789"` → 0xE3069283; 32 zero bytes → 0x8A9136AA.
public enum CRC32C {
    /// `tables[k][b]` is the CRC of byte `b` followed by `k` zero bytes (without the pre/post XOR).
    static let tables: [[UInt32]] = {
        var t = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for b in 0..<256 {
            var c = UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            t[0][b] = c
        }
        for b in 0..<256 {
            for k in 1..<8 { t[k][b] = (t[k - 1][b] >> 8) ^ t[0][Int(t[k - 1][b] & 0xFF)] }
        }
        return t
    }()

    /// The CRC-32C of `bytes`; pass a previous result as `crc` to continue over more bytes.
    public static func checksum<Bytes: Collection>(_ bytes: Bytes, continuing crc: UInt32 = 0) -> UInt32
    where Bytes.Element == UInt8 {
        if let fast = bytes.withContiguousStorageIfAvailable({ update(crc, UnsafeRawBufferPointer($0)) }) { return fast }
        return Array(bytes).withUnsafeBytes { update(crc, $0) }
    }

    static func update(_ crc: UInt32, _ p: UnsafeRawBufferPointer) -> UInt32 {
        var c = ~crc
        var i = 0
        let n = p.count
        tables.withUnsafeBufferPointer { tt in
            let t0 = tt[0], t1 = tt[1], t2 = tt[2], t3 = tt[3], t4 = tt[4], t5 = tt[5], t6 = tt[6], t7 = tt[7]
            while i + 8 <= n {
                let lo = c ^ (UInt32(p[i]) | UInt32(p[i + 1]) << 8 | UInt32(p[i + 2]) << 16 | UInt32(p[i + 3]) << 24)
                c = t7[Int(lo & 0xFF)] ^ t6[Int((lo >> 8) & 0xFF)] ^ t5[Int((lo >> 16) & 0xFF)] ^ t4[Int(lo >> 24)]
                    ^ t3[Int(p[i + 4])] ^ t2[Int(p[i + 5])] ^ t1[Int(p[i + 6])] ^ t0[Int(p[i + 7])]
                i += 8
            }
            while i < n {
                c = (c >> 8) ^ t0[Int((c ^ UInt32(p[i])) & 0xFF)]
                i += 1
            }
        }
        return ~c
    }

    /// TFRecord's masked CRC: `((crc >> 15) | (crc << 17)) + 0xa282ead8` (wrapping), so that a
    /// CRC stored inside checksummed data does not make the checksum trivially predictable.
    public static func mask(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// The inverse of `mask`.
    public static func unmask(_ masked: UInt32) -> UInt32 {
        let rot = masked &- 0xA282_EAD8
        return (rot >> 17) | (rot << 15)
    }
}
