import Domain
import Foundation
import Protocol
@testable import Rollout
import Testing

/// The worker's side of the protocol without sockets: what it sends, when, and how it ends.
@Suite struct WorkerSessionTests {
    var now = ContinuousClock.now
    var session: WorkerSession

    init() {
        var settings = WorkerSession.Settings()
        settings.helloTimeout = .seconds(2)
        settings.heartbeatInterval = .milliseconds(500)
        settings.liveness = .seconds(5)
        var hello = Tributary_V1_Hello()
        hello.workerID = "w"
        session = WorkerSession(incarnation: 7, hello: hello, settings: settings, now: now)
    }

    static func welcome(credits: UInt32 = 3, version: UInt64 = 1) -> WireBody {
        var w = Tributary_V1_Welcome()
        w.runID = "run"
        w.initialCredits = credits
        w.heartbeatIntervalMs = 200
        w.livenessMs = 1000
        w.currentWeights.version = version
        return .welcome(w)
    }

    static func reject(_ code: Tributary_V1_Reject.Code, type: MessageType = .trajectoryChunk, returned: UInt32 = 0) -> WireBody {
        var r = Tributary_V1_Reject()
        r.code = code
        r.reason = "because"
        r.rejectedType = UInt32(type.rawValue)
        r.creditsReturned = returned
        return .reject(r)
    }

    static func credit(_ n: UInt32, acked: UInt64) -> WireBody {
        var c = Tributary_V1_Credit()
        c.credits = n
        c.ackedChunks = acked
        return .credit(c)
    }

    mutating func tick(_ ms: Int = 0, ready: Bool = true, stop: Bool = false) -> [WorkerSession.Action] {
        now = now + .milliseconds(ms)
        return session.tick(now: now, weightsReady: ready, stopRequested: stop, actingVersion: 1)
    }

    @Test mutating func helloWelcomeAndChunksUnderCredits() {
        guard case .send(.hello(let h))? = session.start(now: now).first else { Issue.record("no Hello"); return }
        #expect(h.workerID == "w")
        #expect(tick(10).isEmpty)  // nothing before Welcome
        let actions = session.receive(Self.welcome(credits: 3, version: 4), now: now)
        #expect(actions.count == 2)
        #expect(actions.last == .wantWeights(4))
        // Not before the weights are there; then every credit at once.
        #expect(tick(1, ready: false).isEmpty)
        #expect(tick(1) == [.sendChunks(firstSequence: 0, count: 3)])
        #expect(tick(1).isEmpty)  // no credits left
        _ = session.receive(Self.credit(2, acked: 3), now: now)
        #expect(tick(1) == [.sendChunks(firstSequence: 3, count: 2)])
        #expect(session.record.sent == 5 && session.record.acked == 3)
    }

    @Test mutating func noWelcomeInTimeMeansAnotherIncarnation() {
        _ = session.start(now: now)
        #expect(tick(1_999).isEmpty)
        guard case .end(.reconnect)? = tick(2).last else { Issue.record("did not give up on the Hello"); return }
        #expect(session.record.ended.hasPrefix("no Welcome"))
    }

    @Test(arguments: [
        (Tributary_V1_Reject.Code.unsupportedVersion, WorkerError.Code.unsupportedVersion),
        (.unauthorized, .unauthorized), (.envMismatch, .refused), (.fieldTooLong, .refused), (.oversize, .refused),
    ])
    func refusalsThatCannotPassAreFatal(_ code: Tributary_V1_Reject.Code, _ expected: WorkerError.Code) {
        var s = session
        _ = s.start(now: now)
        guard case .end(.fatal(let e))? = s.receive(Self.reject(code, type: .hello), now: now).last else {
            Issue.record("\(code) was not fatal"); return
        }
        #expect(e.code == expected)
    }

    @Test mutating func aFullLearnerIsRetried() {
        _ = session.start(now: now)
        guard case .end(.reconnect)? = session.receive(Self.reject(.learnerFull, type: .hello), now: now).last else {
            Issue.record("learner_full was not retried"); return
        }
    }

    @Test mutating func refusedChunksGiveCreditsBackAndAreCounted() {
        _ = session.start(now: now)
        _ = session.receive(Self.welcome(credits: 1), now: now)
        #expect(tick(1) == [.sendChunks(firstSequence: 0, count: 1)])
        #expect(session.receive(Self.reject(.nonFinite, returned: 1), now: now).isEmpty)
        #expect(session.record.rejected == ["non_finite": 1])
        #expect(tick(1) == [.sendChunks(firstSequence: 1, count: 1)])
        guard case .end(.reconnect)? = session.receive(Self.reject(.unknownWorker), now: now).last else {
            Issue.record("unknown_worker did not reconnect"); return
        }
    }

    @Test mutating func heartbeatsWhenQuietAndTheLearnersLiveness() {
        _ = session.start(now: now)
        _ = session.receive(Self.welcome(credits: 0), now: now)
        guard case .send(.heartbeat)? = tick(200).first else { Issue.record("no heartbeat after 200 ms of quiet"); return }
        #expect(tick(100).isEmpty)
        // The learner's Heartbeat names its newest version.
        var beat = Tributary_V1_Heartbeat()
        beat.policyVersion = 9
        #expect(session.receive(.heartbeat(beat), now: now) == [.wantWeights(9)])
        guard case .end(.reconnect(let why))? = tick(1_001).last else { Issue.record("no liveness expiry"); return }
        #expect(why.hasPrefix("learner silent"))
    }

    @Test mutating func stoppingDrainsThenSaysGoodbye() {
        _ = session.start(now: now)
        _ = session.receive(Self.welcome(credits: 2), now: now)
        _ = tick(1)
        #expect(tick(1, stop: true).isEmpty)  // two chunks unconfirmed: wait
        _ = session.receive(Self.credit(2, acked: 2), now: now)
        let actions = tick(1, stop: true)
        guard case .send(.goodbye(let bye))? = actions.first, case .end(.finished)? = actions.last else {
            Issue.record("no Goodbye after the acks: \(actions)"); return
        }
        #expect(bye.chunksSent == 2 && bye.reason == "shutdown")
        #expect(session.record.unconfirmed == 0)
    }

    /// Chunks waiting in the learner's buffer earn no Credit; the learner's heartbeat carries the
    /// acknowledgement, so a stopping worker need not wait out its drain limit.
    @Test mutating func aHeartbeatsAcknowledgementLetsTheGoodbyeGo() {
        _ = session.start(now: now)
        _ = session.receive(Self.welcome(credits: 2), now: now)
        _ = tick(1)
        #expect(tick(1, stop: true).isEmpty)
        var beat = Tributary_V1_Heartbeat()
        beat.policyVersion = 1
        beat.ackedChunks = 2
        _ = session.receive(.heartbeat(beat), now: now)
        guard case .send(.goodbye)? = tick(1, stop: true).first else { Issue.record("no Goodbye after the heartbeat's ack"); return }
        #expect(session.record.unconfirmed == 0)
    }

    @Test mutating func aSilentLearnerDoesNotHoldTheGoodbyeForever() {
        _ = session.start(now: now)
        _ = session.receive(Self.welcome(credits: 2), now: now)
        _ = tick(1)
        #expect(tick(1, stop: true).isEmpty)
        guard case .end(.finished)? = tick(1_001, stop: true).last else { Issue.record("drain did not end"); return }
        #expect(session.record.unconfirmed == 2)
    }

    /// A stopping worker whose learner's connection closed ends at once: nothing it waits for
    /// can come (the demo's workers used to hold its exit for the whole drain limit).
    @Test mutating func aLearnerThatHungUpEndsTheDrainAtOnce() {
        _ = session.start(now: now)
        _ = session.receive(Self.welcome(credits: 2), now: now)
        _ = tick(1)
        #expect(session.learnerDisconnected().isEmpty)  // still streaming: libzmq reconnects
        #expect(tick(1, stop: true).isEmpty)
        guard case .end(.finished(let why))? = session.learnerDisconnected().last else { Issue.record("drain did not end"); return }
        #expect(why.contains("closed the connection"))
        #expect(session.record.unconfirmed == 2)
    }

    @Test func theChunkBudgetEndsWithGoodbye() {
        var settings = WorkerSession.Settings()
        settings.chunkBudget = 3
        var s = WorkerSession(incarnation: 1, hello: .init(), settings: settings, now: now)
        _ = s.start(now: now)
        _ = s.receive(Self.welcome(credits: 8), now: now)
        #expect(s.tick(now: now, weightsReady: true, stopRequested: false, actingVersion: 1) == [.sendChunks(firstSequence: 0, count: 3)])
        _ = s.receive(Self.credit(3, acked: 3), now: now)
        let actions = s.tick(now: now, weightsReady: true, stopRequested: false, actingVersion: 1)
        guard case .send(.goodbye(let bye))? = actions.first else { Issue.record("no Goodbye: \(actions)"); return }
        #expect(bye.reason == "sent 3 chunks")
    }
}
