import Domain
import Foundation
import Protocol
import Transport

/// Everything a rollout worker is configured with.
public struct WorkerConfig: Sendable {
    /// The learner's data ROUTER, weights PUB and control ROUTER.
    public var dataEndpoint = "tcp://127.0.0.1:5555"
    public var weightsEndpoint = "tcp://127.0.0.1:5556"
    public var controlEndpoint = "tcp://127.0.0.1:5557"
    /// Stable name of this worker across restarts.
    public var workerID = "\(ProcessInfo.processInfo.hostName)/\(getpid())"
    /// The environment to act in: a gymnasium id (CartPole-v1, Acrobot-v1, MountainCar-v0, Pendulum-v1), a
    /// sequence task (addrev, add, add3, reach) or
    /// "synthetic" (random data of `observationSize` floats, for transport tests and benchmarks).
    public var envID = "synthetic"
    /// Environment copies stepped together (B); for a sequence task, the answers sampled per
    /// prompt (K, one group per chunk).
    public var numEnvs: UInt32 = 8
    /// Sequence tasks: prompts sampled together in one round (each round is prompts × K
    /// answers, one batched forward pass per token).
    public var promptsPerRound = 16
    /// Observation size of the synthetic environment (floats per observation).
    public var observationSize = 4
    /// Steps after which a synthetic episode is truncated (time limit).
    public var episodeLength = 200
    /// Sessions this process runs, each a worker of its own to the learner (its id suffixed
    /// `#i`, its seed offset by i), all on the process's one socket thread: many workers'
    /// sessions without a process each (`rollout-worker --sessions`).
    public var sessions = 1
    /// Stop after this many chunks were sent (then wait for acks and say Goodbye).
    public var maxChunks: UInt64? = nil
    /// Pause between chunks (tests); nil sends as fast as credits allow.
    public var chunkInterval: Duration? = nil
    /// How long to wait for Welcome before trying again with a new incarnation.
    public var helloTimeout: Duration = .seconds(2)
    /// Capped exponential backoff between connection attempts.
    public var backoffInitial: Duration = .milliseconds(100)
    public var backoffMax: Duration = .seconds(5)
    /// Used until a Welcome says otherwise.
    public var heartbeatInterval: Duration = .milliseconds(500)
    public var liveness: Duration = .seconds(5)
    /// Protocol versions offered in Hello (a test overrides this to provoke version skew).
    public var protocolVersions: [UInt32] = ProtocolVersion.supported
    /// The header version this worker writes (a test overrides it).
    public var headerVersion: UInt8 = ProtocolVersion.current
    /// The seed of the environments, the action sampling and the synthetic data. nil (the
    /// default): derived from the worker id and the incarnation that first acts
    /// (`WorkerConfig.derivedSeed`), so workers started identically never share environment or
    /// sampling streams. A value: exactly that seed, for reproducible runs.
    public var seed: UInt64? = nil

    /// The seed of a worker without `--seed`: SplitMix64 of the worker id's FNV-1a hash mixed
    /// with the incarnation (random per process), so two workers never share one.
    public static func derivedSeed(workerID: String, incarnation: UInt64) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in workerID.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        var rng = SplitMix64(seed: hash ^ incarnation)
        return rng.next()
    }
    /// CURVE: the learner's public key and this worker's key pair; nil: plaintext.
    public var keys: ClientKeys? = nil
    /// Handshakes the learner refused in a row before the worker gives up (exit code 4).
    public var handshakeFailureLimit = 3

    /// How every socket of the worker is secured.
    public var security: SocketSpec.Security { keys?.security ?? .plaintext }

    public init() {}

    /// The configuration of session `index` of `sessions`: the worker id `ID#index` and the
    /// seed offset by `index` (one session: this configuration unchanged).
    public func session(_ index: Int) -> WorkerConfig {
        guard sessions > 1 else { return self }
        var c = self
        c.workerID = "\(workerID)#\(index)"
        c.seed = seed.map { $0 &+ UInt64(index) }
        c.sessions = 1
        return c
    }

    /// Observation floats that make chunks of about `bytes` at unroll length `t`.
    public static func observationSize(forChunkBytes bytes: Int, unrollLength t: Int, numEnvs b: Int) -> Int {
        max(1, bytes / (t * b * 4))
    }
}
