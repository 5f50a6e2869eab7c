import Domain

/// Why a chunk left the buffer without ever being trained (`BufferAccounting.dropped`).
public enum DropReason: String, CaseIterable, Sendable, Codable {
    /// A step more than `maxLag` versions old when a batch was formed.
    case stale
    /// Pushed out by capacity.
    case evicted
    /// Its group stayed incomplete past the group timeout.
    case groupTimeout = "group_timeout"
    /// Refused at admission: the chunk was unreadable or broke a rule (the Reject code says which).
    case malformed
    /// Refused at admission: its worker had no session (expired, never said Hello).
    case workerExpired = "worker_expired"
    /// Still waiting when the learner stopped, or refused while it was stopping.
    case shutdown
    /// Found unusable when the trainer read it (observations that are not finite): taken into a
    /// batch, but not trained on.
    case nonFinite = "non_finite"
}

/// How a trained chunk left the buffer (`BufferAccounting.trainedExits`).
public enum ExitReason: String, CaseIterable, Sendable, Codable {
    /// Used as often as `maxReuse` allows: the normal way out.
    case reuseSpent = "reuse_spent"
    case stale, evicted, shutdown
    case groupTimeout = "group_timeout"

    /// A used chunk removed for `reason` (the buffer's own reasons; admission refusals never
    /// reach a buffered chunk).
    init(removedFor reason: DropReason) {
        switch reason {
        case .stale: self = .stale
        case .evicted: self = .evicted
        case .groupTimeout: self = .groupTimeout
        case .shutdown, .malformed, .workerExpired, .nonFinite: self = .shutdown
        }
    }
}

/// What the buffer needs to know about a stored chunk.
public protocol BufferItem: Sendable {
    associatedtype Source: Hashable & Sendable
    /// Who sent it (per-worker histograms).
    var source: Source { get }
    /// Environment columns (B of the chunk): the unit batches are measured in.
    var columns: Int { get }
    /// The behaviour policy version of each of its T steps.
    var stepVersions: [UInt64] { get }
    /// The group it belongs to, for methods that need all K samples of a group.
    var groupID: UInt64? { get }
    /// Memory it holds (payload bytes): what the learner's memory budget counts.
    var bytes: Int { get }
    /// The learner's version when it arrived: it splits a sample's lag into its in-flight part
    /// (acting to arrival) and its in-queue part (arrival to training). nil: not split.
    var arrivalVersion: UInt64? { get }
}

extension BufferItem {
    public var arrivalVersion: UInt64? { nil }
}

/// How the buffer stores, orders, reuses and drops experience. The defaults reproduce a plain
/// FIFO queue: every chunk trained once, in arrival order, nothing dropped for age.
public struct BufferPolicy: Sendable, Equatable, Codable {
    public enum Order: Sendable, Equatable, Codable {
        /// Oldest first (IMPALA, Sample Factory).
        case fifo
        /// Highest `newest step version − k · use count` first (Trinity-RFT's priority).
        case newestFirst(k: Double)
    }

    /// Chunks kept at most; inserting beyond evicts the oldest.
    public var capacity = 4096
    /// Chunks with a step older than this many versions when a batch is formed are dropped,
    /// never trained. nil: no limit.
    public var maxLag: UInt64? = nil
    /// Times each chunk may be sampled.
    public var maxReuse = 1
    public var order = Order.fifo
    /// Reverb-style sample:insert limiter, in columns: training samples per inserted sample.
    /// nil: off. Inserting (granting credits) and sampling each block while the other side is
    /// more than `ratioTolerance` columns behind the ratio; nothing is dropped by it.
    public var samplesPerInsert: Double? = nil
    public var ratioTolerance = 64.0
    /// With a group size K, a batch takes only complete groups (K chunks of one `groupID`);
    /// a partial group older than `groupTimeout` is dropped.
    public var groupSize: Int? = nil
    public var groupTimeout: Duration = .seconds(30)

    public init() {}
}

/// How every chunk that reached the learner ended up. Always
/// `received = trained + Σ dropped + buffered` (chunks): each chunk is in exactly one of them.
/// `trained` are chunks that left the buffer after at least one use (`trainedExits` says how:
/// `reuse_spent` normally, or `stale`/`evicted` after some use); `dropped` are chunks that
/// were never trained, by reason: `stale`, `evicted`, `group_timeout` from the buffer and, from
/// the learner's admission, `malformed`, `worker_expired`, `shutdown`.
public struct BufferAccounting: Sendable, Equatable, Codable {
    public var received: UInt64 = 0
    public var trained: UInt64 = 0
    public var trainedExits: [ExitReason: UInt64] = [:]
    public var dropped: [DropReason: UInt64] = [:]
    public var buffered: UInt64 = 0
    /// Σ over trained chunks of how often each was used (≥ trained with reuse).
    public var trainingUses: UInt64 = 0
    /// Columns inserted and columns sampled (what the limiter compares).
    public var insertedColumns: UInt64 = 0
    public var sampledColumns: UInt64 = 0
    /// Groups trained (distinct group ids among a batch's chunks at their first use), and
    /// partial groups dropped after the group timeout.
    public var groupsTrained: UInt64 = 0
    public var groupsTimedOut: UInt64 = 0

    public var droppedTotal: UInt64 { dropped.values.reduce(0, +) }
    /// The identity, checked.
    public var balances: Bool { received == trained + droppedTotal + buffered }

    public init() {}

    private enum CodingKeys: String, CodingKey {
        case received, trained, trainedExits, dropped, buffered, trainingUses, insertedColumns, sampledColumns, groupsTrained, groupsTimedOut
    }

    /// Checkpoints written before the group counts existed have none (they count from zero).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        received = try c.decode(UInt64.self, forKey: .received)
        trained = try c.decode(UInt64.self, forKey: .trained)
        trainedExits = try c.decode([ExitReason: UInt64].self, forKey: .trainedExits)
        dropped = try c.decode([DropReason: UInt64].self, forKey: .dropped)
        buffered = try c.decode(UInt64.self, forKey: .buffered)
        trainingUses = try c.decode(UInt64.self, forKey: .trainingUses)
        insertedColumns = try c.decode(UInt64.self, forKey: .insertedColumns)
        sampledColumns = try c.decode(UInt64.self, forKey: .sampledColumns)
        groupsTrained = try c.decodeIfPresent(UInt64.self, forKey: .groupsTrained) ?? 0
        groupsTimedOut = try c.decodeIfPresent(UInt64.self, forKey: .groupsTimedOut) ?? 0
    }
}

/// The staleness-aware experience buffer (a value type: no locks, no clocks of its own, so
/// every rule is property-testable; `ExperienceStore` puts it behind a lock for the learner).
///
/// Insert admits a chunk (evicting the oldest beyond capacity). `sample` forms a batch of at
/// least `columns` columns for learner version v: it first drops every chunk with a step more
/// than `maxLag` versions behind v, then takes eligible chunks (used fewer than `maxReuse`
/// times; whole groups only when grouping) in the configured order. A chunk leaves after its
/// last allowed use. Each chunk *releases* its admission slot once — at its first use or when
/// dropped unused — which is when the learner returns its worker's credit.
public struct ExperienceBuffer<Item: BufferItem>: Sendable {
    struct Entry: Sendable {
        var item: Item
        var order: UInt64
        var uses: Int
        var insertedAt: ContinuousClock.Instant
        var oldestVersion: UInt64
        var newestVersion: UInt64
    }

    /// What a change to the buffer did, for the learner to act on.
    public struct Outcome: Sendable {
        /// Chunks whose admission slot is free again (first use, or dropped unused).
        public var released: [Item] = []
        /// Chunks dropped without being trained, with the reason.
        public var dropped: [(item: Item, reason: DropReason)] = []

        public init() {}
    }

    /// A batch for the trainer: the chunks, how often each was used before (0: fresh), and
    /// what forming it changed.
    public struct Batch: Sendable {
        public var items: [Item]
        public var previousUses: [Int]
        /// Each item's place in the buffer (what `discard` names it by).
        public var keys: [UInt64]
        public var outcome: Outcome
        public var columns: Int { items.reduce(0) { $0 + $1.columns } }
    }

    public let policy: BufferPolicy
    /// The learner version of the latest `sample` call: drops are histogrammed against it.
    public private(set) var learnerVersion: UInt64 = 0
    private var entries: [Entry] = []
    private var nextOrder: UInt64 = 0
    public private(set) var accounting = BufferAccounting()

    /// Continues a resumed run's accounting: what its checkpoint counted as buffered was lost
    /// with the process that held it, and is counted as dropped at shutdown, so the identity
    /// `received = trained + dropped + buffered` still holds over the whole run.
    public mutating func carryOver(_ previous: BufferAccounting) {
        var a = previous
        if a.buffered > 0 {
            a.dropped[.shutdown, default: 0] += a.buffered
            a.buffered = 0
        }
        a.received += accounting.received
        a.trained += accounting.trained
        a.trainingUses += accounting.trainingUses
        a.insertedColumns += accounting.insertedColumns
        a.sampledColumns += accounting.sampledColumns
        a.groupsTrained += accounting.groupsTrained
        a.groupsTimedOut += accounting.groupsTimedOut
        a.buffered += accounting.buffered
        for (k, v) in accounting.trainedExits { a.trainedExits[k, default: 0] += v }
        for (k, v) in accounting.dropped { a.dropped[k, default: 0] += v }
        accounting = a
    }
    /// Version lags of trained and of dropped samples (steps), overall and per source.
    public private(set) var trainedLags = LagHistogram()
    public private(set) var droppedLags = LagHistogram()
    public private(set) var trainedLagsBySource: [Item.Source: LagHistogram] = [:]
    public private(set) var droppedLagsBySource: [Item.Source: LagHistogram] = [:]
    /// Trained samples' lag split in two (items with an `arrivalVersion` only): versions from
    /// acting to arrival (in flight: the worker's weights' age plus transport) and from arrival
    /// to training (in the queue). Per sample, the two add up to its lag in `trainedLags`.
    public private(set) var trainedInFlightLags = LagHistogram()
    public private(set) var trainedInQueueLags = LagHistogram()

    public init(policy: BufferPolicy) {
        self.policy = policy
    }

    public var count: Int { entries.count }
    /// Payload bytes of everything buffered.
    public private(set) var bufferedBytes = 0
    /// Environment columns of everything buffered.
    public var bufferedColumns: Int { entries.reduce(0) { $0 + $1.item.columns } }
    public var isEmpty: Bool { entries.isEmpty }

    /// Counts a chunk refused before it reached the buffer (`malformed`, `worker_expired`,
    /// `shutdown`): it was received, and is accounted for as dropped.
    public mutating func recordRefused(reason: DropReason) {
        accounting.received += 1
        accounting.dropped[reason, default: 0] += 1
    }

    /// Whether the limiter lets `columns` more columns in now (credits are granted only then).
    public func mayInsert(columns: Int) -> Bool {
        guard let r = policy.samplesPerInsert else { return true }
        let deficit = r * Double(accounting.insertedColumns + UInt64(columns)) - Double(accounting.sampledColumns)
        return deficit <= policy.ratioTolerance
    }

    /// Whether the limiter lets a batch of `columns` be sampled now.
    public func maySample(columns: Int) -> Bool {
        guard let r = policy.samplesPerInsert else { return true }
        let deficit = r * Double(accounting.insertedColumns) - Double(accounting.sampledColumns + UInt64(columns))
        return deficit >= -policy.ratioTolerance
    }

    public mutating func insert(_ item: Item, now: ContinuousClock.Instant) -> Outcome {
        accounting.received += 1
        accounting.insertedColumns += UInt64(item.columns)
        let versions = item.stepVersions
        entries.append(Entry(item: item, order: nextOrder, uses: 0, insertedAt: now,
                             oldestVersion: versions.min() ?? 0, newestVersion: versions.max() ?? 0))
        bufferedBytes += item.bytes
        nextOrder += 1
        var outcome = Outcome()
        while entries.count > policy.capacity {
            // Entries are kept in insertion order: the first is the oldest.
            remove(at: 0, reason: .evicted, learnerVersion: nil, into: &outcome)
        }
        accounting.buffered = UInt64(entries.count)
        return outcome
    }

    /// Drops partial groups that waited longer than the group timeout.
    public mutating func expireGroups(now: ContinuousClock.Instant) -> Outcome {
        var outcome = Outcome()
        guard let k = policy.groupSize else { return outcome }
        let groups = Dictionary(grouping: entries.indices, by: { entries[$0].item.groupID })
        var doomed: [Int] = []
        for (id, indices) in groups where id != nil && indices.count < k {
            if indices.contains(where: { now - entries[$0].insertedAt > policy.groupTimeout }) {
                doomed += indices
                accounting.groupsTimedOut += 1
            }
        }
        for i in doomed.sorted(by: >) { remove(at: i, reason: .groupTimeout, learnerVersion: nil, into: &outcome) }
        accounting.buffered = UInt64(entries.count)
        return outcome
    }

    /// Forms a batch of at least `columns` columns (and, when more is eligible, up to
    /// `maxColumns`) for learner version `learnerVersion`, or
    /// returns nil (with what dropping stale chunks changed) when there is not enough
    /// eligible experience yet or the limiter holds sampling back.
    public mutating func sample(columns: Int, maxColumns: Int? = nil, learnerVersion: UInt64,
                                now: ContinuousClock.Instant) -> (Batch?, Outcome) {
        self.learnerVersion = max(self.learnerVersion, learnerVersion)
        let limit = max(columns, maxColumns ?? columns)
        var outcome = Outcome()
        if let maxLag = policy.maxLag {
            for i in entries.indices.reversed() where learnerVersion - min(learnerVersion, entries[i].oldestVersion) > maxLag {
                remove(at: i, reason: .stale, learnerVersion: learnerVersion, into: &outcome)
            }
        }
        let expired = expireGroups(now: now)
        outcome.released += expired.released
        outcome.dropped += expired.dropped
        accounting.buffered = UInt64(entries.count)
        guard maySample(columns: columns) else { return (nil, outcome) }

        // Candidates in the configured order; with groups, whole complete groups only.
        var candidates = entries.indices.filter { entries[$0].uses < policy.maxReuse }
        switch policy.order {
        case .fifo:
            break  // already in insertion order
        case .newestFirst(let k):
            func priority(_ i: Int) -> Double { Double(entries[i].newestVersion) - k * Double(entries[i].uses) }
            candidates.sort { priority($0) != priority($1) ? priority($0) > priority($1) : entries[$0].order < entries[$1].order }
        }
        var chosen: [Int] = []
        var total = 0
        if let k = policy.groupSize {
            var members: [UInt64: [Int]] = [:]
            for i in candidates { if let g = entries[i].item.groupID { members[g, default: []].append(i) } }
            var taken = Set<UInt64>()
            for i in candidates where total < limit {
                if let g = entries[i].item.groupID {
                    guard !taken.contains(g), let group = members[g], group.count >= k else { continue }
                    taken.insert(g)
                    let whole = Array(group.prefix(k))
                    chosen += whole
                    total += whole.reduce(0) { $0 + entries[$1].item.columns }
                } else {
                    chosen.append(i)
                    total += entries[i].item.columns
                }
            }
        } else {
            for i in candidates where total < limit {
                chosen.append(i)
                total += entries[i].item.columns
            }
        }
        guard total >= columns else { return (nil, outcome) }

        // Groups (by id) at their first use: with K chunks per group the buffer completes them;
        // a chunk of K answers (the sequence tasks' layout) is a whole group by itself.
        accounting.groupsTrained += UInt64(Set(chosen.filter { entries[$0].uses == 0 }.compactMap { entries[$0].item.groupID }).count)
        var batch = Batch(items: [], previousUses: [], keys: [], outcome: outcome)
        for i in chosen {
            let e = entries[i]
            batch.items.append(e.item)
            batch.previousUses.append(e.uses)
            batch.keys.append(e.order)
            if e.uses == 0 { batch.outcome.released.append(e.item) }
            entries[i].uses += 1
            accounting.trainingUses += 1
            accounting.sampledColumns += UInt64(e.item.columns)
            let lags = histogram(e.item, learnerVersion: learnerVersion)
            trainedLags.add(lags)
            trainedLagsBySource[e.item.source, default: LagHistogram()].add(lags)
            if let (inFlight, inQueue) = split(e.item, learnerVersion: learnerVersion) {
                trainedInFlightLags.add(inFlight)
                trainedInQueueLags.add(inQueue)
            }
        }
        // Chunks whose budget is spent leave (highest index first, so indices stay valid).
        for i in chosen.sorted(by: >) where entries[i].uses >= policy.maxReuse {
            bufferedBytes -= entries.remove(at: i).item.bytes
            accounting.trained += 1
            accounting.trainedExits[.reuseSpent, default: 0] += 1
        }
        accounting.buffered = UInt64(entries.count)
        return (batch, batch.outcome)
    }

    /// A chunk of the batch just sampled (at `learnerVersion`) turned out unusable when the
    /// trainer read it, at its first use: it counts as dropped for `reason` instead of trained
    /// (the use, its lags and, if it already left, its exit are taken back), and leaves the
    /// buffer if still there. Its admission slot was released with the batch.
    public mutating func discard(key: UInt64, item: Item, reason: DropReason, learnerVersion: UInt64) {
        let lags = histogram(item, learnerVersion: learnerVersion)
        trainedLags.subtract(lags)
        trainedLagsBySource[item.source, default: LagHistogram()].subtract(lags)
        droppedLags.add(lags)
        droppedLagsBySource[item.source, default: LagHistogram()].add(lags)
        if let (inFlight, inQueue) = split(item, learnerVersion: learnerVersion) {
            trainedInFlightLags.subtract(inFlight)
            trainedInQueueLags.subtract(inQueue)
        }
        accounting.trainingUses -= 1
        if let i = entries.firstIndex(where: { $0.order == key }) {
            bufferedBytes -= entries.remove(at: i).item.bytes
        } else {
            accounting.trained -= 1
            accounting.trainedExits[.reuseSpent, default: 1] -= 1
            if accounting.trainedExits[.reuseSpent] == 0 { accounting.trainedExits[.reuseSpent] = nil }
        }
        accounting.dropped[reason, default: 0] += 1
        accounting.buffered = UInt64(entries.count)
    }

    /// Empties the buffer at shutdown, counting what was never trained as dropped `shutdown`.
    public mutating func drain() -> Outcome {
        var outcome = Outcome()
        for i in entries.indices.reversed() { remove(at: i, reason: .shutdown, learnerVersion: nil, into: &outcome) }
        accounting.buffered = 0
        return outcome
    }

    private func histogram(_ item: Item, learnerVersion: UInt64) -> LagHistogram {
        var h = LagHistogram()
        for v in item.stepVersions { h.add(lag: learnerVersion - min(learnerVersion, v), count: UInt64(item.columns)) }
        return h
    }

    /// The in-flight and in-queue parts of an item's lags at `learnerVersion` (nil without an
    /// arrival version). A step acted with a version newer than the arrival's (a learner
    /// restarted from an older checkpoint) counts as 0 in flight.
    private func split(_ item: Item, learnerVersion: UInt64) -> (LagHistogram, LagHistogram)? {
        guard let arrival = item.arrivalVersion else { return nil }
        var inFlight = LagHistogram(), inQueue = LagHistogram()
        let columns = UInt64(item.columns)
        for v in item.stepVersions { inFlight.add(lag: arrival - min(arrival, v), count: columns) }
        inQueue.add(lag: learnerVersion - min(learnerVersion, arrival), count: columns * UInt64(item.stepVersions.count))
        return (inFlight, inQueue)
    }

    private mutating func remove(at i: Int, reason: DropReason, learnerVersion: UInt64?, into outcome: inout Outcome) {
        let learnerVersion = learnerVersion ?? self.learnerVersion
        let e = entries.remove(at: i)
        bufferedBytes -= e.item.bytes
        if e.uses > 0 {
            accounting.trained += 1
            accounting.trainedExits[ExitReason(removedFor: reason), default: 0] += 1
        } else {
            accounting.dropped[reason, default: 0] += 1
            outcome.released.append(e.item)
            outcome.dropped.append((e.item, reason))
            let lags = histogram(e.item, learnerVersion: learnerVersion)
            droppedLags.add(lags)
            droppedLagsBySource[e.item.source, default: LagHistogram()].add(lags)
        }
    }
}
