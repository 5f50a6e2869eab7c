/// A rate over a sliding window, from a monotone total sampled now and then (events per
/// second over the last `window`). A value type without a clock: callers pass the instant, so
/// tests can drive it and the learner samples it from its timer.
///
/// A total that stops growing shows a falling rate as the window slides past the last growth,
/// so a stalled worker reads 0 within one window rather than keeping its last rate.
public struct RateMeter: Sendable {
    public let window: Duration
    private var samples: [(at: ContinuousClock.Instant, total: UInt64)] = []

    public init(window: Duration = .seconds(5)) {
        self.window = window
    }

    /// Records `total` as of `now` (calls closer together than 1/16 of the window replace the
    /// newest sample, so the history stays small however often this is called).
    public mutating func sample(_ total: UInt64, at now: ContinuousClock.Instant) {
        if samples.count >= 2, let last = samples.last, now - samples[samples.count - 2].at < window / 16 {
            samples[samples.count - 1] = (now, max(total, last.total))
        } else {
            samples.append((now, max(total, samples.last?.total ?? 0)))
        }
        // Keep one sample at or before the window's start, so the rate spans the full window.
        while samples.count > 2, now - samples[1].at >= window { samples.removeFirst() }
    }

    /// Events per second between the oldest kept sample and the newest; 0 until two samples
    /// at least a millisecond apart.
    public var perSecond: Double {
        guard let first = samples.first, let last = samples.last else { return 0 }
        let span = last.at - first.at
        guard span >= .milliseconds(1) else { return 0 }
        let c = span.components
        let seconds = Double(c.seconds) + Double(c.attoseconds) * 1e-18
        return Double(last.total - first.total) / seconds
    }
}
