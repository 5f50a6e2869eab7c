import Foundation
import Protocol

/// A chunk accepted from a worker, waiting for the trainer.
public struct QueuedChunk: Sendable {
    public let worker: WorkerKey
    public let chunk: ValidatedChunk
}

/// Accepted chunks on their way to the trainer thread.
///
/// Never full by construction: a worker sends only while it holds a credit, and credits
/// come back only when the trainer consumed a chunk, so at most Σ credits chunks wait.
/// The trainer runs on a dedicated thread and blocks here, off Swift's cooperative pool.
public final class ChunkQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [QueuedChunk] = []
    private var head = 0
    private var closed = false

    public init() {}

    public func push(_ item: QueuedChunk) {
        condition.lock()
        items.append(item)
        condition.signal()
        condition.unlock()
    }

    /// Blocks until a chunk arrives; nil once closed and drained.
    public func pop() -> QueuedChunk? {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count && !closed { condition.wait() }
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }

    public var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return items.count - head
    }

    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
