import Domain
import Environments
import Foundation
import Learner
import Logging
import Protocol
import Rollout
import Locking
import Testing
import TestSupport
import Transport

typealias Harness = EmbeddedLearner

@Suite struct LearnerCoreTests {
    @Test func helloIsWelcomedWithCreditsAndCurrentWeights() throws {
        let h = Harness { $0.maxCredits = 3 }
        h.hello()
        let replies = h.replies()
        guard case .welcome(let w)? = replies.first else { Issue.record("no Welcome: \(replies)"); return }
        #expect(w.runID == "test-run")
        #expect(w.initialCredits == 3)
        #expect(w.unrollLength == 4)
        #expect(w.protocolVersion == 1)
        #expect(w.currentWeights.version == 1)
        #expect(w.currentWeights.digest == Data(WeightsDigest.sha256([1, 2, 3])))
        #expect(w.sharedTensorFrames)
    }

    /// A chunk whose small tensors share one frame is accepted and trained on like any other,
    /// next to one with a frame per tensor (an older worker) from the same session.
    @Test func chunksWithSharedTensorFramesAreAccepted() throws {
        var h = Harness()
        h.hello()
        _ = h.replies()
        h.source.sharesTensorFrames = true
        let shared = h.chunkFrames()
        #expect(shared.count == 3)
        h.send(shared)
        h.source.sharesTensorFrames = false
        h.sendChunk()
        #expect(h.core.counters.chunksAccepted == 2)
        #expect(h.core.counters.rejected.isEmpty)
        let first = try #require(h.consumeOne())
        let second = try #require(h.consumeOne())
        #expect(first.chunk.steps == 8 && second.chunk.steps == 8)
        #expect(first.chunk.rewards.copyFloats() == second.chunk.rewards.copyFloats())
    }

    @Test func acceptedChunkEarnsACreditWhenConsumed() throws {
        var h = Harness()
        h.hello()
        _ = h.replies()
        h.sendChunk()
        #expect(h.replies().isEmpty)  // no credit until the trainer consumed it
        #expect(h.core.counters.chunksAccepted == 1)
        let item = try #require(h.consumeOne())
        #expect(item.chunk.steps == 8)
        guard case .credit(let c)? = h.replies().first else { Issue.record("no Credit"); return }
        #expect(c.credits == 1)
        #expect(c.ackedChunks == 1)
        #expect(h.core.counters.chunksConsumed == 1)
    }

    @Test func creditsAreGrantedInBatchesButNeverHeldBack() throws {
        var h = Harness { $0.maxCredits = 8 }  // a batch is 8 / 4 = 2 credits
        h.hello()
        _ = h.replies()
        for _ in 0..<5 { h.sendChunk() }
        func grants() -> [UInt32] { h.replies().compactMap { if case .credit(let c) = $0 { c.credits } else { nil } } }
        _ = try #require(h.consumeOne())
        #expect(grants() == [])  // 1 of 2, and 4 more still queued
        _ = try #require(h.consumeOne())
        #expect(grants() == [2])
        _ = try #require(h.consumeOne())
        _ = try #require(h.consumeOne())
        #expect(grants() == [2])
        _ = try #require(h.consumeOne())
        #expect(grants() == [1])  // the last queued chunk: whatever is pending goes out
        // All 8 credits are back with the worker: 8 more chunks are accepted.
        for _ in 0..<8 { h.sendChunk() }
        #expect(h.rejectCodes() == [])
        #expect(h.core.counters.chunksAccepted == 13)
    }

    /// η = 1 with batches of 2 columns: at most (1 + 1) · 2 = 4 columns (two 2-column chunks)
    /// untrained or in flight. Credits beyond that wait for a release.
    @Test func theStalenessBoundEtaLimitsCreditsToEtaPlusOneBatches() throws {
        var h = Harness { $0.buffer.eta = 1 }
        h.hello()
        guard case .welcome(let w)? = h.replies().first else { Issue.record("no Welcome"); return }
        #expect(w.initialCredits == 2)
        h.sendChunk()
        h.sendChunk()
        h.sendChunk()
        #expect(h.rejectCodes() == [.noCredit])
        _ = try #require(h.consumeOne())
        guard case .credit(let c)? = h.replies().first else { Issue.record("no Credit after a release"); return }
        #expect(c.credits == 1)  // one chunk still waits: 2 + 2 columns = the bound
    }

    /// Under a tight η the room a released chunk frees goes to the worker waiting in line, not
    /// back to the worker whose chunk it was: a worker that joined when the budget was full gets
    /// credits as soon as there is room, and the two then take turns.
    @Test func roomUnderEtaGoesToTheWorkerWaitingInLineFirst() throws {
        var h = Harness { $0.buffer.eta = 1 }  // (1 + 1) × 2 columns: two 2-column chunks
        h.hello()
        guard case .welcome(let w)? = h.replies().first else { Issue.record("no Welcome"); return }
        #expect(w.initialCredits == 2)
        let late = WorkerKey([9])
        guard let w2 = h.helloAnother(late, workerID: "late") else { Issue.record("no Welcome"); return }
        #expect(w2.initialCredits == 0, "the budget is full")
        h.sendChunk()
        h.sendChunk()
        _ = try #require(h.consumeOne())
        let toLate = h.outbox.take(.data(late)).compactMap { if case .credit(let c) = $0 { c.credits } else { nil } }
        let toFirst = h.replies().compactMap { if case .credit(let c) = $0 { c.credits } else { nil } }
        #expect(toLate == [1], "the waiting worker gets the room")
        #expect(toFirst.reduce(0, +) == 0, "the first worker waits its turn")
        // The next room is the first worker's again: they take turns.
        _ = try #require(h.consumeOne())
        let again: [UInt32] = h.replies().compactMap { if case .credit(let c) = $0 { c.credits } else { nil } }
        #expect(again == [1])
        #expect(h.outbox.take(.data(late)).compactMap { if case .credit(let c) = $0 { c.credits } else { nil } }.isEmpty)
        #expect(h.core.invariantViolation() == nil)
    }

    /// A chunk wider than the whole budget (η = 0, 1-column batches, 2-column chunks) still gets
    /// one credit when nothing is waiting or in flight, so the run cannot stall.
    @Test func aChunkWiderThanTheBudgetStillGetsThroughAlone() throws {
        var h = Harness {
            $0.buffer.eta = 0
            $0.training.batchColumns = 1
        }
        h.hello()
        guard case .welcome(let w)? = h.replies().first else { Issue.record("no Welcome"); return }
        #expect(w.initialCredits == 1)
        h.sendChunk()
        #expect(h.replies().isEmpty)
        _ = try #require(h.consumeOne())
        guard case .credit(let c)? = h.replies().first else { Issue.record("no Credit after a release"); return }
        #expect(c.credits == 1)
    }

    @Test func chunkWithoutHelloIsUnknownWorker() {
        var h = Harness()
        h.sendChunk()
        #expect(h.rejectCodes() == [.unknownWorker])
        #expect(h.core.counters.rejected["unknown_worker"] == 1)
        #expect(h.store.count == 0)
    }

    @Test func unsupportedVersionsAreRefusedWithAVersionOneReject() {
        let h = Harness()
        h.hello(versions: [2, 3])
        #expect(h.rejectCodes() == [.unsupportedVersion])
        h.hello(headerVersion: 2)
        let frames = h.outbox.takeFrames(.data(h.key))
        #expect(frames.count == 1)
        #expect(frames.first?.first == [0x54, 0x52, 1, MessageType.reject.rawValue])
        #expect(h.core.counters.rejected["unsupported_version"] == 2)
    }

    @Test func chunksBeyondTheCreditsAreRefused() {
        var h = Harness { $0.maxCredits = 2 }
        h.hello()
        _ = h.replies()
        for _ in 0..<3 { h.sendChunk() }
        #expect(h.rejectCodes() == [.noCredit])
        #expect(h.core.counters.chunksAccepted == 2)
        #expect(h.core.counters.chunksReceived == 3)
    }

    @Test func refusedChunksGiveTheirCreditBack() {
        var h = Harness { $0.maxCredits = 1 }
        h.hello()
        _ = h.replies()
        var bad = h.chunkFrames()
        bad[3].removeLast()  // a tensor frame one byte short
        h.send(bad)
        guard case .reject(let r)? = h.replies().first else { Issue.record("no Reject"); return }
        #expect(r.code == .shapeMismatch)
        #expect(r.creditsReturned == 1)
        #expect(r.sequence == 0)
        // The credit came back: the next chunk is accepted.
        h.sendChunk()
        #expect(h.replies().isEmpty)
        #expect(h.core.counters.chunksAccepted == 1)
    }

    @Test func undecodableChunkFromAKnownWorkerKeepsCreditsInStep() {
        var h = Harness { $0.maxCredits = 1 }
        h.hello()
        _ = h.replies()
        h.send([WireHeader(type: .trajectoryChunk).bytes, [0xff, 0xff, 0xff]])
        guard case .reject(let r)? = h.replies().first else { Issue.record("no Reject"); return }
        #expect(r.code == .malformed)
        #expect(r.creditsReturned == 1)
        h.sendChunk()
        #expect(h.replies().isEmpty)
        #expect(h.core.counters.chunksAccepted == 1)
    }

    @Test func wrongRunRepeatedSequenceAndFutureVersionsAreRefused() {
        var h = Harness { $0.maxCredits = 8 }
        h.hello()
        _ = h.replies()
        h.send(h.chunkFrames(runID: "other-run"))
        #expect(h.rejectCodes() == [.wrongRun])
        h.sendChunk()  // sequence 1: accepted
        h.sequence = 1
        h.sendChunk()  // sequence 1 again
        #expect(h.rejectCodes() == [.badSequence])
        h.send(h.chunkFrames(version: 99))
        #expect(h.rejectCodes() == [.badVersion])
        #expect(h.core.counters.chunksAccepted == 1)
    }

    @Test func truncatedOversizeAndUnknownTypesAreCountedByReason() {
        let h = Harness { $0.maxMessageBytes = 4096 }
        h.hello()
        _ = h.replies()
        h.send(WireCodec.encode(.heartbeat(.init()), tensors: [[UInt8](repeating: 0, count: 5000)]))
        h.send(WireCodec.encode(.heartbeat(.init())), truncated: true)
        h.send(WireCodec.encode(.statusRequest(.init())))
        h.send([[1, 2, 3]])
        #expect(h.rejectCodes() == [.oversize, .malformed, .unknownType, .malformed])
        let c = h.core.counters
        #expect(c.rejected == ["oversize": 1, "malformed": 2, "unknown_type": 1])
        #expect(c.messagesReceived == 5)
    }

    /// A Hello is checked against the environment the learner trains, not taken at its word.
    @Test func anEnvironmentOtherThanTheLearnersIsRefused() {
        let h = Harness { $0.envID = "CartPole-v1" }
        h.hello()  // synthetic
        #expect(h.rejectCodes() == [.envMismatch])
        var wide = EnvironmentRegistry.spec("CartPole-v1")!.wire(numEnvs: 2)
        wide.observationShape = [5]
        h.hello(env: wide)
        #expect(h.rejectCodes() == [.envMismatch])
        var wrongActions = EnvironmentRegistry.spec("CartPole-v1")!.wire(numEnvs: 2)
        wrongActions.numActions = 8
        h.hello(env: wrongActions)
        #expect(h.rejectCodes() == [.envMismatch])
        var empty = Tributary_V1_EnvSpec()
        empty.envID = "x"
        h.hello(env: empty)
        #expect(h.rejectCodes() == [.envMismatch])
        h.hello(env: EnvironmentRegistry.spec("CartPole-v1")!.wire(numEnvs: 2))
        guard case .welcome? = h.replies().first else { Issue.record("the learner's own env was not welcomed"); return }
    }

    @Test func silentWorkersExpireAndIdleOnesGetHeartbeats() {
        var h = Harness {
            $0.heartbeatInterval = .milliseconds(100)
            $0.liveness = .milliseconds(1000)
        }
        h.hello()
        _ = h.replies()
        h.core.tick(now: h.now + .milliseconds(150))
        guard case .heartbeat(let beat)? = h.replies().first else { Issue.record("no heartbeat"); return }
        #expect(beat.policyVersion == 1)
        h.core.tick(now: h.now + .milliseconds(1200))
        #expect(h.core.counters.workersExpired == 1)
        let status = h.core.status(now: h.now + .milliseconds(1200))
        #expect(status.workersConnected == 0)
        #expect(status.workers.first?.expired == true)
        #expect(status.workers.first?.expiredReason.hasPrefix("expired") == true)
        h.now = h.now + .milliseconds(1300)
        h.sendChunk()
        #expect(h.rejectCodes() == [.unknownWorker])
    }

    /// A worker whose chunks wait in the buffer gets no Credit, so its heartbeats carry the
    /// acknowledgement: it learns within an interval that its chunks were accepted.
    @Test func heartbeatsCarryTheAcknowledgement() {
        var h = Harness {
            $0.heartbeatInterval = .milliseconds(100)
            $0.liveness = .milliseconds(1000)
        }
        h.hello()
        _ = h.replies()
        h.sendChunk()
        h.sendChunk()
        #expect(h.replies().isEmpty, "nothing consumed: no Credit")
        h.core.tick(now: h.now + .milliseconds(150))
        guard case .heartbeat(let beat)? = h.replies().first else { Issue.record("no heartbeat"); return }
        #expect(beat.ackedChunks == 2)
    }

    /// A send to a session's connection that libzmq cannot route (the peer closed it) ends the
    /// session at once, frees its credits for the others, and is counted as `disconnected`.
    @Test func aSessionWhoseConnectionIsGoneEndsAtOnce() {
        var h = Harness()
        h.hello()
        _ = h.replies()
        #expect(h.core.status().workersConnected == 1)
        h.core.recordTransport(.unroutable(routingID: [9, 9]), socket: "data")  // no such session: nothing happens
        h.core.recordTransport(.unroutable(routingID: h.key.routingID), socket: "control")  // a control requester: not a session
        #expect(h.core.status().workersConnected == 1)
        h.core.recordTransport(.unroutable(routingID: h.key.routingID), socket: "data")
        let status = h.core.status()
        #expect(status.workersConnected == 0)
        #expect(status.workersLeft["disconnected"] == 1)
        #expect(status.workers.first?.expiredReason.hasPrefix("disconnected") == true)
        #expect(status.admission.creditsInFlight == 0)
        #expect(h.core.invariantViolation() == nil)
        h.sendChunk()
        #expect(h.rejectCodes() == [.unknownWorker])
    }

    @Test func goodbyeEndsTheSessionAndRecordsWhatTheWorkerSent() {
        let h = Harness()
        h.hello()
        _ = h.replies()
        var bye = Tributary_V1_Goodbye()
        bye.reason = "done"
        bye.chunksSent = 12
        h.send(WireCodec.encode(.goodbye(bye)))
        let status = h.core.status()
        #expect(status.workersConnected == 0)
        #expect(status.workers.first?.chunksReportedSent == 12)
        #expect(status.workers.first?.expiredReason == "goodbye: done")
        #expect(h.core.counters.workersSaidGoodbye == 1)
    }

    @Test func stoppingLearnerRefusesNewWorkButHearsGoodbye() {
        var h = Harness()
        h.hello()
        _ = h.replies()
        h.core.beginStopping()
        h.sendChunk()
        #expect(h.rejectCodes() == [.shuttingDown])
        var bye = Tributary_V1_Goodbye()
        bye.chunksSent = 1
        h.send(WireCodec.encode(.goodbye(bye)))
        #expect(h.replies().isEmpty)
        #expect(h.core.status().workers.first?.chunksReportedSent == 1)
    }

    @Test func weightsAreServedInPartsThatReassembleToTheDigest() throws {
        let h = Harness { $0.weightsPartBytes = 1024 }
        let snapshot = StandInTrainer.parameters(version: 5, bytes: 2500)
        h.core.publish(snapshot)
        guard case .weightsAvailable(let a)? = h.outbox.take(.publish).last else { Issue.record("no announcement"); return }
        #expect(a.version == 5)
        #expect(a.size == 2500)
        var request = Tributary_V1_GetWeights()
        request.haveVersion = 1
        h.core.handleControl(from: [9], frames: WireCodec.encode(.getWeights(request)).map { $0 as any MessageFrame })
        let parts = h.outbox.takeFrames(.control([9]))
        #expect(parts.count == 3)
        var bytes: [UInt8] = []
        for (i, frames) in parts.enumerated() {
            let d = try WireCodec.decode(frames.map { $0 as any MessageFrame })
            guard case .weights(let w) = d.body else { Issue.record("not weights"); return }
            #expect(w.partIndex == UInt32(i))
            #expect(w.partCount == 3)
            #expect(w.offset == UInt64(bytes.count))
            d.tensorFrames[0].withUnsafeBytes { bytes.append(contentsOf: $0) }
        }
        #expect(bytes == snapshot.bytes)
        #expect(WeightsDigest.sha256(bytes) == [UInt8](a.digest))
        request.haveVersion = 5
        h.core.handleControl(from: [9], frames: WireCodec.encode(.getWeights(request)).map { $0 as any MessageFrame })
        guard case .weights(let w)? = h.outbox.take(.control([9])).first else { Issue.record("no answer"); return }
        #expect(w.notModified)
    }

    /// The seed paper's sync patterns: with a sync interval k only versions 1, k+1, 2k+1, … are
    /// offered; offline only the first; a constant offset (inject lag) holds back m versions.
    @Test(arguments: [
        (LearnerConfig.WeightsSync.interval(1), UInt64(0), [1, 2, 3, 4, 5, 6, 7, 8, 9]),
        (.interval(4), 0, [1, 5, 9]),
        (.offline, 0, [1]),
        (.interval(1), 3, [1, 2, 3, 4, 5, 6]),
        (.interval(3), 2, [1, 4, 7]),
    ] as [(LearnerConfig.WeightsSync, UInt64, [UInt64])])
    func syncPatternsChooseTheVersionsOffered(sync: LearnerConfig.WeightsSync, offset: UInt64, offered: [UInt64]) {
        let h = Harness {
            $0.weightsSync = sync
            $0.injectLag = offset
        }
        var announced: [UInt64] = []  // the harness publishes version 1 itself
        for v in 2...9 {
            h.core.publish(StandInTrainer.parameters(version: UInt64(v), bytes: 16))
            for case .weightsAvailable(let a) in h.outbox.take(.publish) { announced.append(a.version) }
        }
        #expect(announced == offered, "\(sync), offset \(offset)")
    }

    @Test func statusReportsCountersAndWorkers() {
        var h = Harness()
        h.hello()
        h.sendChunk()
        h.core.handleControl(from: [1], frames: WireCodec.encode(.statusRequest(.init())).map { $0 as any MessageFrame })
        h.core.handleControl(from: [1], frames: WireCodec.encode(.hello(.init())).map { $0 as any MessageFrame })
        let replies = h.outbox.take(.control([1]))
        guard case .statusReply(let s)? = replies.first else { Issue.record("no status"); return }
        #expect(s.runID == "test-run")
        #expect(s.chunksAccepted == 1)
        #expect(s.bufferedChunks == 1)
        #expect(s.workersConnected == 1)
        #expect(s.policyVersion == 1)
        #expect(s.stepsReceived == 8)
        guard case .reject(let r)? = replies.last else { Issue.record("hello on control not refused"); return }
        #expect(r.code == .unknownType)
    }

    @Test func creditsAreSizedByBytesWithinBounds() {
        var c = LearnerConfig()
        c.maxCredits = 32
        c.creditBytes = 1 << 20
        #expect(c.credits(forChunkBytes: 300 << 10) == 3)
        #expect(c.credits(forChunkBytes: 4 << 20) == 2)
        #expect(c.credits(forChunkBytes: 100) == 32)
        c.maxCredits = 1
        #expect(c.credits(forChunkBytes: 4 << 20) == 1)
        // The estimate matches what a real chunk without truncations weighs.
        var source = SyntheticSource(spec: SyntheticSource.envSpec(numEnvs: 4, observationSize: 10), unrollLength: 8, episodeLength: 1000, seed: 1)
        let frames = source.next(runID: "r", workerID: "w", incarnation: 1, sequence: 0, policyVersion: 0)
        #expect(ChunkValidator.typicalBytes(spec: .synthetic(observationSize: 10), numEnvs: 4, length: 8) == frames.dropFirst(2).reduce(0) { $0 + $1.count })
    }

    /// The first version compiled its mallopt call out (it tested __GLIBC__ before any libc
    /// header defined it) and only logged a warning; the learner then page-faulted every
    /// 4 MiB receive buffer back in.
    @Test func allocatorTuningTakesEffectOnGlibc() {
        #if os(Linux)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        #expect(AllocatorTuning.apply(logger: logger))
        #endif
    }

    /// Sessions beyond --max-workers are refused; a replacing Hello on a known connection is not
    /// a new session.
    @Test func helloBeyondTheSessionLimitIsRefused() {
        let h = Harness { $0.maxWorkers = 2 }
        func hello(from key: [UInt8]) -> Tributary_V1_Reject.Code? {
            var hello = Tributary_V1_Hello()
            hello.protocolVersions = [1]
            hello.workerID = "w\(key)"
            hello.env = h.source.spec
            h.core.handleData(from: WorkerKey(key), frames: WireCodec.encode(.hello(hello)).map { $0 as any MessageFrame })
            let replies = h.outbox.take(.data(WorkerKey(key)))
            if case .reject(let r)? = replies.first { return r.code }
            return nil
        }
        #expect(hello(from: [1]) == nil)
        #expect(hello(from: [2]) == nil)
        #expect(hello(from: [3]) == .learnerFull)
        #expect(hello(from: [2]) == nil)  // replaces its own session
        #expect(h.core.status().workersConnected == 2)
        #expect(h.core.counters.rejected["learner_full"] == 1)
    }

    /// The memory budget is learner-wide: with room for about three chunks (each counted at
    /// its largest), a second worker waits until the first's chunks leave the buffer, and is
    /// then served without anyone asking.
    @Test func theMemoryBudgetBoundsCreditsAcrossWorkers() throws {
        let chunkBytes = ChunkValidator.maxBytes(spec: .synthetic(observationSize: 3), numEnvs: 2, length: 4)
        var h = Harness {
            $0.maxCredits = 8
            $0.maxMessageBytes = 4096
            $0.memoryBudgetBytes = 3 * chunkBytes + chunkBytes / 2
        }
        h.hello()
        guard case .welcome(let w)? = h.replies().first else { Issue.record("no Welcome"); return }
        #expect(w.initialCredits == 3)
        let second = WorkerKey([9])
        guard let w2 = h.helloAnother(second, workerID: "second") else { Issue.record("no Welcome"); return }
        #expect(w2.initialCredits == 0)
        for _ in 0..<3 { h.sendChunk() }
        #expect(h.rejectCodes() == [])
        let status = h.core.status()
        #expect(status.admission.creditsInFlight == 0)
        #expect(status.admission.memoryHeldBytes <= status.admission.memoryBudgetBytes)
        // One chunk leaves the buffer (the others weigh less than their worst case): room for
        // new credits appears and goes out, still within the budget.
        _ = try #require(h.consumeOne())
        let credits = (h.replies() + h.outbox.take(.data(second))).compactMap { if case .credit(let c) = $0 { c.credits } else { nil } }
        #expect(credits.reduce(0, +) >= 1)
        let after = h.core.status().admission
        #expect(after.creditsInFlight == UInt64(credits.reduce(0, +)))
        #expect(after.memoryHeldBytes <= after.memoryBudgetBytes)
    }

    /// Fake episode statistics cannot move the mean return: 100 returns of 500 in a chunk that
    /// ends one episode are refused, and returns the steps do not back are never counted.
    @Test func fakeEpisodeReturnsAreRefusedAndNeverCounted() throws {
        var h = Harness()
        h.hello()
        _ = h.replies()
        var frames = h.chunkFrames()
        var decoded = try WireCodec.decode(frames.map { $0 as any MessageFrame })
        guard case .trajectoryChunk(var c) = decoded.body else { Issue.record("not a chunk"); return }
        var fake = c.episodes[0]
        fake.episodeReturn = 500
        fake.length = 500
        c.episodes = Array(repeating: fake, count: 100)
        frames = WireCodec.encode(.trajectoryChunk(c), tensors: Array(frames.dropFirst(2)))
        h.send(frames)
        #expect(h.rejectCodes() == [.badEpisode])
        #expect(h.core.returns.count == 0)
        // Honest chunks: episodes whose start the learner saw count; the first ones do not.
        for _ in 0..<3 { h.sendChunk() }
        #expect(h.rejectCodes() == [])
        let status = h.core.status()
        #expect(status.episodesUnverified > 0)
        #expect(h.core.returns.count > 0)
        #expect(h.core.returns.mean100 == 3)  // the synthetic task: 3 steps of reward 1
        decoded = try WireCodec.decode(h.chunkFrames().map { $0 as any MessageFrame })
        _ = decoded
    }

    /// The learner-wide totals admission reads are kept in step with every session's credits
    /// through Hellos, chunks, refusals, releases, goodbyes and expiry.
    @Test func creditTotalsStayInStepWithTheSessions() throws {
        var h = Harness {
            $0.maxCredits = 4
            $0.heartbeatInterval = .milliseconds(100)
            $0.liveness = .milliseconds(1000)
        }
        var rng = SplitMix64(seed: 5)
        let keys = (0..<6).map { WorkerKey([UInt8($0)]) }
        var sequences = [UInt64](repeating: 0, count: keys.count)
        for step in 0..<600 {
            let k = Int(rng.next() % UInt64(keys.count))
            let key = keys[k]
            switch rng.next() % 6 {
            case 0:
                var hello = Tributary_V1_Hello()
                hello.protocolVersions = [1]
                hello.workerID = "w\(k)"
                hello.incarnation = 77
                hello.env = h.source.spec
                h.core.handleData(from: key, frames: WireCodec.encode(.hello(hello)).map { $0 as any MessageFrame }, now: h.now)
                sequences[k] = 0
            case 1, 2:
                let frames = h.source.next(runID: "test-run", workerID: "w", incarnation: 77, sequence: sequences[k], policyVersion: 1)
                sequences[k] += 1
                h.core.handleData(from: key, frames: frames.map { $0 as any MessageFrame }, now: h.now)
            case 3:
                var bad = h.source.next(runID: "test-run", workerID: "w", incarnation: 77, sequence: sequences[k], policyVersion: 1)
                sequences[k] += 1
                bad[3].removeLast()
                h.core.handleData(from: key, frames: bad.map { $0 as any MessageFrame }, now: h.now)
            case 4:
                h.consumeOne()
            default:
                if rng.next() % 4 == 0 {
                    h.core.handleData(from: key, frames: WireCodec.encode(.goodbye(.init())).map { $0 as any MessageFrame }, now: h.now)
                } else {
                    h.now = h.now + .milliseconds(300)
                    h.core.tick(now: h.now)
                }
            }
            let status = h.core.status(now: h.now)
            let live = status.workers.filter { !$0.expired }.reduce(0) { $0 + UInt64($1.creditsOutstanding) }
            #expect(status.admission.creditsInFlight == live, "step \(step)")
            if status.admission.creditsInFlight != live { break }
        }
        _ = h.outbox.take(.data(keys[0]))
    }

    @Test func configValidationSaysWhatIsWrong() {
        var c = LearnerConfig()
        c.liveness = .milliseconds(100)
        c.heartbeatInterval = .milliseconds(500)
        #expect(throws: ConfigError.self) { try c.validate() }
        c = LearnerConfig()
        c.unrollLength = 0
        #expect(throws: ConfigError.self) { try c.validate() }
        c = LearnerConfig()
        c.maxCredits = 0
        #expect(throws: ConfigError.self) { try c.validate() }
        #expect(throws: Never.self) { try LearnerConfig().validate() }
    }
}
