import Protocol

/// Samples of a quantity over a sliding window of time, and its slope (change per second)
/// between the oldest and newest sample kept. A value type without a clock: callers pass the
/// instant, so tests can drive it and the learner samples it from its timer.
public struct SlidingWindow: Sendable {
    public let window: Duration
    private var samples: [(at: ContinuousClock.Instant, value: Double)] = []

    public init(window: Duration) {
        self.window = window
    }

    /// Records `value` as of `now`. Samples closer together than 1/16 of the window replace
    /// the newest, so the history stays small however often this is called; one sample at or
    /// before the window's start is kept, so the slope spans the whole window.
    public mutating func sample(_ value: Double, at now: ContinuousClock.Instant) {
        if samples.count >= 2, now - samples[samples.count - 2].at < window / 16 {
            samples[samples.count - 1] = (now, value)
        } else {
            samples.append((now, value))
        }
        while samples.count > 2, now - samples[1].at >= window { samples.removeFirst() }
    }

    public var last: Double? { samples.last?.value }

    /// Change per second from the oldest kept sample to the newest; nil until two samples at
    /// least a millisecond apart.
    public var slope: Double? {
        guard let first = samples.first, let last = samples.last else { return nil }
        let seconds = (last.at - first.at).inSeconds
        guard seconds >= 1e-3 else { return nil }
        return (last.value - first.value) / seconds
    }
}

/// A rate over a sliding window, from a monotone total sampled now and then (events per
/// second over the last `window`). A total that stops growing shows a falling rate as the
/// window slides past the last growth, so a stalled worker reads 0 within one window rather
/// than keeping its last rate.
public struct RateMeter: Sendable {
    private var series: SlidingWindow

    public init(window: Duration = .seconds(5)) {
        series = SlidingWindow(window: window)
    }

    public mutating func sample(_ total: UInt64, at now: ContinuousClock.Instant) {
        series.sample(Double(total), at: now)
    }

    /// Events per second over the window; 0 until two samples.
    public var perSecond: Double { max(0, series.slope ?? 0) }
}
