import Domain
import Foundation
import Protocol

/// Fixed messages whose encodings are committed under Golden/ (and decoded by the C client).
///
/// File format (`*.frames`): for each frame, its length as a little-endian UInt32, then its bytes.
enum GoldenMessages {
    static func env() -> Tributary_V1_EnvSpec {
        var env = Tributary_V1_EnvSpec()
        env.envID = "synthetic"
        env.numEnvs = 2
        env.observationShape = [3]
        env.observationDtype = .float32
        env.actionDtype = .int32
        env.numActions = 2
        return env
    }

    /// What a learner training the golden env checks the golden chunk against.
    static func rules(newestVersion: UInt64 = 3) -> ChunkRules {
        ChunkRules(spec: .synthetic(observationSize: 3), numEnvs: 2, unrollLength: 2, newestVersion: newestVersion)
    }

    static func hello() -> [OwnedFrame] {
        var h = Tributary_V1_Hello()
        h.protocolVersions = [1]
        h.workerID = "golden-worker"
        h.incarnation = 42
        h.host = "golden-host"
        h.env = env()
        h.capabilities = ["weights.v1"]
        h.pid = 7
        h.softwareVersion = "tributary 0.1"
        return WireCodec.encode(.hello(h))
    }

    static func welcome() -> [OwnedFrame] {
        var w = Tributary_V1_Welcome()
        w.runID = "golden-run"
        w.protocolVersion = 1
        w.unrollLength = 2
        w.initialCredits = 4
        w.heartbeatIntervalMs = 500
        w.livenessMs = 5000
        w.maxMessageBytes = 64 << 20
        w.sharedTensorFrames = true
        w.currentWeights.runID = "golden-run"
        w.currentWeights.version = 3
        w.currentWeights.digest = Data(WeightsDigest.sha256([1, 2, 3]))
        w.currentWeights.size = 3
        return WireCodec.encode(.welcome(w))
    }

    /// T=2, B=2, observation [3]; env 1 is truncated at step 1. `shared`: every tensor packed
    /// into one shared frame (what a worker sends a learner that offers shared_tensor_frames).
    static func chunk(shared: Bool = false) -> [OwnedFrame] {
        var frames = TensorFrames(sharingBelow: shared ? TensorFrames.sharedTensorLimit : 0)
        var c = Tributary_V1_TrajectoryChunk()
        c.runID = "golden-run"
        c.workerID = "golden-worker"
        c.incarnation = 42
        c.envID = "synthetic"
        c.sequence = 5
        c.length = 2
        c.numEnvs = 2
        c.policyVersions = frames.add([UInt64(3), 3], shape: [2])
        c.observations = frames.add((0..<12).map { Float($0) * 0.5 }, shape: [2, 2, 3])
        c.actions = frames.add([Int32(0), 1, 1, 0], shape: [2, 2])
        c.behaviourLogp = frames.add([Float(-0.5), -1, -0.25, -2], shape: [2, 2])
        c.rewards = frames.add([Float(1), 0, 1, 1], shape: [2, 2])
        c.terminated = frames.add([UInt8(0), 0, 0, 0], shape: [2, 2])
        c.truncated = frames.add([UInt8(0), 0, 0, 1], shape: [2, 2])
        c.finalObservations = frames.add([Float(9), 9.5, 10], shape: [1, 3])
        c.finalObservationIndex = frames.add([Int32(1), 1], shape: [1, 2])
        c.bootstrapObservation = frames.add([Float(6), 6.5, 7, 7.5, 8, 8.5], shape: [2, 3])
        c.groupID = 11
        var e = Tributary_V1_EpisodeStats()
        e.envIndex = 1
        e.step = 1
        e.episodeReturn = 200
        e.length = 200
        e.truncated = true
        c.episodes = [e]
        c.createdUnixNs = 1_700_000_000_000_000_000
        return WireCodec.encode(.trajectoryChunk(c), tensors: frames.frames)
    }

    static func credit() -> [OwnedFrame] {
        var c = Tributary_V1_Credit()
        c.credits = 1
        c.ackedChunks = 6
        return WireCodec.encode(.credit(c))
    }

    static func reject() -> [OwnedFrame] {
        WireCodec.reject(ProtocolError(.unsupportedVersion, "worker speaks [2], learner speaks [1]"), rejectedType: 1)
    }

    static func weightsAvailable() -> [OwnedFrame] {
        var a = Tributary_V1_WeightsAvailable()
        a.runID = "golden-run"
        a.version = 3
        a.digest = Data(WeightsDigest.sha256([1, 2, 3]))
        a.size = 3
        return WireCodec.encode(.weightsAvailable(a))
    }

    static let all: [(name: String, frames: [OwnedFrame])] = [
        ("hello", hello()), ("welcome", welcome()), ("chunk", chunk()), ("chunk_shared", chunk(shared: true)), ("credit", credit()),
        ("reject", reject()), ("weights_available", weightsAvailable()),
    ]

    static func serialize(_ frames: [OwnedFrame]) -> [UInt8] {
        var out: [UInt8] = []
        for f in frames {
            withUnsafeBytes(of: UInt32(f.count).littleEndian) { out.append(contentsOf: $0) }
            out.append(contentsOf: f)
        }
        return out
    }

    static func parse(_ bytes: [UInt8]) -> [OwnedFrame]? {
        var frames: [OwnedFrame] = []
        var i = 0
        while i < bytes.count {
            guard i + 4 <= bytes.count else { return nil }
            let n = Int(UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
            i += 4
            guard i + n <= bytes.count else { return nil }
            frames.append(Array(bytes[i..<i + n]))
            i += n
        }
        return frames
    }

    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    }
}
