import Domain
import Experience
import Testing

/// A stand-in for a chunk: who sent it, its columns, the version of each step, a group.
private struct Piece: BufferItem, Hashable {
    var id: Int
    var source: Int
    var columns: Int
    var stepVersions: [UInt64]
    var groupID: UInt64?
    var arrival: UInt64? = nil
    var bytes: Int { columns * 100 }
    var arrivalVersion: UInt64? { arrival }
}

/// Random interleavings of insert / sample / group expiry / eviction under random policies.
/// After every operation: the accounting identity holds, no sample older than max_lag is
/// trained, no chunk is used more than max_reuse times, every chunk is released exactly once,
/// the limiter only blocks (the sampled:inserted ratio stays within its band and nothing is
/// dropped for it), and groups are never split.
@Suite struct ExperienceBufferPropertyTests {
    static let seeds: [UInt64] = Array(1...60)

    @Test(arguments: seeds)
    func invariantsHoldUnderRandomInterleavings(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        func roll(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        var policy = BufferPolicy()
        policy.capacity = 4 + roll(40)
        policy.maxLag = roll(3) == 0 ? nil : UInt64(roll(12))
        policy.maxReuse = 1 + roll(3)
        policy.order = roll(2) == 0 ? .fifo : .newestFirst(k: Double(roll(4)) * 0.5)
        let groupSize: Int? = roll(3) == 0 ? 2 + roll(3) : nil
        policy.groupSize = groupSize
        policy.groupTimeout = .milliseconds(50 + roll(200))
        let batchColumns = 2 + roll(10)
        if roll(3) == 0 {
            policy.samplesPerInsert = [0.5, 1, 2, 4][roll(4)]
            policy.ratioTolerance = Double(batchColumns) * max(1, policy.samplesPerInsert!) + Double(roll(20))
        }
        var buffer = ExperienceBuffer<Piece>(policy: policy)

        var clock = ContinuousClock.now
        var version: UInt64 = 1
        var nextID = 0
        var nextGroup: UInt64 = 0
        var uses: [Int: Int] = [:]
        var released: [Int: Int] = [:]
        var dropped: [Int: DropReason] = [:]
        var refused: UInt64 = 0
        func absorb(_ outcome: ExperienceBuffer<Piece>.Outcome) {
            for p in outcome.released { released[p.id, default: 0] += 1 }
            for (p, reason) in outcome.dropped { dropped[p.id] = reason }
        }

        for _ in 0..<400 {
            clock += .milliseconds(roll(40))
            switch roll(10) {
            case 0..<5:
                // Insert: a chunk (or a whole or partial group), acted on by a recent version.
                let count = groupSize.map { roll(3) == 0 ? 1 + roll($0) : $0 } ?? 1
                let group: UInt64? = groupSize != nil ? nextGroup : nil
                nextGroup += 1
                for _ in 0..<count {
                    guard buffer.mayInsert(columns: 1) else { break }
                    let acting = version - min(version - 1, UInt64(roll(6)))
                    let steps = (0..<4).map { t in acting - min(acting - 1, UInt64(max(0, 3 - t - roll(2)))) }
                    let piece = Piece(id: nextID, source: roll(3), columns: 1 + roll(3), stepVersions: steps, groupID: group, arrival: version)
                    nextID += 1
                    absorb(buffer.insert(piece, now: clock))
                }
            case 5:
                buffer.recordRefused(reason: [DropReason.malformed, .workerExpired, .shutdown][roll(3)])
                refused += 1
            case 6:
                absorb(buffer.expireGroups(now: clock))
            default:
                let sampledBefore = buffer.accounting.sampledColumns
                let (batch, outcome) = buffer.sample(columns: batchColumns, learnerVersion: version, now: clock)
                absorb(outcome)
                if let batch {
                    #expect(batch.columns >= batchColumns)
                    if let r = policy.samplesPerInsert {
                        // Sampling happened only inside the band.
                        #expect(Double(sampledBefore + UInt64(batchColumns)) <= r * Double(buffer.accounting.insertedColumns) + policy.ratioTolerance)
                    }
                    for p in batch.items {
                        uses[p.id, default: 0] += 1
                        #expect(uses[p.id]! <= policy.maxReuse, "chunk \(p.id) used \(uses[p.id]!) times, budget \(policy.maxReuse)")
                        if let maxLag = policy.maxLag {
                            let oldest = p.stepVersions.min()!
                            #expect(version - min(version, oldest) <= maxLag, "trained a step \(version - oldest) versions old, max_lag \(maxLag)")
                        }
                    }
                    if let k = groupSize {
                        let sizes = Dictionary(grouping: batch.items.filter { $0.groupID != nil }, by: { $0.groupID! }).values.map(\.count)
                        #expect(sizes.allSatisfy { $0 == k }, "a group was split: \(sizes)")
                    }
                    version += 1
                }
            }
            let a = buffer.accounting
            #expect(a.balances, "received \(a.received) ≠ trained \(a.trained) + dropped \(a.droppedTotal) + buffered \(a.buffered)")
            #expect(a.buffered == UInt64(buffer.count))
            #expect(buffer.count <= policy.capacity)
            // Every drop is one the outcomes reported or a refusal: the limiter only blocks.
            #expect(a.droppedTotal == UInt64(dropped.count) + refused)
            // Every trained sample's lag splits into in flight (acting to arrival) + in queue.
            #expect(buffer.trainedInFlightLags.total == buffer.trainedLags.total && buffer.trainedInQueueLags.total == buffer.trainedLags.total)
            #expect(buffer.trainedInFlightLags.sum + buffer.trainedInQueueLags.sum == buffer.trainedLags.sum)
        }
        absorb(buffer.drain())
        let a = buffer.accounting
        #expect(a.balances)
        #expect(a.buffered == 0)
        #expect(a.received == UInt64(nextID) + refused)
        // Every inserted chunk was released exactly once: at its first use or when dropped unused.
        for id in 0..<nextID { #expect(released[id] == 1, "chunk \(id) released \(released[id] ?? 0) times") }
        // A chunk is dropped (never trained) iff it was never used.
        for (id, _) in dropped { #expect(uses[id] == nil) }
        #expect(a.trainingUses == UInt64(uses.values.reduce(0, +)))
        #expect(a.trained == UInt64(uses.count))
    }

    @Test func fifoTrainsInArrivalOrderAndNewestFirstPrefersFreshUnusedChunks() {
        let now = ContinuousClock.now
        var fifo = ExperienceBuffer<Piece>(policy: BufferPolicy())
        for i in 0..<4 { _ = fifo.insert(Piece(id: i, source: 0, columns: 1, stepVersions: [UInt64(4 - i)], groupID: nil), now: now) }
        #expect(fifo.sample(columns: 2, learnerVersion: 5, now: now).0?.items.map(\.id) == [0, 1])

        var policy = BufferPolicy()
        policy.order = .newestFirst(k: 2)
        policy.maxReuse = 2
        var newest = ExperienceBuffer<Piece>(policy: policy)
        for i in 0..<4 { _ = newest.insert(Piece(id: i, source: 0, columns: 1, stepVersions: [UInt64(i + 1)], groupID: nil), now: now) }
        // Versions 4 and 3 first; then the unused version 2 (priority 2) ties with the used
        // version 4 (4 − 2·1 = 2), and the older insert wins the tie.
        #expect(newest.sample(columns: 2, learnerVersion: 5, now: now).0?.items.map(\.id) == [3, 2])
        #expect(newest.sample(columns: 1, learnerVersion: 5, now: now).0?.items.map(\.id) == [1])
    }

    @Test func staleChunksAreDroppedAtBatchFormationAndCounted() {
        var policy = BufferPolicy()
        policy.maxLag = 3
        var b = ExperienceBuffer<Piece>(policy: policy)
        let now = ContinuousClock.now
        _ = b.insert(Piece(id: 0, source: 7, columns: 2, stepVersions: [1, 2], groupID: nil), now: now)
        _ = b.insert(Piece(id: 1, source: 7, columns: 2, stepVersions: [4, 5], groupID: nil), now: now)
        // At version 5 the first chunk's oldest step (1) is 4 versions old: dropped, never trained.
        let (batch, outcome) = b.sample(columns: 2, learnerVersion: 5, now: now)
        #expect(batch?.items.map(\.id) == [1])
        #expect(outcome.dropped.map(\.reason) == [.stale])
        #expect(b.accounting.dropped == [.stale: 1])
        #expect(b.droppedLags.total == 4 && b.droppedLags.counts[4] == 2 && b.droppedLags.counts[3] == 2)
        #expect(b.trainedLagsBySource[7]?.counts[1] == 2)
        #expect(b.trainedLags.quantile(0.5) == 0 || b.trainedLags.quantile(0.5) == 1)
    }

    @Test func theLimiterBlocksSamplingUntilEnoughIsInserted() {
        var policy = BufferPolicy()
        policy.samplesPerInsert = 2
        policy.ratioTolerance = 4
        policy.maxReuse = 4
        var b = ExperienceBuffer<Piece>(policy: policy)
        let now = ContinuousClock.now
        _ = b.insert(Piece(id: 0, source: 0, columns: 2, stepVersions: [1], groupID: nil), now: now)
        // 2 inserted columns allow 2 · 2 + 4 = 8 sampled columns: four batches of 2, then a block.
        for _ in 0..<4 { #expect(b.sample(columns: 2, learnerVersion: 1, now: now).0 != nil) }
        #expect(b.sample(columns: 2, learnerVersion: 1, now: now).0 == nil)
        #expect(b.accounting.droppedTotal == 0)
        // And inserting is held back while sampling is behind.
        #expect(b.mayInsert(columns: 2))
        #expect(!b.mayInsert(columns: 100))
    }

    @Test func partialGroupsWaitThenTimeOut() {
        var policy = BufferPolicy()
        policy.groupSize = 3
        policy.groupTimeout = .milliseconds(100)
        var b = ExperienceBuffer<Piece>(policy: policy)
        let start = ContinuousClock.now
        for i in 0..<2 { _ = b.insert(Piece(id: i, source: 0, columns: 1, stepVersions: [1], groupID: 9), now: start) }
        #expect(b.sample(columns: 1, learnerVersion: 1, now: start).0 == nil)  // 2 of 3: waits
        let outcome = b.expireGroups(now: start + .milliseconds(150))
        #expect(outcome.dropped.map(\.reason) == [.groupTimeout, .groupTimeout])
        #expect(b.accounting.dropped == [.groupTimeout: 2])
        #expect(b.accounting.balances)
        #expect(b.accounting.groupsTimedOut == 1 && b.accounting.groupsTrained == 0)
        // A complete group counts once, at its first use (not again when reused).
        for i in 2..<5 { _ = b.insert(Piece(id: i, source: 0, columns: 1, stepVersions: [1], groupID: 10), now: start) }
        #expect(b.sample(columns: 1, learnerVersion: 1, now: start).0?.items.count == 3)
        #expect(b.accounting.groupsTrained == 1)
        // Without grouping rules (a chunk is a whole group, as sequence tasks send them): each
        // group id counts once, at its first use.
        var flat = ExperienceBuffer<Piece>(policy: { var p = BufferPolicy(); p.maxReuse = 2; return p }())
        for i in 0..<3 { _ = flat.insert(Piece(id: i, source: 0, columns: 8, stepVersions: [1], groupID: UInt64(20 + i)), now: start) }
        _ = flat.sample(columns: 24, learnerVersion: 1, now: start)
        _ = flat.sample(columns: 24, learnerVersion: 1, now: start)
        #expect(flat.accounting.groupsTrained == 3)
    }

    @Test func lagSplitsIntoInFlightAndInQueue() {
        var b = ExperienceBuffer<Piece>(policy: BufferPolicy())
        let now = ContinuousClock.now
        // Acted with versions 3 and 4, arrived when the learner was at 6, trained at 9:
        // 3 + 3 and 2 + 3 versions, for each of the 2 columns.
        _ = b.insert(Piece(id: 0, source: 0, columns: 2, stepVersions: [3, 4], groupID: nil, arrival: 6), now: now)
        _ = b.sample(columns: 2, learnerVersion: 9, now: now)
        #expect(b.trainedInFlightLags.counts[3] == 2 && b.trainedInFlightLags.counts[2] == 2 && b.trainedInFlightLags.total == 4)
        #expect(b.trainedInQueueLags.counts[3] == 4)
        #expect(b.trainedLags.counts[6] == 2 && b.trainedLags.counts[5] == 2)
    }
}

@Suite struct DiscardTests {
    /// A chunk the trainer found unusable at its first use counts as dropped, not trained,
    /// whether it already left the buffer (reuse 1) or is still in it (reuse 2).
    @Test(arguments: [1, 2])
    func discardedChunksAreDroppedNotTrained(_ maxReuse: Int) {
        var policy = BufferPolicy()
        policy.maxReuse = maxReuse
        var buffer = ExperienceBuffer<Piece>(policy: policy)
        for id in 0..<3 { _ = buffer.insert(Piece(id: id, source: 0, columns: 1, stepVersions: [1, 1]), now: .now) }
        let (batch, _) = buffer.sample(columns: 3, learnerVersion: 2, now: .now)
        let taken = try! #require(batch)
        buffer.discard(key: taken.keys[1], item: taken.items[1], reason: .nonFinite, learnerVersion: 2)
        let a = buffer.accounting
        #expect(a.balances, "\(a)")
        #expect(a.dropped == [.nonFinite: 1])
        #expect(a.trainingUses == 2)
        #expect(a.trained == (maxReuse == 1 ? 2 : 0))
        #expect(buffer.count == (maxReuse == 1 ? 0 : 2))
        #expect(buffer.trainedLags.total == 4 && buffer.droppedLags.total == 2)
    }
}
