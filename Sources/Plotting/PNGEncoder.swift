import CZlib

/// zlib, for PNG: deflate (`compress2`), inflate (`uncompress`) and CRC-32. This module is the
/// only importer of zlib; callers (and tests) use these instead.
public enum Zlib {
    /// `bytes` as a zlib stream at `level` (0–9).
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        var size = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        let status = out.withUnsafeMutableBufferPointer { o in
            bytes.withUnsafeBufferPointer { i in compress2(o.baseAddress, &size, i.baseAddress, uLong(bytes.count), level) }
        }
        // compressBound is an upper bound, so Z_BUF_ERROR cannot happen; Z_MEM_ERROR is fatal anyway.
        precondition(status == Z_OK, "zlib compress2 failed: \(status)")
        return Array(out.prefix(Int(size)))
    }

    /// The inflated bytes of a zlib stream that inflates to exactly `expectedSize` bytes, or nil
    /// when the stream is corrupt or of another size.
    public static func uncompress(_ bytes: [UInt8], expectedSize: Int) -> [UInt8]? {
        var size = uLong(expectedSize)
        var out = [UInt8](repeating: 0, count: expectedSize + 1)  // one spare byte reveals a longer stream
        var spare = uLong(expectedSize + 1)
        let status = out.withUnsafeMutableBufferPointer { o in
            bytes.withUnsafeBufferPointer { i in CZlib.uncompress(o.baseAddress, &spare, i.baseAddress, uLong(bytes.count)) }
        }
        size = spare
        guard status == Z_OK, Int(size) == expectedSize else { return nil }
        return Array(out.prefix(expectedSize))
    }

    /// CRC-32 (ISO-HDLC, as PNG uses) of `bytes`.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        UInt32(bytes.withUnsafeBufferPointer { CZlib.crc32(0, $0.baseAddress, uInt($0.count)) })
    }
}

/// PNG files: 8-bit RGB (colour type 2), or 8-bit palette (colour type 3) when the picture has
/// at most 256 colours, which charts usually do and which is a third of the size before deflate.
/// Each row is filtered with "none" (type 0) — flat colours compress well without filters.
public enum PNGEncoder {
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    public static func encode(_ canvas: Canvas, allowPalette: Bool = true) -> [UInt8] {
        let w = canvas.width, h = canvas.height
        var palette: [RGB] = [], index: [RGB: UInt8] = [:]
        var usePalette = allowPalette
        if usePalette {
            scan: for i in 0..<(w * h) {
                let c = RGB(canvas.pixels[3 * i], canvas.pixels[3 * i + 1], canvas.pixels[3 * i + 2])
                if index[c] == nil {
                    if palette.count == 256 { usePalette = false; break scan }
                    index[c] = UInt8(palette.count)
                    palette.append(c)
                }
            }
        }
        var raw: [UInt8] = []
        if usePalette {
            raw.reserveCapacity(h * (1 + w))
            for y in 0..<h {
                raw.append(0)
                for x in 0..<w {
                    let i = 3 * (y * w + x)
                    raw.append(index[RGB(canvas.pixels[i], canvas.pixels[i + 1], canvas.pixels[i + 2])]!)
                }
            }
        } else {
            raw.reserveCapacity(h * (1 + 3 * w))
            for y in 0..<h {
                raw.append(0)
                raw += canvas.pixels[(3 * y * w)..<(3 * (y + 1) * w)]
            }
        }
        var header: [UInt8] = []
        header += bigEndian(UInt32(w))
        header += bigEndian(UInt32(h))
        header += [8, usePalette ? 3 : 2, 0, 0, 0]  // bit depth, colour type, deflate, adaptive filters, no interlace
        var out = signature
        out += chunk("IHDR", header)
        if usePalette { out += chunk("PLTE", palette.flatMap { [$0.r, $0.g, $0.b] }) }
        out += chunk("IDAT", Zlib.compress(raw, level: 9))
        out += chunk("IEND", [])
        return out
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + typed + bigEndian(Zlib.crc32(typed))
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }
}
