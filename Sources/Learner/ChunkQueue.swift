import DequeModule
import Foundation
import Protocol

/// A chunk accepted from a worker, waiting for the trainer.
public struct QueuedChunk: Sendable {
    public let worker: WorkerKey
    public let chunk: ValidatedChunk

    public init(worker: WorkerKey, chunk: ValidatedChunk) {
        self.worker = worker
        self.chunk = chunk
    }
}

/// Accepted chunks on their way to the trainer thread.
///
/// Never full by construction: a worker sends only while it holds a credit, and credits
/// come back only when the trainer consumed a chunk, so at most Σ credits chunks wait.
/// A popped chunk is released at once (its frames are ZeroMQ receive buffers, up to
/// megabytes each). The trainer runs on a dedicated thread and blocks here, off Swift's
/// cooperative pool.
public final class ChunkQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: Deque<QueuedChunk> = []
    private var closed = false

    public init() {}

    public func push(_ item: QueuedChunk) {
        condition.lock()
        items.append(item)
        condition.signal()
        condition.unlock()
    }

    public func push(contentsOf batch: [QueuedChunk]) {
        condition.lock()
        items.append(contentsOf: batch)
        condition.signal()
        condition.unlock()
    }

    /// Blocks until chunks arrive, then takes up to `max` of them; nil once closed and drained.
    public func popBatch(max: Int) -> [QueuedChunk]? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !closed { condition.wait() }
        guard !items.isEmpty else { return nil }
        let n = Swift.min(max, items.count)
        defer { items.removeFirst(n) }
        return Array(items.prefix(n))
    }

    /// Blocks until a chunk arrives; nil once closed and drained.
    public func pop() -> QueuedChunk? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !closed { condition.wait() }
        return items.popFirst()
    }

    public var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return items.count
    }

    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
