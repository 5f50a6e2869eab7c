/// Reads a fuzzer's bytes as a stream of small values; past the end every read is 0 or empty,
/// so every input, however short, is a complete program.
struct FuzzInput {
    private let bytes: [UInt8]
    private var position = 0

    init(_ raw: UnsafeRawBufferPointer) {
        bytes = Array(raw)
    }

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { position >= bytes.count }

    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func uint16() -> Int { Int(byte()) | Int(byte()) << 8 }

    mutating func uint32() -> Int { uint16() | uint16() << 16 }

    /// Up to `count` bytes (fewer at the end).
    mutating func take(_ count: Int) -> [UInt8] {
        let n = max(0, min(count, bytes.count - position))
        defer { position += n }
        return Array(bytes[position..<(position + n)])
    }

    /// A frame: a 16-bit length, then that many bytes.
    mutating func frame() -> [UInt8] { take(uint16()) }

    /// The rest of the input.
    mutating func rest() -> [UInt8] { take(bytes.count - position) }
}

/// Messages as length-prefixed frames, the format of `Tests/ProtocolTests/Golden/*.frames`:
/// for each frame its length as a little-endian UInt32, then its bytes. A truncated tail is one
/// last (short) frame.
enum FramesFile {
    static func parse(_ bytes: [UInt8]) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            guard i + 4 <= bytes.count else {
                frames.append(Array(bytes[i...]))
                break
            }
            let n = Int(UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
            i += 4
            let end = min(bytes.count, i + n)
            frames.append(Array(bytes[i..<end]))
            i = end
        }
        return frames
    }

    static func serialize(_ frames: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for f in frames {
            withUnsafeBytes(of: UInt32(f.count).littleEndian) { out.append(contentsOf: $0) }
            out.append(contentsOf: f)
        }
        return out
    }
}
