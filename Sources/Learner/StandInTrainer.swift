import Domain
import Foundation
import Logging
import Protocol
import Transport

/// Consumes accepted chunks on a dedicated thread and publishes new policy versions.
///
/// This is the place the learning core (V-trace over an OpenBLAS network) takes over.
/// Until then it does what a trainer does to the protocol: reads each chunk's rewards
/// in place, returns the worker's credit, and every `chunksPerVersion` chunks
/// publishes a new parameter vector, so versions, weights fetches and lag are real.
public final class StandInTrainer: Sendable {
    let core: LearnerCore
    let store: ExperienceStore
    let logger: Logger
    private let done = OneShotSignal()

    public init(core: LearnerCore, store: ExperienceStore, logger: Logger) {
        self.core = core
        self.store = store
        self.logger = logger
    }

    /// Parameters of version `v`: deterministic bytes, so a test can check what arrives.
    public static func parameters(version: UInt64, bytes: Int) -> WeightsSnapshot {
        let model = ModelSpec(family: "stand-in")
        var values = [UInt8](repeating: 0, count: bytes)
        var x = version &* 0x9E37_79B9_7F4A_7C15
        for i in 0..<bytes {
            x ^= x >> 12; x ^= x << 25; x ^= x >> 27
            values[i] = UInt8(truncatingIfNeeded: x &* 0x2545_F491_4F6C_DD1D >> 56)
        }
        return WeightsSnapshot(version: version, model: model, bytes: values)
    }

    /// Starts the thread. `limitReached` is called once when `maxChunks` were consumed.
    public func start(limitReached: @escaping @Sendable () -> Void) {
        let config = core.config
        core.publish(Self.parameters(version: 1, bytes: config.parameterBytes))
        let thread = Thread { [core, store, done] in
            var version: UInt64 = 1
            var rewardSum = 0.0
            var sinceVersion = 0
            // Everything there is, in one batch (the buffer's policy still applies).
            while let taken = store.nextBatch(columns: 1, maxColumns: Int.max, learnerVersion: version,
                                              onOutcome: { core.released($0) }) {
                let batch = taken.items
                for item in batch {
                    let rewards = item.chunk.rewards
                    rewards.withUnsafeBytes { raw in
                        for i in 0..<rewards.elementCount {
                            rewardSum += Double(raw.loadUnaligned(fromByteOffset: i * 4, as: Float.self))
                        }
                    }
                }
                core.released(taken.outcome)
                let total = core.counters.chunksConsumed
                sinceVersion += batch.count
                if sinceVersion >= config.chunksPerVersion {
                    version += UInt64(sinceVersion / config.chunksPerVersion)
                    sinceVersion %= config.chunksPerVersion
                    core.publish(Self.parameters(version: version, bytes: config.parameterBytes))
                }
                if let max = config.maxChunks, total >= max, total - UInt64(batch.count) < max { limitReached() }
            }
            done.signal()
            _ = rewardSum
        }
        thread.name = "trainer"
        thread.start()
    }

    /// Waits for the thread to end (after `store.close()`).
    public func join() async { await done.wait() }
}
