import Domain
import Environments
import Experience
import Foundation
import Learner
import Logging
import NeuralNet
import Corrections
import Protocol
import Locking
import Training

/// The fuzz targets (docs/security.md "Fuzzing"): each takes any bytes and must neither trap nor
/// break an invariant. `Fuzz/` holds their libFuzzer entry points and corpora; the same
/// functions replay the corpora in `make test`.
public enum Fuzz {
    /// Where each target's committed corpus lives, relative to the package root.
    public static let targets = ["codec", "core", "trainer"]

    static let cartPole = EnvironmentRegistry.spec("CartPole-v1")!

    /// What the codec target validates chunks against: the golden files' environment, and
    /// CartPole at the core target's sizes.
    static let chunkRules = [
        ChunkRules(spec: .synthetic(observationSize: 3), numEnvs: 2, unrollLength: 2, newestVersion: 5),
        ChunkRules(spec: cartPole, numEnvs: 2, unrollLength: 4, newestVersion: 5),
    ]

    // MARK: codec

    /// Bytes as a multipart message (`FramesFile`): decoded, then a Hello validated against
    /// CartPole, a chunk against both rule sets, its episodes against a ledger, and an
    /// accepted chunk's every tensor read as batch assembly reads it.
    public static func codec(_ data: UnsafeRawBufferPointer) {
        let frames = FramesFile.parse(Array(data)).map { $0 as any MessageFrame }
        guard let message = try? WireCodec.decode(frames) else { return }
        switch message.body {
        case .hello(let hello):
            _ = try? HelloValidator.validate(hello, rules: HelloRules(spec: cartPole, unrollLength: 4, maxChunkSteps: 64))
        case .trajectoryChunk(let chunk):
            for rules in chunkRules {
                guard let valid = try? ChunkValidator.validate(chunk, frames: message.tensorFrames, rules: rules) else { continue }
                var ledger = EpisodeLedger(numEnvs: rules.numEnvs)
                _ = try? ledger.admit(valid, maxEpisodeSteps: rules.spec.maxEpisodeSteps)
                let assembled = BatchAssembly.assemble([QueuedChunk(worker: WorkerKey([1]), chunk: valid)], learnerVersion: 6)
                // Either the chunk is left out for a non-finite observation, or every value the
                // trainer gets is finite.
                guard let batch = assembled.batch else {
                    precondition(assembled.discarded == [0] && assembled.lags.isEmpty)
                    continue
                }
                precondition(batch.observations.count == rules.unrollLength * rules.numEnvs * rules.spec.observationSize)
                precondition(assembled.lags.count == rules.unrollLength)  // one lag per step of each chunk
                precondition(allFinite(batch.observations) && allFinite(batch.bootstrapObservations) && allFinite(batch.rewards)
                    && allFinite(batch.behaviourLogp) && batch.finalObservations.values.allSatisfy(allFinite))
            }
        default:
            break
        }
    }

    // MARK: core

    /// What a run of the core target did, for the trainer target to go on with.
    struct CoreRun {
        var core: LearnerCore
        var store: ExperienceStore
        var version: UInt64
    }

    /// A LearnerCore with a real configuration (CartPole, T = 4), driven by the bytes as a
    /// program: messages from four connections (raw, or valid chunks and Hellos with values the
    /// bytes choose), control messages, time passing, the trainer taking batches, new versions.
    /// After every step the accounting identity and the credit totals must hold.
    public static func core(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        _ = runCore(&input, steps: 64)
    }

    static func runCore(_ input: inout FuzzInput, steps: Int) -> CoreRun {
        let flags = input.byte()
        var config = LearnerConfig()
        config.envID = "CartPole-v1"
        config.runID = "fuzz"
        config.unrollLength = 4
        config.training.batchColumns = 2
        config.maxCredits = UInt32(1 + flags % 4)
        config.maxWorkers = 3
        config.maxMessageBytes = 1 << 16
        config.memoryBudgetBytes = 1 << 16
        if flags & 0x10 != 0 { config.buffer.eta = UInt64(flags >> 5 & 1) }
        if flags & 0x40 != 0 { config.buffer.policy.maxReuse = 2 }
        if flags & 0x80 != 0 { config.buffer.policy.maxLag = 2 }
        var logger = Logger(label: "fuzz")
        logger.logLevel = .critical
        let store = ExperienceStore(policy: config.buffer.policy)
        let replies = Mutex<[[OwnedFrame]]>([])
        var now = ContinuousClock.now
        let core = LearnerCore(config: config, logger: logger, store: store, now: now) { _, frames in
            replies.withLock { $0.append(frames) }
        }
        var version: UInt64 = 1
        core.publish(WeightsSnapshot(version: 1, model: .none, bytes: [1, 2, 3, 4]))
        var makers = (0..<4).map { _ in ChunkMaker() }
        for _ in 0..<steps where !input.isAtEnd {
            let op = input.byte()
            let k = Int(op >> 4) % 4
            let key = WorkerKey([UInt8(k)])
            switch op % 8 {
            case 0:  // a raw message on the data socket
                let count = Int(input.byte() % 6)
                core.handleData(from: key, frames: (0..<count).map { _ in input.frame() as any MessageFrame }, now: now)
            case 1:  // a Hello, well formed, with sizes the bytes choose
                core.handleData(from: key, frames: makers[k].hello(&input).map { $0 as any MessageFrame }, now: now)
            case 2, 3:  // a chunk for the session, values from the bytes
                core.handleData(from: key, frames: makers[k].chunk(&input, version: version).map { $0 as any MessageFrame }, now: now)
            case 4:  // a control message
                let count = Int(input.byte() % 4)
                core.handleControl(from: [UInt8(k)], frames: (0..<count).map { _ in input.frame() as any MessageFrame }, now: now)
            case 5:  // time passes
                now = now + .milliseconds(Int(input.byte()) * 40)
                core.tick(now: now)
            case 6:  // the trainer takes a batch
                let (batch, outcome) = store.tryBatch(columns: 2, learnerVersion: version)
                core.released(batch?.outcome ?? outcome, now: now)
                if batch != nil { core.recordUpdate(lagMin: 0, lagMean: 0, lagMax: 0, now: now) }
            default:  // a new version
                version += 1
                core.publish(WeightsSnapshot(version: version, model: .none, bytes: [UInt8](repeating: UInt8(version & 0xFF), count: 8)))
            }
            // Every reply has a valid header, and the books balance.
            for frames in replies.withLock({ r in defer { r = [] }; return r }) {
                precondition(WireCodec.peekHeader(frames.map { $0 as any MessageFrame })?.type != nil, "the learner sent a malformed reply")
            }
            if let violation = core.invariantViolation() { preconditionFailure(violation) }
        }
        // The status reply (what operators read) is built from every piece of that state.
        _ = core.status(now: now)
        return CoreRun(core: core, store: store, version: version)
    }

    // MARK: replay

    /// Runs every file of `paths` (files, or directories of them) through `target`; returns how
    /// many inputs ran. What `make test` does with the committed corpora.
    public static func replay(_ paths: some Sequence<String>, _ target: (UnsafeRawBufferPointer) -> Void) throws -> Int {
        var count = 0
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            let files = isDirectory.boolValue
                ? try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { (path as NSString).appendingPathComponent($0) }
                : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                data.withUnsafeBytes { target($0) }
                count += 1
            }
        }
        return count
    }

    /// The target function of a name.
    public static func target(_ name: String) -> ((UnsafeRawBufferPointer) -> Void)? {
        switch name {
        case "codec": codec
        case "core": core
        case "trainer": trainer
        default: nil
        }
    }
}

/// Builds well-formed Hellos and chunks for one connection from fuzz bytes: the structure is
/// right (so the fuzzer reaches the value checks and the buffer), the values are the bytes'.
struct ChunkMaker {
    var incarnation: UInt64 = 1
    var numEnvs = 2
    var sequence: UInt64 = 0
    var runID = "fuzz"

    mutating func hello(_ input: inout FuzzInput) -> [OwnedFrame] {
        let b = input.byte()
        numEnvs = Int(b % 4) + 1
        incarnation = b & 0x80 != 0 ? incarnation : UInt64(input.byte()) + 1
        sequence = 0
        var h = Tributary_V1_Hello()
        h.protocolVersions = [1]
        h.workerID = "fuzz-\(b)"
        h.incarnation = incarnation
        h.env = Fuzz.cartPole.wire(numEnvs: numEnvs)
        if b & 0x40 != 0 { h.env.observationShape = [UInt64(input.byte())] }
        return WireCodec.encode(.hello(h))
    }

    mutating func chunk(_ input: inout FuzzInput, version: UInt64) -> [OwnedFrame] {
        let t = 4
        let b = numEnvs
        let d = 4
        let mode = input.byte()
        func float() -> Float {
            let raw = input.byte()
            // Mostly ordinary values; sometimes any bit pattern (NaN, ±inf, huge).
            return raw & 0xF0 == 0xF0 ? Float(bitPattern: UInt32(input.uint32())) : Float(Int(raw) - 128) / 32
        }
        // 0x80: the small tensors share one frame (docs/protocol.md §2), as a worker sends them.
        var frames = TensorFrames(sharingBelow: mode & 0x80 != 0 ? TensorFrames.sharedTensorLimit : 0)
        var c = Tributary_V1_TrajectoryChunk()
        c.runID = mode & 0x01 != 0 ? "other" : runID
        c.workerID = "fuzz"
        c.incarnation = incarnation
        c.envID = Fuzz.cartPole.id
        c.sequence = mode & 0x02 != 0 ? UInt64(input.byte()) : sequence
        sequence = c.sequence + 1
        c.length = UInt32(t)
        c.numEnvs = UInt32(b)
        let stepVersion = mode & 0x04 != 0 ? UInt64(input.byte()) : version
        c.policyVersions = frames.add([UInt64](repeating: stepVersion, count: t), shape: [t])
        c.observations = frames.add((0..<(t * b * d)).map { _ in float() }, shape: [t, b, d])
        let actions: [Int32] = (0..<(t * b)).map { _ in
            let a = input.byte()
            return mode & 0x08 != 0 ? Int32(Int8(bitPattern: a)) : Int32(a % 2)
        }
        c.actions = frames.add(actions, shape: [t, b])
        c.behaviourLogp = frames.add((0..<(t * b)).map { _ in -abs(float()) }, shape: [t, b])
        c.rewards = frames.add((0..<(t * b)).map { _ in mode & 0x10 != 0 ? float() : 1 }, shape: [t, b])
        var terminated = [UInt8](repeating: 0, count: t * b)
        var truncated = [UInt8](repeating: 0, count: t * b)
        var finals: [Float] = []
        var index: [Int32] = []
        var episodes: [Tributary_V1_EpisodeStats] = []
        for i in 0..<(t * b) {
            let f = input.byte()
            if f & 0x07 == 1 { terminated[i] = 1 }
            if f & 0x07 == 2 {
                truncated[i] = 1
                finals += (0..<d).map { _ in float() }
                index += [Int32(i / b), Int32(i % b)]
            }
            if terminated[i] == 1 || truncated[i] == 1, f & 0x08 != 0 {
                var e = Tributary_V1_EpisodeStats()
                e.step = UInt32(i / b)
                e.envIndex = UInt32(i % b)
                e.terminated = terminated[i] == 1
                e.truncated = truncated[i] == 1
                e.length = UInt64(input.byte())
                e.episodeReturn = Double(e.length)
                episodes.append(e)
            }
        }
        c.terminated = frames.add(terminated, shape: [t, b])
        c.truncated = frames.add(truncated, shape: [t, b])
        if !index.isEmpty {
            c.finalObservations = frames.add(finals, shape: [index.count / 2, d])
            c.finalObservationIndex = frames.add(index, shape: [index.count / 2, 2])
        }
        c.bootstrapObservation = frames.add((0..<(b * d)).map { _ in float() }, shape: [b, d])
        c.episodes = episodes
        var tensors = frames.frames
        if mode & 0x20 != 0, !tensors.isEmpty {
            // One byte of one tensor frame replaced, or a frame cut short.
            let f = Int(input.byte()) % tensors.count
            if !tensors[f].isEmpty {
                let at = Int(input.byte()) % tensors[f].count
                if mode & 0x40 != 0 { tensors[f].removeLast(tensors[f].count - at) } else { tensors[f][at] = input.byte() }
            }
        }
        return WireCodec.encode(.trajectoryChunk(c), tensors: tensors)
    }
}

extension Fuzz {
    // MARK: trainer

    /// The core target's program, then one trainer update on whatever it accepted: batch
    /// assembly and `Trainer.step` (the correction and the aggregation mode chosen by the
    /// bytes). An applied update leaves finite parameters and a new version; a skipped one
    /// leaves the parameters exactly as they were.
    public static func trainer(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let run = runCore(&input, steps: 48)
        let (taken, outcome) = run.store.tryBatch(columns: 1, maxColumns: 8, learnerVersion: run.version)
        run.core.released(taken?.outcome ?? outcome)
        guard let taken else { return }
        let assembled = BatchAssembly.assemble(taken.items, learnerVersion: run.version)
        if !assembled.discarded.isEmpty { run.store.discard(taken, indices: assembled.discarded, reason: .nonFinite) }
        if let violation = run.core.invariantViolation() { preconditionFailure(violation) }
        guard let batch = assembled.batch else { return }
        precondition(assembled.lags.count == batch.timeSteps * (taken.items.count - assembled.discarded.count))
        var settings = TrainerSettings()
        settings.hidden = [8]
        let choice = input.byte()
        settings.correction = Correction.allCases[Int(choice) % Correction.allCases.count]
        settings.aggregation = LossAggregation.allCases[Int(choice >> 4) % LossAggregation.allCases.count]
        settings.seed = UInt64(input.byte())
        var trainer = Trainer(settings: settings, observationSize: 4, head: .categorical(actions: 2))
        let before = trainer.net.network.parameters
        let result = trainer.step(batch)
        if result.applied {
            precondition(allFinite(trainer.net.network.parameters), "an applied update left non-finite parameters")
            precondition(trainer.version == 2)
        } else {
            precondition(trainer.net.network.parameters == before, "a skipped update changed the parameters")
            precondition(trainer.version == 1)
        }
    }
}
