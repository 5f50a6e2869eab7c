import Domain
import Foundation
import NeuralNet
import Protocol

/// Produces trajectory chunks from a synthetic environment (until real environments land).
///
/// The large observation tensor is generated once per session and shared by every chunk
/// (arrays are copy-on-write), so building a chunk costs little beyond its small tensors;
/// every flag, version and final observation is still per chunk and consistent.
public struct SyntheticSource: Sendable {
    public let spec: Tributary_V1_EnvSpec
    public let unrollLength: Int
    public let episodeLength: Int
    private let observations: [UInt8]
    private let bootstrap: [UInt8]
    private let finalObservation: [Float]
    private let actions: [UInt8]
    private let logp: [UInt8]
    private let rewards: [UInt8]
    private var episodeStep: [Int]
    private var episodeReturn: [Double]
    /// Whether the small tensors of a chunk share one frame (docs/protocol.md §2).
    public var sharesTensorFrames = false

    public static func envSpec(numEnvs: UInt32, observationSize: Int) -> Tributary_V1_EnvSpec {
        EnvSpec.synthetic(observationSize: observationSize).wire(numEnvs: Int(numEnvs))
    }

    public init(spec: Tributary_V1_EnvSpec, unrollLength: Int, episodeLength: Int, seed: UInt64) {
        self.spec = spec
        self.unrollLength = unrollLength
        self.episodeLength = episodeLength
        let b = Int(spec.numEnvs)
        let d = Int(spec.observationShape.first ?? 1)
        var rng = SplitMix64(seed: seed)
        func floats(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.nextUnit() * 2 - 1) } }
        observations = floats(unrollLength * b * d).withUnsafeBytes { [UInt8]($0) }
        bootstrap = floats(b * d).withUnsafeBytes { [UInt8]($0) }
        finalObservation = floats(d)
        actions = (0..<(unrollLength * b)).map { _ in Int32(rng.next() & 1) }.withUnsafeBytes { [UInt8]($0) }
        logp = [Float](repeating: -0.6931472, count: unrollLength * b).withUnsafeBytes { [UInt8]($0) }
        rewards = [Float](repeating: 1, count: unrollLength * b).withUnsafeBytes { [UInt8]($0) }
        episodeStep = (0..<b).map { $0 * 7 % max(1, episodeLength) }
        episodeReturn = [Double](repeating: 0, count: b)
    }

    /// The next chunk's header and tensor frames.
    public mutating func next(runID: String, workerID: String, incarnation: UInt64, sequence: UInt64, policyVersion: UInt64)
        -> [OwnedFrame]
    {
        let t = unrollLength
        let b = Int(spec.numEnvs)
        var truncated = [UInt8](repeating: 0, count: t * b)
        let terminated = [UInt8](repeating: 0, count: t * b)
        var finalIndex: [Int32] = []
        var episodes: [Tributary_V1_EpisodeStats] = []
        for step in 0..<t {
            for env in 0..<b {
                episodeStep[env] += 1
                episodeReturn[env] += 1
                if episodeStep[env] >= episodeLength {
                    truncated[step * b + env] = 1
                    finalIndex += [Int32(step), Int32(env)]
                    var e = Tributary_V1_EpisodeStats()
                    e.envIndex = UInt32(env)
                    e.step = UInt32(step)
                    e.episodeReturn = episodeReturn[env]
                    e.length = UInt64(episodeStep[env])
                    e.truncated = true
                    episodes.append(e)
                    episodeStep[env] = 0
                    episodeReturn[env] = 0
                }
            }
        }
        let k = finalIndex.count / 2
        var frames = TensorFrames(sharingBelow: sharesTensorFrames ? TensorFrames.sharedTensorLimit : 0)
        var c = Tributary_V1_TrajectoryChunk(
            runID: runID, workerID: workerID, incarnation: incarnation, envID: spec.envID, sequence: sequence, length: t, numEnvs: b)
        let obs = spec.observationShape.map { Int($0) }
        c.policyVersions = frames.add([UInt64](repeating: policyVersion, count: t), shape: [t])
        c.observations = frames.add(.float32, shape: [t, b] + obs, bytes: observations)
        c.actions = frames.add(.int32, shape: [t, b], bytes: actions)
        c.behaviourLogp = frames.add(.float32, shape: [t, b], bytes: logp)
        c.rewards = frames.add(.float32, shape: [t, b], bytes: rewards)
        c.terminated = frames.add(terminated, shape: [t, b])
        c.truncated = frames.add(truncated, shape: [t, b])
        if k > 0 {
            let finals = (0..<k).flatMap { _ in finalObservation }
            c.finalObservations = frames.add(finals, shape: [k] + obs)
            c.finalObservationIndex = frames.add(finalIndex, shape: [k, 2])
        }
        c.bootstrapObservation = frames.add(.float32, shape: [b] + obs, bytes: bootstrap)
        c.episodes = episodes
        c.createdUnixNs = clock_gettime_ns()
        return WireCodec.encode(.trajectoryChunk(c), tensors: frames.frames)
    }
}

private func clock_gettime_ns() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
