import DequeModule
import Locking

/// A bounded single-consumer queue from a producer thread to async code, bounded in elements
/// and in bytes (as `weigh` counts them; one element always fits into an empty mailbox).
///
/// The producer (the socket thread) never blocks: `offer` fails when the mailbox is
/// full, and the socket thread then stops reading that socket, so backpressure
/// reaches the sender through ZeroMQ's queues and TCP rather than through memory.
/// When the consumer makes room again it calls `onSpace` to wake the producer.
public final class Mailbox<Element: Sendable>: Sendable {
    public enum Received: Sendable {
        case message(Element)
        case timedOut
        case closed
    }

    private struct State {
        var items: Deque<Element> = []
        var bytes = 0
        var waiter: CheckedContinuation<Received, Never>?
        var waiterID: UInt64 = 0
        /// Ends a timed wait; cancelled as soon as the wait ends otherwise.
        var timer: Task<Void, Never>?
        var closed = false
        var producerWaiting = false
        /// A `wake` that found no waiter: the next wait returns `.timedOut` at once.
        var woken = false
    }

    private enum Outcome { case refused, queued, handed(CheckedContinuation<Received, Never>) }
    private enum Fast { case got(Element, wake: Bool), closed, woken, wait }

    public let capacity: Int
    public let byteCapacity: Int
    private let weigh: @Sendable (Element) -> Int
    private let state: Mutex<State>
    private let onSpace: @Sendable () -> Void

    public init(capacity: Int, byteCapacity: Int = .max, weigh: @escaping @Sendable (Element) -> Int = { _ in 0 },
                onSpace: @escaping @Sendable () -> Void = {}) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.byteCapacity = byteCapacity
        self.weigh = weigh
        self.state = Mutex(State())
        self.onSpace = onSpace
    }

    private func full(_ s: State) -> Bool {
        s.items.count >= capacity || (!s.items.isEmpty && s.bytes >= byteCapacity)
    }

    /// Producer side: true when the element was taken, false when full or closed.
    public func offer(_ element: Element) -> Bool {
        let weight = weigh(element)
        let outcome: Outcome = state.withLock { s in
            if s.closed || s.items.count >= capacity || (!s.items.isEmpty && s.bytes + weight > byteCapacity) { return .refused }
            if let w = s.waiter {
                s.waiter = nil
                s.timer?.cancel()
                s.timer = nil
                return .handed(w)
            }
            s.items.append(element)
            s.bytes += weight
            return .queued
        }
        switch outcome {
        case .refused: return false
        case .queued: return true
        case .handed(let w):
            w.resume(returning: Received.message(element))
            return true
        }
    }

    /// Producer side: whether an `offer` would succeed now. When it would not, the
    /// consumer will call `onSpace` as soon as it takes an element.
    public func reserveRoom() -> Bool {
        state.withLock { s in
            if s.closed { return false }
            if !full(s) { return true }
            s.producerWaiting = true
            return false
        }
    }

    public var count: Int { state.withLock { $0.items.count } }

    /// Consumer side: the next element if one is waiting, without suspending.
    public func tryReceive() -> Element? {
        let (element, wake): (Element?, Bool) = state.withLock { s in
            guard let e = take(&s) else { return (nil, false) }
            let wake = s.producerWaiting
            s.producerWaiting = false
            return (e, wake)
        }
        if wake { onSpace() }
        return element
    }

    /// Consumer side: the next element, waiting at most `timeout` (nil: forever).
    public func receive(timeout: Duration? = nil) async -> Received {
        let fast: Fast = state.withLock { s in
            if let e = take(&s) {
                let wake = s.producerWaiting
                s.producerWaiting = false
                return .got(e, wake: wake)
            }
            if s.closed { return .closed }
            if s.woken {
                s.woken = false
                return .woken
            }
            return .wait
        }
        switch fast {
        case .got(let e, let wake):
            if wake { onSpace() }
            return .message(e)
        case .closed:
            return .closed
        case .woken:
            return .timedOut
        case .wait:
            break
        }
        let id: UInt64 = state.withLock { s in
            s.waiterID &+= 1
            return s.waiterID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Received, Never>) in
                let immediate: Received? = state.withLock { s in
                    if let e = take(&s) { return .message(e) }
                    if s.closed || Task.isCancelled { return .closed }
                    if s.woken {
                        s.woken = false
                        return .timedOut
                    }
                    s.waiter = c
                    s.waiterID = id
                    return nil
                }
                if let immediate {
                    c.resume(returning: immediate)
                    return
                }
                if let timeout {
                    let timer = Task { [weak self] in
                        guard (try? await Task.sleep(for: timeout)) != nil else { return }
                        self?.resumeWaiter(id: id, with: .timedOut)
                    }
                    let stale: Bool = state.withLock { s in
                        guard s.waiter != nil, s.waiterID == id else { return true }
                        s.timer = timer
                        return false
                    }
                    if stale { timer.cancel() }
                }
            }
        } onCancel: {
            resumeWaiter(id: id, with: .closed)
        }
    }

    private func take(_ s: inout State) -> Element? {
        guard let e = s.items.popFirst() else { return nil }
        s.bytes -= weigh(e)
        return e
    }

    private func resumeWaiter(id: UInt64, with result: Received) {
        let waiter: CheckedContinuation<Received, Never>? = state.withLock { s in
            guard let w = s.waiter, s.waiterID == id else { return nil }
            s.waiter = nil
            s.timer?.cancel()
            s.timer = nil
            return w
        }
        waiter?.resume(returning: result)
    }

    /// Ends the consumer's current wait early, as if it had timed out (or the next wait, at
    /// once, when none is under way): another thread's news the consumer should look at (the
    /// worker's new weights, say) without a message of its own.
    public func wake() {
        let waiter: CheckedContinuation<Received, Never>? = state.withLock { s in
            guard let w = s.waiter else {
                s.woken = true
                return nil
            }
            s.waiter = nil
            s.timer?.cancel()
            s.timer = nil
            return w
        }
        waiter?.resume(returning: .timedOut)
    }

    /// No more elements will be offered; a waiting consumer gets `.closed` once drained.
    public func close() {
        let waiter: CheckedContinuation<Received, Never>? = state.withLock { s in
            s.closed = true
            let w = s.waiter
            s.waiter = nil
            s.timer?.cancel()
            s.timer = nil
            return w
        }
        waiter?.resume(returning: .closed)
    }
}
