import Domain
import Foundation
import Protocol

/// The fuzz executables' behaviour in an ordinary build (no libFuzzer): replay inputs, or write
/// the seed corpus.
///
///     fuzz-codec PATH...            run every file (or every file of a folder) through the target
///     fuzz-codec --write-seeds DIR  write the target's seed inputs into DIR
public enum FuzzReplay {
    public static func main(target name: String) -> Never {
        guard let target = Fuzz.target(name) else { fail("unknown fuzz target \(name)") }
        let args = Array(CommandLine.arguments.dropFirst())
        if args.first == "--write-seeds", args.count == 2 {
            let dir = URL(fileURLWithPath: args[1])
            do {
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                let seeds = FuzzSeeds.seeds(for: name)
                for (i, seed) in seeds.enumerated() {
                    try Data(seed).write(to: dir.appendingPathComponent(String(format: "seed-%03d", i)))
                }
                print("\(name): wrote \(seeds.count) seeds to \(dir.path)")
            } catch {
                fail("\(error)")
            }
            exit(0)
        }
        guard !args.isEmpty else { fail("usage: fuzz-\(name) PATH... | --write-seeds DIR") }
        do {
            let started = ContinuousClock.now
            let count = try Fuzz.replay(args, target)
            print("\(name): \(count) inputs replayed in \(ContinuousClock.now - started), no crash")
        } catch {
            fail("\(error)")
        }
        exit(0)
    }

    private static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("fuzz: \(message)\n".utf8))
        exit(2)
    }
}

/// Seed inputs: the golden messages and the attacks of the trust-boundary issue, in each
/// target's input format, so the fuzzers start from every shape that matters.
public enum FuzzSeeds {
    public static func seeds(for target: String) -> [[UInt8]] {
        switch target {
        case "codec": codecSeeds()
        case "core", "trainer": coreSeeds()
        default: []
        }
    }

    /// Messages as `FramesFile` bytes.
    static func codecSeeds() -> [[UInt8]] {
        var messages: [[OwnedFrame]] = []
        var hello = Tributary_V1_Hello()
        hello.protocolVersions = [1]
        hello.workerID = "seed"
        hello.env = Fuzz.cartPole.wire(numEnvs: 2)
        messages.append(WireCodec.encode(.hello(hello)))
        hello.workerID = String(repeating: "w", count: 1024)
        messages.append(WireCodec.encode(.hello(hello)))
        hello.env.observationShape = [5]
        messages.append(WireCodec.encode(.hello(hello)))
        var input = FuzzInput([UInt8](repeating: 0x41, count: 512))
        var maker = ChunkMaker()
        maker.numEnvs = 2
        messages.append(maker.chunk(&input, version: 1))
        // Actions out of range, NaN rewards, fake episodes, another width, numpy dtypes; shared
        // tensor frames, whole and with a byte changed.
        for mode: UInt8 in [0x08, 0x10, 0x20, 0x28, 0x80, 0xA0] {
            var bytes = [mode] + [UInt8](repeating: 0xFF, count: 200)
            bytes[3] = 0xF0
            var input = FuzzInput(bytes)
            messages.append(maker.chunk(&input, version: 1))
        }
        messages.append(WireCodec.encode(.heartbeat(.init())))
        messages.append(WireCodec.encode(.goodbye(.init())))
        messages.append(WireCodec.encode(.getWeights(.init())))
        messages.append(WireCodec.encode(.statusRequest(.init())))
        return messages.map { FramesFile.serialize($0) } + goldenFiles()
    }

    /// `Tests/ProtocolTests/Golden/*.frames`, when the package's sources are at hand.
    static func goldenFiles() -> [[UInt8]] {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tests/ProtocolTests/Golden")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.filter { $0.hasSuffix(".frames") }.sorted() ?? []
        return names.compactMap { FileManager.default.contents(atPath: dir.appendingPathComponent($0).path).map { [UInt8]($0) } }
    }

    /// Programs for the core target: Hellos, chunks, batches, time, versions.
    static func coreSeeds() -> [[UInt8]] {
        func chunkOp(_ k: UInt8, mode: UInt8 = 0) -> [UInt8] { [0x02 | k << 4, mode] + [UInt8](repeating: 0x41, count: 64) }
        let hello0: [UInt8] = [0x01, 0x01, 0x05]
        let hello1: [UInt8] = [0x11, 0x01, 0x06]
        var seeds: [[UInt8]] = []
        // One worker: Hello, chunks, batches, a new version, time.
        seeds.append([0x00] + hello0 + chunkOp(0) + chunkOp(0) + [0x06, 0x07] + chunkOp(0) + [0x06, 0x05, 0x10])
        // Two workers under η = 0, with reuse and max lag.
        seeds.append([0xD1] + hello0 + hello1 + chunkOp(0) + chunkOp(1) + [0x06, 0x07, 0x07, 0x07] + chunkOp(0) + [0x06, 0x06])
        // Bad values: out-of-range actions, non-finite rewards, corrupted frames, versions.
        seeds.append([0x02] + hello0 + chunkOp(0, mode: 0x08) + chunkOp(0, mode: 0x10) + chunkOp(0, mode: 0x24) + [0x06])
        // Chunks whose tensors share a frame, whole and with one byte changed.
        seeds.append([0x00] + hello0 + chunkOp(0, mode: 0x80) + chunkOp(0, mode: 0xA0) + chunkOp(0, mode: 0x80) + [0x06, 0x07])
        // Expiry, a replacing Hello reusing the incarnation, control traffic.
        seeds.append([0x03] + hello0 + chunkOp(0) + [0x01, 0x81] + [0x06, 0x05, 0xFF, 0x05, 0xFF, 0x04, 0x02, 0x04, 0x00, 0x54, 0x52, 0x01, 0x0B, 0x00, 0x00])
        return seeds
    }
}
