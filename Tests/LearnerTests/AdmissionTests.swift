import Domain
import Foundation
import Learner
import Protocol
import Rollout
import Testing
import TestSupport
import Transport

/// The admission rule (`Admission`, docs/scaling.md): alone, then driving the real
/// `LearnerCore` and `ExperienceStore` in a simulated pipeline whose clock is the test's.
@Suite struct AdmissionTests {
    /// Feeds `updates` updates of the same mean lag.
    private func feed(_ a: inout Admission, lag: Double, updates: Int) -> Int {
        (0..<updates).reduce(0) { n, _ in n + (a.observe(lagMean: lag) ? 1 : 0) }
    }

    @Test func aLagTargetStartsOneBelowItAndMovesOneStepPerWindow() {
        var a = Admission(.target(lag: 8))
        #expect(a.eta == 7)
        #expect(a.ceiling == 16)
        // A window not yet complete changes nothing, whatever the lag.
        #expect(feed(&a, lag: 30, updates: Admission.window - 1) == 0)
        #expect(a.eta == 7)
        let moved = a.observe(lagMean: 30)
        #expect(moved)
        #expect(a.eta == 6 && a.lowered == 1)
        #expect(a.windowLag.map { abs($0 - 30) < 1e-9 } == true)
        // Within [target − 1, target]: η stays.
        #expect(feed(&a, lag: 7.5, updates: 4 * Admission.window) == 0)
        #expect(a.eta == 6)
        // Below target − 1: η rises, one step per window, up to twice the target.
        #expect(feed(&a, lag: 2, updates: 3 * Admission.window) == 3)
        #expect(a.eta == 9 && a.raised == 3)
        _ = feed(&a, lag: 2, updates: 100 * Admission.window)
        #expect(a.eta == 16)
        // Far above: down to 0 and no further.
        _ = feed(&a, lag: 100, updates: 100 * Admission.window)
        #expect(a.eta == 0)
        let movedByNaN = a.observe(lagMean: .nan)
        #expect(!movedByNaN)
    }

    @Test func aFixedEtaAndUnboundedAdmissionNeverMove() {
        var fixed = Admission(.fixed(eta: 4))
        var unbounded = Admission(.unbounded)
        var moves = 0
        for _ in 0..<(10 * Admission.window) {
            if fixed.observe(lagMean: 100) { moves += 1 }
            if unbounded.observe(lagMean: 100) { moves += 1 }
        }
        #expect(moves == 0)
        #expect(fixed.eta == 4 && unbounded.eta == nil)
        #expect(unbounded.share(batchColumns: 16, sessions: 64, numEnvs: 4, ownLimit: 32) == 32)
        #expect(unbounded.budgetColumns(batchColumns: 16) == nil)
    }

    /// (η + 1) · B columns shared among the workers, in whole chunks, at least one each, never
    /// more than a worker's own limit.
    @Test func theBudgetIsSharedAmongTheWorkers() {
        let a = Admission(.fixed(eta: 7))  // (7 + 1) · 16 = 128 columns
        #expect(a.budgetColumns(batchColumns: 16) == 128)
        #expect(a.share(batchColumns: 16, sessions: 1, numEnvs: 4, ownLimit: 32) == 32)
        #expect(a.share(batchColumns: 16, sessions: 1, numEnvs: 4, ownLimit: 8) == 8)
        #expect(a.share(batchColumns: 16, sessions: 2, numEnvs: 16, ownLimit: 32) == 4)
        #expect(a.share(batchColumns: 16, sessions: 8, numEnvs: 4, ownLimit: 32) == 4)
        #expect(a.share(batchColumns: 16, sessions: 64, numEnvs: 4, ownLimit: 32) == 1)
        #expect(a.share(batchColumns: 16, sessions: 1000, numEnvs: 4, ownLimit: 32) == 1)
    }

    /// The core shares the budget as workers join and leave: with η = 7 and 2-column batches
    /// (16 columns, 8 two-column chunks), one worker may hold 8 credits, each of four 2.
    @Test func workersJoiningAndLeavingReshareTheBudget() throws {
        var h = EmbeddedLearner { $0.buffer.eta = 7 }
        h.hello()
        guard case .welcome(let w)? = h.replies().first else { Issue.record("no Welcome"); return }
        #expect(w.initialCredits == 8)
        // Three more join: the budget is full, so they get nothing now and wait in line.
        let others = (1...3).map { WorkerKey([UInt8(100 + $0)]) }
        for (i, key) in others.enumerated() {
            let welcome = try #require(h.helloAnother(key, workerID: "w\(i + 1)"))
            #expect(welcome.initialCredits == 0)
        }
        // The first worker's chunks come back as room: it goes to the others, 2 each (their
        // share of 16 columns among four), and none back to the first until it is below its own.
        for _ in 0..<8 { h.sendChunk() }
        for _ in 0..<6 { _ = try #require(h.consumeOne()) }
        let granted = others.map { key in h.outbox.take(.data(key)).compactMap { if case .credit(let c) = $0 { Int(c.credits) } else { nil } }.reduce(0, +) }
        #expect(granted == [2, 2, 2])
        #expect(h.replies().compactMap { if case .credit(let c) = $0 { c.credits } else { nil } }.isEmpty)
        // Three leave (goodbye): the first worker's share is the whole budget again.
        for key in others {
            var bye = Tributary_V1_Goodbye()
            bye.reason = "done"
            h.core.handleData(from: key, frames: WireCodec.encode(.goodbye(bye)).map { $0 as any MessageFrame }, now: h.now)
        }
        _ = try #require(h.consumeOne())
        _ = try #require(h.consumeOne())
        let back = h.replies().compactMap { if case .credit(let c) = $0 { Int(c.credits) } else { nil } }.reduce(0, +)
        #expect(back == 8, "the whole budget: 8 chunks, none queued or held")
        #expect(h.core.invariantViolation() == nil)
    }

    /// A simulated pipeline on a simulated clock: `workers` workers whose weights reach them
    /// `delay` versions late (what many processes sharing two cores add), one chunk per worker
    /// per tick, and a trainer that takes a batch whenever one is buffered. The real core
    /// grants the credits and the real buffer forms the batches. Returns the mean lag of the
    /// samples trained in the last `measured` updates and the η admission ended at.
    private func simulate(mode: (inout LearnerConfig) -> Void, workers: Int, delay: UInt64, updates: Int, measured: Int = 200)
        throws -> (lag: Double, eta: UInt64?)
    {
        var h = EmbeddedLearner {
            $0.training.batchColumns = 8  // four 2-column chunks per update
            $0.maxCredits = 32
            mode(&$0)
        }
        struct Sim {
            var key: WorkerKey
            var credits: Int
            var sequence: UInt64 = 0
            var source: SyntheticSource
        }
        var sims: [Sim] = []
        for i in 0..<workers {
            let key = WorkerKey([9, UInt8(i)])
            let w = try #require(h.helloAnother(key, workerID: "sim\(i)"))
            sims.append(Sim(key: key, credits: Int(w.initialCredits),
                            source: SyntheticSource(spec: SyntheticSource.envSpec(numEnvs: 2, observationSize: 3), unrollLength: 4,
                                                    episodeLength: 3, seed: UInt64(i))))
        }
        var version: UInt64 = 1
        var lags: [Double] = []
        var tick = 0
        while lags.count < updates {
            tick += 1
            h.now += .milliseconds(1)
            #expect(tick < 100 * updates, "the pipeline stalled")
            if tick >= 100 * updates { break }
            for i in sims.indices {
                for body in h.outbox.take(.data(sims[i].key)) { if case .credit(let c) = body { sims[i].credits += Int(c.credits) } }
                guard sims[i].credits > 0 else { continue }
                let acting = version > delay ? version - delay : 1
                let frames = sims[i].source.next(runID: "test-run", workerID: "sim\(i)", incarnation: 0, sequence: sims[i].sequence,
                                                 policyVersion: acting)
                sims[i].sequence += 1
                sims[i].credits -= 1
                h.core.handleData(from: sims[i].key, frames: frames.map { $0 as any MessageFrame }, now: h.now)
            }
            guard h.store.read({ $0.bufferedColumns }) >= 8,
                  let batch = h.store.nextBatch(columns: 8, learnerVersion: version, onOutcome: { h.core.released($0) })
            else { continue }
            h.core.released(batch.outcome, now: h.now)
            let steps = batch.items.flatMap { $0.chunk.stepVersions }.map { Double(version - $0) }
            let mean = steps.reduce(0, +) / Double(steps.count)
            lags.append(mean)
            version += 1
            h.core.publish(WeightsSnapshot(version: version, model: .none, bytes: [1, 2, 3]))
            h.core.recordUpdate(lagMin: 0, lagMean: mean, lagMax: 0, now: h.now)
        }
        #expect(h.core.invariantViolation() == nil)
        let tail = lags.suffix(measured)
        let b = h.core.status(includeWorkers: false).buffer
        return (tail.reduce(0, +) / Double(max(1, tail.count)), b.hasAdmissionEta ? b.admissionEta : nil)
    }

    /// Without a bound the lag grows with the number of workers (each may hold 32 chunks); with
    /// the target it stays at or below it for 1 to 64 workers, and η comes down to pay for the
    /// weights' way to the workers.
    @Test func aLagTargetHoldsTheLagWhateverTheWorkersAdd() throws {
        let unbounded8 = try simulate(mode: { _ in }, workers: 8, delay: 2, updates: 400)
        let unbounded32 = try simulate(mode: { _ in }, workers: 32, delay: 2, updates: 400)
        #expect(unbounded8.eta == nil)
        #expect(unbounded32.lag > 2 * unbounded8.lag, "unbounded: \(unbounded8.lag) → \(unbounded32.lag)")
        #expect(unbounded32.lag > 40)
        var etas: [UInt64] = []
        for workers in [1, 8, 64] {
            for delay: UInt64 in [0, 4] {
                let r = try simulate(mode: { $0.buffer.lagTarget = 8 }, workers: workers, delay: delay, updates: 800)
                #expect(r.lag <= 8.5, "workers \(workers), delay \(delay): mean lag \(r.lag), η \(String(describing: r.eta))")
                if workers == 64 { etas.append(r.eta ?? 99) }
            }
        }
        #expect(etas[1] < etas[0], "weights that arrive later leave less room for admission: \(etas)")
        // Weights later than the target itself: η goes to 0 (synchronous) and the lag is the delay's.
        let late = try simulate(mode: { $0.buffer.lagTarget = 8 }, workers: 8, delay: 12, updates: 800)
        #expect(late.eta == 0)
        #expect(late.lag < 14)
    }
}
