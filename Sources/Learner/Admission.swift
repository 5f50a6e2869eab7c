/// The learner-wide admission budget that bounds staleness, and how it is shared among workers.
///
/// A sample's lag is the learner's version when it is trained minus the version that acted.
/// Admission bounds the part of it the learner controls: credits go out only while the columns
/// admitted and not yet trained, plus those of credits in flight, stay within (η + 1) · B (B
/// the batch columns; AReaL's rule). A sample then waits at most η + 1 updates after its credit
/// went out. What admission cannot see is added on top: how old the weights were that acted
/// (their way to the worker), which grows with the number of workers sharing the CPUs.
///
/// Three modes:
/// - `target(lag:)` (the default, sized per task by the presets): η is adjusted so that the
///   mean lag of trained samples stays at or just below the target L, whatever the workers add.
///   It starts at L − 1 and moves one step per `window` updates, by the mean lag of the samples
///   trained in that window: above L, η − 1 (down to 0); below L − 1, η + 1 (up to 2L). So the
///   weights' way to the workers is paid for with less admitted data, not with more lag.
/// - `fixed(eta:)` (`--eta`): η as given, never adjusted.
/// - `unbounded` (`--lag-target off` without `--eta`): no learner-wide bound; every worker may
///   hold its own byte-sized limit (`LearnerConfig.credits(forChunkBytes:)`), and the lag is
///   whatever that allows (it grows with the number of workers).
///
/// The budget is shared: with a bound, a worker may hold at most its share of it,
/// ⌈(η + 1) · B / n⌉ columns (at least one chunk) for n workers, recomputed as workers join and
/// leave and as η moves. Workers the budget leaves without credit wait in line and are served in
/// turn (`LearnerCore.grantWaiting`).
///
/// Pure and clock-free: the learner calls `observe` after each update and reads `eta`.
public struct Admission: Sendable, Equatable {
    public enum Mode: Sendable, Equatable, Codable {
        case unbounded
        case fixed(eta: UInt64)
        case target(lag: Double)
    }

    public let mode: Mode
    /// The bound in force now (nil: unbounded).
    public private(set) var eta: UInt64?
    /// Mean lag of the samples trained in the last complete window (nil before the first).
    public private(set) var windowLag: Double?
    /// η's adjustments so far, down and up.
    public private(set) var lowered: UInt64 = 0
    public private(set) var raised: UInt64 = 0
    private var lagSum = 0.0
    private var updates = 0

    /// Updates per adjustment. Long enough that the samples trained in a window were admitted
    /// under the η in force when it began (a sample waits at most η + 1 updates), short enough
    /// to follow workers joining: 32 updates are 10–30 ms of CartPole training here.
    public static let window = 32

    public init(_ mode: Mode) {
        self.mode = mode
        switch mode {
        case .unbounded: eta = nil
        case .fixed(let e): eta = e
        case .target(let l): eta = UInt64(max(0, (l - 1).rounded(.down)))
        }
    }

    /// The most η is raised to in target mode: twice the target, so η cannot wind up while the
    /// lag stays low for another reason (too few workers to fill the budget).
    public var ceiling: UInt64? {
        if case .target(let l) = mode { return UInt64(max(1, (2 * l).rounded(.up))) }
        return nil
    }

    /// An update trained samples with this mean lag. Returns whether η changed.
    public mutating func observe(lagMean: Double) -> Bool {
        guard case .target(let target) = mode, lagMean.isFinite else { return false }
        lagSum += lagMean
        updates += 1
        guard updates >= Self.window else { return false }
        let mean = lagSum / Double(updates)
        (windowLag, lagSum, updates) = (mean, 0, 0)
        let current = eta ?? 0
        if mean > target, current > 0 {
            eta = current - 1
            lowered += 1
            return true
        }
        if mean < target - 1, current < ceiling! {
            eta = current + 1
            raised += 1
            return true
        }
        return false
    }

    /// Columns that may be admitted and not yet trained, in flight included: (η + 1) · B.
    public func budgetColumns(batchColumns: Int) -> Int? {
        eta.map { (Int($0) + 1) * batchColumns }
    }

    /// The credits a worker whose chunks have `numEnvs` columns may hold when `sessions` share
    /// the budget: ⌈budget / sessions⌉ columns in whole chunks, at least one, at most `ownLimit`
    /// (what its chunk size allows). Without a bound, `ownLimit`.
    public func share(batchColumns: Int, sessions: Int, numEnvs: Int, ownLimit: UInt32) -> UInt32 {
        guard let budget = budgetColumns(batchColumns: batchColumns) else { return ownLimit }
        let perSession = (budget + max(1, sessions) - 1) / max(1, sessions)
        let chunks = max(1, perSession / max(1, numEnvs))
        return UInt32(min(Int(ownLimit), chunks))
    }
}
