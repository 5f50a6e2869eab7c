import Logging
import Protocol
import Testing
import Transport
import Locking

private let logger: Logger = {
    var l = Logger(label: "transport-test")
    l.logLevel = .critical
    return l
}()

private func expectMessage(_ inbox: Mailbox<InboundMessage>, within: Duration = .seconds(5)) async throws -> InboundMessage {
    guard case .message(let m) = await inbox.receive(timeout: within) else {
        Issue.record("no message within \(within)")
        throw CancellationError()
    }
    return m
}

@Suite struct SocketReactorTests {
    @Test func dealerToRouterAndBackOverTCP() async throws {
        let reactor = try SocketReactor(name: "t", logger: logger)
        var routerSpec = SocketSpec(kind: .router)
        routerSpec.bind = ["tcp://127.0.0.1:*"]
        let router = try await reactor.open(routerSpec)
        #expect(router.boundEndpoints.first?.hasPrefix("tcp://127.0.0.1:") == true)
        var dealerSpec = SocketSpec(kind: .dealer)
        dealerSpec.connect = router.boundEndpoints
        let dealer = try await reactor.open(dealerSpec)

        let big = OwnedFrame((0..<300_000).map { UInt8(truncatingIfNeeded: $0) })  // zero-copy path
        reactor.send(dealer.id, [[1, 2], [3], big])
        let m = try await expectMessage(router.inbox)
        #expect(m.frames.count == 4)  // identity + 3
        #expect(m.frames[1].bytes == [1, 2])
        #expect(m.frames[3].count == big.count)
        #expect(m.frames[3].bytes == big)
        reactor.send(router.id, [m.frames[0].bytes, [42]])
        let reply = try await expectMessage(dealer.inbox)
        #expect(reply.frames.map(\.bytes) == [[42]])
        await reactor.shutdown()
        let stats = reactor.currentStats
        #expect(stats.messagesSent == 2)
        #expect(stats.messagesReceived == 2)
    }

    @Test func routerCountsSendsToUnknownPeers() async throws {
        let reactor = try SocketReactor(name: "t", logger: logger)
        var spec = SocketSpec(kind: .router)
        spec.bind = ["inproc://mandatory"]
        let router = try await reactor.open(spec)
        reactor.send(router.id, [[9, 9, 9], [1]])
        await reactor.shutdown()
        #expect(reactor.currentStats.sendsUnroutable == 1)
        #expect(reactor.currentStats.messagesSent == 0)
    }

    @Test func aFullInboxStopsReadingButLosesNothing() async throws {
        let reactor = try SocketReactor(name: "t", logger: logger)
        var routerSpec = SocketSpec(kind: .router)
        routerSpec.bind = ["inproc://backpressure"]
        routerSpec.inboxCapacity = 2
        let router = try await reactor.open(routerSpec)
        var dealerSpec = SocketSpec(kind: .dealer)
        dealerSpec.connect = ["inproc://backpressure"]
        let dealer = try await reactor.open(dealerSpec)
        for i in 0..<50 { reactor.send(dealer.id, [[UInt8(i)]]) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(router.inbox.count <= 2)
        var seen: [UInt8] = []
        for _ in 0..<50 {
            let m = try await expectMessage(router.inbox)
            seen.append(m.frames[1].bytes[0])
            #expect(router.inbox.count <= 2)
        }
        #expect(seen == (0..<50).map { UInt8($0) })
        await reactor.shutdown()
    }

    @Test func bindFailureIsATypedError() async throws {
        let reactor = try SocketReactor(name: "t", logger: logger)
        var spec = SocketSpec(kind: .router)
        spec.bind = ["tcp://127.0.0.1:*"]
        let first = try await reactor.open(spec)
        spec.bind = first.boundEndpoints
        await #expect(throws: ZMQError.self) { try await reactor.open(spec) }
        spec.bind = ["nonsense://x"]
        await #expect(throws: ZMQError.self) { try await reactor.open(spec) }
        await reactor.shutdown()
    }

    @Test func shutdownIsIdempotentAndRefusesLaterWork() async throws {
        let reactor = try SocketReactor(name: "t", logger: logger)
        var spec = SocketSpec(kind: .dealer)
        spec.connect = ["tcp://127.0.0.1:1"]  // nobody there: LINGER must bound the close
        let dealer = try await reactor.open(spec)
        reactor.send(dealer.id, [[1]])
        let started = ContinuousClock.now
        await reactor.shutdown()
        await reactor.shutdown()
        // Without LINGER this would never return; the bound is loose on purpose (a loaded CI
        // machine is slow, and timing is not what is tested here).
        #expect(ContinuousClock.now - started < .seconds(20))
        #expect(reactor.send(dealer.id, [[1]]) == false)
        await #expect(throws: ZMQError.self) { try await reactor.open(SocketSpec(kind: .dealer)) }
    }
}

@Suite struct MailboxTests {
    @Test func receiveTimesOutAndThenDelivers() async {
        let box = Mailbox<Int>(capacity: 2)
        guard case .timedOut = await box.receive(timeout: .milliseconds(20)) else { Issue.record("no timeout"); return }
        #expect(box.offer(1))
        #expect(box.offer(2))
        #expect(!box.offer(3))  // full: refused, not dropped silently
        guard case .message(1) = await box.receive() else { Issue.record("lost 1"); return }
        #expect(box.tryReceive() == 2)
        #expect(box.tryReceive() == nil)
    }

    @Test func closeWakesAWaitingConsumer() async {
        let box = Mailbox<Int>(capacity: 1)
        async let result = box.receive()
        try? await Task.sleep(for: .milliseconds(20))
        box.close()
        guard case .closed = await result else { Issue.record("not closed"); return }
        #expect(!box.offer(1))
    }

    @Test func cancellationEndsTheWait() async {
        let box = Mailbox<Int>(capacity: 1)
        let task = Task { await box.receive() }
        try? await Task.sleep(for: .milliseconds(20))
        task.cancel()
        guard case .closed = await task.value else { Issue.record("cancel did not end the wait"); return }
    }

    @Test func theProducerIsWokenWhenRoomAppears() async {
        let woken = Mutex(0)
        let box = Mailbox<Int>(capacity: 1, onSpace: { woken.withLock { $0 += 1 } })
        #expect(box.offer(1))
        #expect(!box.reserveRoom())
        _ = box.tryReceive()
        #expect(woken.withLock { $0 } == 1)
        #expect(box.reserveRoom())
    }

    /// Bounded in bytes as well as in messages: small messages fill it by count, large ones by
    /// bytes, and one message always fits into an empty mailbox whatever its size.
    @Test func theMailboxIsBoundedInBytes() async {
        let box = Mailbox<[UInt8]>(capacity: 100, byteCapacity: 1000, weigh: { $0.count })
        #expect(box.offer([UInt8](repeating: 0, count: 600)))
        #expect(!box.offer([UInt8](repeating: 0, count: 600)))
        #expect(box.offer([UInt8](repeating: 0, count: 400)))
        #expect(!box.reserveRoom())
        _ = box.tryReceive()
        _ = box.tryReceive()
        #expect(box.offer([UInt8](repeating: 0, count: 5000)))
        #expect(!box.offer([1]))
    }
}
