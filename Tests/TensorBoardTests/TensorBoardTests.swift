import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SwiftProtobuf
@testable import TensorBoard
import Testing

@Suite struct CRC32CTests {
    @Test func knownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    /// Slice-by-8 agrees with the bytewise loop at every length and split point.
    @Test func slicedEqualsBytewiseAndContinues() {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<300).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for n in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 299, 300] {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes[0..<n] {
                c ^= UInt32(b)
                for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            }
            #expect(CRC32C.checksum(bytes[0..<n]) == ~c, "length \(n)")
            #expect(CRC32C.checksum(bytes[(n / 3)..<n], continuing: CRC32C.checksum(bytes[0..<(n / 3)])) == ~c)
        }
    }

    @Test func masking() {
        // ((crc >> 15) | (crc << 17)) + 0xa282ead8, wrapping.
        #expect(CRC32C.mask(0) == 0xA282_EAD8)
        // rotr 15 of 0xE3069283 is 0x2507C60D, + 0xA282EAD8; TensorBoard's masked_crc32c("123456789")
        #expect(CRC32C.mask(0xE306_9283) == 0xC78A_B0E5)
        #expect(CRC32C.mask(0xFFFF_FFFF) == 0xA282_EAD7, "the addition wraps")
        for crc: UInt32 in [0, 1, 0xFFFF_FFFF, 0x8A91_36AA, 0xE306_9283] {
            #expect(CRC32C.unmask(CRC32C.mask(crc)) == crc)
        }
    }
}

@Suite struct TFRecordTests {
    /// A record's 16 + n bytes, read field by field.
    @Test func framingByteByByte() throws {
        let data: [UInt8] = Array("hello".utf8)
        let r = TFRecord.frame(data)
        #expect(r.count == 8 + 4 + 5 + 4)
        #expect(Array(r[0..<8]) == [5, 0, 0, 0, 0, 0, 0, 0], "uint64 LE length")
        let lengthCRC = UInt32(r[8]) | UInt32(r[9]) << 8 | UInt32(r[10]) << 16 | UInt32(r[11]) << 24
        #expect(lengthCRC == CRC32C.mask(CRC32C.checksum([5, 0, 0, 0, 0, 0, 0, 0])), "masked CRC of the length bytes")
        #expect(Array(r[12..<17]) == data)
        let dataCRC = UInt32(r[17]) | UInt32(r[18]) << 8 | UInt32(r[19]) << 16 | UInt32(r[20]) << 24
        #expect(dataCRC == CRC32C.mask(CRC32C.checksum(data)), "masked CRC of the data")
        #expect(try TFRecord.records(in: r + TFRecord.frame([]) + r) == [data, [], data])
    }

    @Test func corruptionIsDetected() {
        let r = TFRecord.frame([1, 2, 3])
        var bad = r
        bad[13] ^= 1
        #expect(throws: TFRecord.ParseError.dataChecksumMismatch(offset: 0)) { try TFRecord.records(in: bad) }
        bad = r
        bad[0] ^= 1
        #expect(throws: TFRecord.ParseError.lengthChecksumMismatch(offset: 0)) { try TFRecord.records(in: bad) }
        #expect(throws: TFRecord.ParseError.truncated(offset: 19)) { try TFRecord.records(in: r + r.dropLast()) }
        for cut in [1, 11, 12, 14, 15, 18] {
            #expect(throws: TFRecord.ParseError.truncated(offset: 0)) { try TFRecord.records(in: Array(r.prefix(cut))) }
        }
    }
}

@Suite struct EventFileTests {
    @Test func schemaHashMatchesProto() throws {
        let proto = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/TensorBoard/tensorboard_event.proto")
        let hex = SHA256.hash(data: try Data(contentsOf: proto)).map { String(format: "%02x", $0) }.joined()
        #expect(hex == tensorboardEventProtoSHA256, "tensorboard_event.proto changed: run scripts/generate-protos.sh and commit the result")
    }

    /// The bytes TensorBoard's own protos (`tensorboard.compat.proto.event_pb2`) give for the same
    /// event: same field numbers and wire types.
    @Test func eventEncodesWithTensorFlowsFieldNumbers() throws {
        var event = Tensorboard_Event()
        event.wallTime = 1.5
        event.step = 3
        event.summary = Tensorboard_Summary.with {
            $0.value = [.with { $0.tag = "a"; $0.simpleValue = 2 }]
        }
        let bytes: [UInt8] = try event.serializedBytes()
        #expect(bytes == [
            0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F,  // 1: wall_time, fixed64 double 1.5
            0x10, 3,                             // 2: step, varint
            0x2A, 10,                            // 5: summary, 10 bytes
            0x0A, 8,                             //   1: value, 8 bytes
            0x0A, 1, 0x61,                       //     1: tag "a"
            0x15, 0, 0, 0, 0x40,                 //     2: simple_value, fixed32 float 2
        ])
        let decoded = try Tensorboard_Event(serializedBytes: bytes)
        #expect(decoded == event)
        var version = Tensorboard_Event()
        version.fileVersion = "brain.Event:2"
        #expect(try version.serializedBytes() as [UInt8] == [0x1A, 13] + Array("brain.Event:2".utf8))
    }

    @Test func writerWritesVersionThenScalars() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let writer = try EventFileWriter(directory: dir, wallTime: 1_700_000_000.25)
        #expect(writer.url.lastPathComponent.hasPrefix("events.out.tfevents.1700000000."))
        writer.scalars([("losses/loss", 0.5), ("charts/sps", 1234.5)], step: 10, wallTime: 1_700_000_001)
        writer.scalars([("losses/loss", 0.25)], step: 20, wallTime: 1_700_000_002)
        // Only the file-version record is on disk before the flush.
        #expect(try events(writer.url).count == 1)
        writer.flush()
        let all = try events(writer.url)
        #expect(all.count == 3)
        #expect(all[0].fileVersion == "brain.Event:2" && all[0].wallTime == 1_700_000_000.25)
        #expect(all[1].step == 10 && all[1].wallTime == 1_700_000_001)
        #expect(all[1].summary.value.map(\.tag) == ["losses/loss", "charts/sps"])
        #expect(all[1].summary.value.map(\.simpleValue) == [0.5, 1234.5])
        #expect(all[2].step == 20 && all[2].summary.value.map(\.simpleValue) == [0.25])
        writer.close()
        writer.scalars([("late", 1)], step: 30)
        #expect(writer.droppedRecords == 1)
        #expect(try events(writer.url).count == 3)
    }

    /// A writer that goes quiet still gets its last points to disk (the flush timer).
    @Test func quietWriterFlushesWithinTheInterval() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let writer = try EventFileWriter(directory: dir, flushInterval: 0.2)
        writer.scalars([("x", 1)], step: 1)
        let deadline = Date().addingTimeInterval(5)
        while try events(writer.url).count < 2, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(try events(writer.url).count == 2)
    }

    @Test func missingDirectoryThrows() {
        let dir = URL(fileURLWithPath: "/nonexistent-\(UUID().uuidString)")
        #expect(throws: (any Error).self) { try EventFileWriter(directory: dir) }
    }

    /// A full disk (the file's descriptor swapped for /dev/full): records are dropped and
    /// counted, the failure is reported once, nothing crashes, and the file keeps what it had.
    @Test func writeFailuresAreCountedAndReportedOnce() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let messages = Messages()
        let writer = try EventFileWriter(directory: dir, flushBytes: 1, onError: { messages.append($0) })
        let full = open("/dev/full", O_WRONLY)
        try #require(full >= 0, "/dev/full")
        #expect(dup2(full, writer.fileDescriptor) >= 0)
        Glibc.close(full)
        writer.scalars([("x", 1)], step: 1)
        writer.scalars([("x", 2)], step: 2)
        writer.flush()
        #expect(writer.droppedRecords == 2)
        #expect(messages.all.count == 1, "\(messages.all)")
        #expect(messages.all.first?.contains("No space left on device") == true, "\(messages.all)")
        writer.close()
        #expect(try events(writer.url).map(\.fileVersion) == ["brain.Event:2"])
    }
}

final class Messages: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func append(_ m: String) { lock.lock(); list.append(m); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return list }
}

func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

func events(_ url: URL) throws -> [Tensorboard_Event] {
    try TFRecord.records(in: [UInt8](Data(contentsOf: url))).map { try Tensorboard_Event(serializedBytes: $0) }
}
