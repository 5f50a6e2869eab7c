import Experience
import Foundation
import Protocol
import Synchronization

/// A chunk accepted from a worker, waiting for the trainer.
public struct QueuedChunk: Sendable {
    public let worker: WorkerKey
    /// The learner's own number for the session that sent it (never reused, unlike the
    /// connection or the incarnation a peer names): its release is credited to that session only.
    public let session: UInt64
    public let chunk: ValidatedChunk
    /// The trainer's version when the learner accepted it (splits lag into in flight / in queue).
    public let arrivalVersion: UInt64?

    public init(worker: WorkerKey, session: UInt64 = 0, chunk: ValidatedChunk, arrivalVersion: UInt64? = nil) {
        self.worker = worker
        self.session = session
        self.chunk = chunk
        self.arrivalVersion = arrivalVersion
    }

    /// The behaviour policy version of each step (read once, by the validator).
    public var stepVersions: [UInt64] { chunk.stepVersions }
}

extension QueuedChunk: BufferItem {
    public var source: WorkerKey { worker }
    public var columns: Int { Int(chunk.header.numEnvs) }
    public var groupID: UInt64? { chunk.header.hasGroupID ? BatchAssembly.scopedGroup(chunk.header.groupID, incarnation: chunk.header.incarnation) : nil }
    public var bytes: Int { chunk.payloadBytes }
}

/// The learner's `ExperienceBuffer` behind a lock, shared by the data path (inserts, on the
/// socket thread) and the trainer thread (batches; it blocks here, off Swift's cooperative
/// pool, until a batch can be formed or the store is closed).
///
/// Never needs to refuse an insert: a worker sends only while it holds a credit, and the
/// learner grants credits only within the buffer's admission rules (see `LearnerCore`).
/// Chunks leave as soon as they are spent, so their frames (ZeroMQ receive buffers, up to
/// megabytes each) are released at once.
public final class ExperienceStore: @unchecked Sendable {
    public typealias Buffer = ExperienceBuffer<QueuedChunk>
    private let condition = NSCondition()
    private var buffer: Buffer
    private var closed = false
    /// Drained at shutdown: what is inserted after that is released at once (below).
    private var drained = false
    /// The buffer's payload bytes, published after every change so the learner's admission
    /// reads it without taking this lock.
    private let heldBytes = Atomic<Int>(0)
    public let policy: BufferPolicy

    public init(policy: BufferPolicy = BufferPolicy()) {
        self.policy = policy
        buffer = Buffer(policy: policy)
    }

    /// Payload bytes the buffer holds now.
    public var bufferedBytes: Int { heldBytes.load(ordering: .relaxed) }

    /// Reads the buffer under the lock (accounting, histograms, fill).
    public func read<R>(_ body: (Buffer) -> R) -> R {
        condition.lock()
        defer { condition.unlock() }
        return body(buffer)
    }

    public func insert(contentsOf items: [QueuedChunk], now: ContinuousClock.Instant = .now) -> Buffer.Outcome {
        condition.lock()
        var outcome = Buffer.Outcome()
        for item in items {
            let o = buffer.insert(item, now: now)
            outcome.released += o.released
            outcome.dropped += o.dropped
        }
        if drained {
            // The data path accepts a chunk under the core's lock and inserts it here after
            // releasing that lock, so an insert can land after the shutdown's `drain`: it is
            // released at once, counted as dropped (shutdown) like everything drained, rather
            // than left buffered after the learner's last accounting.
            let late = buffer.drain()
            outcome.released += late.released
            outcome.dropped += late.dropped
        }
        heldBytes.store(buffer.bufferedBytes, ordering: .relaxed)
        condition.signal()
        condition.unlock()
        return outcome
    }

    public func recordRefused(reasons: [DropReason]) {
        guard !reasons.isEmpty else { return }
        condition.lock()
        for r in reasons { buffer.recordRefused(reason: r) }
        condition.unlock()
    }

    /// Whether the sample:insert limiter lets `columns` more columns be admitted.
    public func mayInsert(columns: Int) -> Bool {
        read { $0.mayInsert(columns: columns) }
    }

    /// A batch if one can be formed now, without waiting (tests and fuzzing drive the trainer's
    /// side this way); what forming it, or failing to, changed is in the outcome either way.
    public func tryBatch(columns: Int, maxColumns: Int? = nil, learnerVersion: UInt64) -> (Buffer.Batch?, Buffer.Outcome) {
        condition.lock()
        defer { condition.unlock() }
        let result = buffer.sample(columns: columns, maxColumns: maxColumns, learnerVersion: learnerVersion, now: .now)
        heldBytes.store(buffer.bufferedBytes, ordering: .relaxed)
        return result
    }

    /// Blocks until a batch of at least `columns` columns (up to `maxColumns`) can be formed
    /// for `learnerVersion` (the trainer's own version: a value, so no other lock is taken while
    /// this one is held), then returns it; nil once closed. What dropping stale chunks
    /// changed while waiting is handed to `onOutcome` (outside the lock) as it happens.
    public func nextBatch(columns: Int, maxColumns: Int? = nil, learnerVersion: UInt64,
                          onOutcome: (Buffer.Outcome) -> Void) -> Buffer.Batch? {
        condition.lock()
        while true {
            let (batch, outcome) = buffer.sample(columns: columns, maxColumns: maxColumns, learnerVersion: learnerVersion, now: .now)
            heldBytes.store(buffer.bufferedBytes, ordering: .relaxed)
            if let batch {
                condition.unlock()
                return batch
            }
            if !outcome.released.isEmpty {
                condition.unlock()
                onOutcome(outcome)
                condition.lock()
                continue
            }
            if closed {
                condition.unlock()
                return nil
            }
            // Woken by an insert or close; the timeout lets partial groups time out.
            _ = condition.wait(until: Date().addingTimeInterval(0.5))
        }
    }

    /// Chunks of the batch just taken that the trainer found unusable (`ExperienceBuffer.discard`).
    /// A resumed run's accounting so far (`ExperienceBuffer.carryOver`).
    public func carryOver(_ previous: BufferAccounting) {
        condition.lock()
        defer { condition.unlock() }
        buffer.carryOver(previous)
    }

    public func discard(_ batch: Buffer.Batch, indices: [Int], reason: DropReason) {
        condition.lock()
        for i in indices {
            buffer.discard(key: batch.keys[i], item: batch.items[i], reason: reason, learnerVersion: buffer.learnerVersion)
        }
        heldBytes.store(buffer.bufferedBytes, ordering: .relaxed)
        condition.unlock()
    }

    /// Empties the store (at shutdown): what was never trained is counted as dropped, and so
    /// is anything inserted later.
    public func drain() -> Buffer.Outcome {
        condition.lock()
        defer { condition.unlock() }
        drained = true
        let outcome = buffer.drain()
        heldBytes.store(buffer.bufferedBytes, ordering: .relaxed)
        return outcome
    }

    public var count: Int { read { $0.count } }

    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
