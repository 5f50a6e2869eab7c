import Domain
import Experience
import Foundation
import Learner
import Locking
import Logging
import Protocol
import Rollout

/// Collects what the core sends, instead of sockets.
public final class Outbox: Sendable {
    public init() {}
    public let sent = Mutex<[(Route, [OwnedFrame])]>([])
    public func record(_ route: Route, _ frames: [OwnedFrame]) { sent.withLock { $0.append((route, frames)) } }
    /// Decoded bodies sent to `route`, oldest first; clears them.
    public func take(_ route: Route) -> [WireBody] {
        sent.withLock { all in
            let mine = all.filter { $0.0 == route }
            all.removeAll { $0.0 == route }
            return mine.map { try! WireCodec.decode($0.1.map { $0 as any MessageFrame }).body }
        }
    }
    public func takeFrames(_ route: Route) -> [[OwnedFrame]] {
        sent.withLock { all in
            let mine = all.filter { $0.0 == route }
            all.removeAll { $0.0 == route }
            return mine.map(\.1)
        }
    }
}

/// A `LearnerCore` with no sockets: its sends land in an `Outbox`, time is a value the test
/// moves, and one synthetic worker (hello, chunks) drives it. What the unit tests of the
/// learner's protocol logic use in place of a socket thread.
public struct EmbeddedLearner {
    public let outbox = Outbox()
    public let store: ExperienceStore
    public let core: LearnerCore
    public var now = ContinuousClock.now
    public let key = WorkerKey([0, 1, 2, 3, 4])
    public var source: SyntheticSource
    public var sequence: UInt64 = 0
    public let incarnation: UInt64 = 77

    public init(_ configure: (inout LearnerConfig) -> Void = { _ in }) {
        var config = LearnerConfig()
        config.training.batchColumns = 2
        config.runID = "test-run"
        config.unrollLength = 4
        config.syntheticObservationSize = 3
        configure(&config)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let outbox = outbox
        store = ExperienceStore(policy: config.buffer.policy)
        core = LearnerCore(config: config, logger: logger, store: store, now: now) { outbox.record($0, $1) }
        source = SyntheticSource(
            spec: SyntheticSource.envSpec(numEnvs: 2, observationSize: 3), unrollLength: 4, episodeLength: 3, seed: 1)
        core.publish(WeightsSnapshot(version: 1, model: .none, bytes: [1, 2, 3]))
    }

    /// The oldest buffered chunk, taken as the trainer would (first use), with what that released.
    public func pop() -> (QueuedChunk, ExperienceStore.Buffer.Outcome)? {
        guard store.count > 0 else { return nil }
        guard let batch = store.nextBatch(columns: 1, learnerVersion: core.policyVersion, onOutcome: { _ in }) else { return nil }
        return (batch.items[0], batch.outcome)
    }

    /// Takes the oldest chunk and tells the core it was used (its credit may go back).
    @discardableResult
    public func consumeOne() -> QueuedChunk? {
        guard let (item, outcome) = pop() else { return nil }
        core.released(outcome)
        return item
    }

    public func hello(versions: [UInt32] = [1], env: Tributary_V1_EnvSpec? = nil, headerVersion: UInt8 = 1) {
        var h = Tributary_V1_Hello()
        h.protocolVersions = versions
        h.workerID = "w0"
        h.incarnation = incarnation
        h.host = "test"
        h.env = env ?? source.spec
        send(WireCodec.encode(.hello(h), version: headerVersion))
    }

    /// A second worker, `workerID` on connection `key`, says Hello for the same environment; its
    /// Welcome, nil when it got none.
    public func helloAnother(_ key: WorkerKey, workerID: String) -> Tributary_V1_Welcome? {
        var h = Tributary_V1_Hello()
        h.protocolVersions = [1]
        h.workerID = workerID
        h.env = source.spec
        core.handleData(from: key, frames: WireCodec.encode(.hello(h)).map { $0 as any MessageFrame }, now: now)
        guard case .welcome(let w)? = outbox.take(.data(key)).first else { return nil }
        return w
    }

    public func send(_ frames: [OwnedFrame], truncated: Bool = false) {
        core.handleData(from: key, frames: frames.map { $0 as any MessageFrame }, truncated: truncated, now: now)
    }

    public mutating func chunkFrames(runID: String = "test-run", version: UInt64 = 1) -> [OwnedFrame] {
        defer { sequence += 1 }
        return source.next(runID: runID, workerID: "w0", incarnation: incarnation, sequence: sequence, policyVersion: version)
    }

    public mutating func sendChunk() { send(chunkFrames()) }

    public func replies() -> [WireBody] { outbox.take(.data(key)) }

    public func rejectCodes() -> [Tributary_V1_Reject.Code] {
        replies().compactMap { if case .reject(let r) = $0 { r.code } else { nil } }
    }
}
