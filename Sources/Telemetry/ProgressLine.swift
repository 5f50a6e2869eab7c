import Foundation

/// A run's progress for people: on a terminal, one line redrawn in place with a bar, the rate
/// and an ETA; elsewhere (CI, logs, pipes) a plain line now and then, so logs stay readable.
public struct ProgressLine: Sendable {
    public let isTerminal: Bool
    /// Columns the terminal line may use (the bar shrinks to fit).
    public var width: Int
    /// How often a plain line is written when not on a terminal.
    public var plainInterval: Duration
    private var eta = ETAEstimator()
    private var lastPlain: ContinuousClock.Instant?

    public init(isTerminal: Bool, width: Int = 80, plainInterval: Duration = .seconds(5)) {
        self.isTerminal = isTerminal
        self.width = width
        self.plainInterval = plainInterval
    }

    /// What to write for this moment, or nil when nothing should be written (a plain line was
    /// written less than `plainInterval` ago). `fraction` is the progress towards the goal
    /// (nil when there is none: no bar, no ETA); `rate` is shown as-is with its unit.
    public mutating func render(fraction: Double?, rate: String, detail: String, now: ContinuousClock.Instant = .now) -> String? {
        var etaText = ""
        if let fraction {
            eta.sample(fraction, at: now)
            etaText = eta.remaining.map { "ETA \(Self.duration($0))" } ?? "ETA –"
        }
        let percent = fraction.map { String(format: "%3.0f%%", 100 * min(1, max(0, $0))) }
        if isTerminal {
            let head = [percent, rate, fraction == nil ? nil : etaText].compactMap { $0 }.joined(separator: "  ")
            // Fit the width by whole fields, never mid-number: the detail's last fields go
            // first (fields are separated by two spaces), then the bar.
            var fields = detail.components(separatedBy: "  ").filter { !$0.isEmpty }
            var withBar = fraction != nil
            while true {
                let tail = ([head] + fields).joined(separator: "  ")
                var line = tail
                if let fraction, withBar {
                    let barWidth = max(10, min(30, width - 1 - tail.count - 3))
                    let filled = Int((min(1, max(0, fraction)) * Double(barWidth)).rounded(.down))
                    line = "[" + String(repeating: "█", count: filled) + String(repeating: "░", count: barWidth - filled) + "] " + tail
                }
                if line.count <= width - 1 { return "\r\u{1B}[K" + line }
                if !fields.isEmpty { fields.removeLast() } else if withBar { withBar = false } else { return "\r\u{1B}[K" + String(line.prefix(width - 1)) }
            }
        }
        if let last = lastPlain, now - last < plainInterval { return nil }
        lastPlain = now
        return [percent, rate, fraction == nil ? nil : etaText, detail].compactMap { $0 }.joined(separator: "  ") + "\n"
    }

    /// "42 s", "3 min 05 s", "2 h 10 min".
    public static func duration(_ d: Duration) -> String {
        let s = Int(d.components.seconds)
        if s < 60 { return "\(s) s" }
        if s < 3600 { return String(format: "%d min %02d s", s / 60, s % 60) }
        return String(format: "%d h %02d min", s / 3600, (s % 3600) / 60)
    }
}

/// Progress towards a target return: the mean return's way from its first reported value
/// to the target (0 at the start, 1 at the target, never below 0).
public struct ReturnProgress: Sendable {
    public let target: Double
    private var start: Double?

    public init(target: Double) {
        self.target = target
    }

    /// nil until an episode has finished (`meanReturn` means nothing before).
    public mutating func fraction(meanReturn: Double, episodes: UInt64) -> Double? {
        guard episodes > 0 else { return nil }
        let from = start ?? meanReturn
        start = from
        return target == from ? 1 : max(0, (meanReturn - from) / (target - from))
    }
}

/// Time left to reach fraction 1, from the slope of the fraction over the last `window`.
/// nil while the fraction is not rising.
public struct ETAEstimator: Sendable {
    private var series: SlidingWindow

    public init(window: Duration = .seconds(10)) {
        series = SlidingWindow(window: window)
    }

    public mutating func sample(_ fraction: Double, at now: ContinuousClock.Instant) {
        series.sample(fraction, at: now)
    }

    public var remaining: Duration? {
        guard let last = series.last else { return nil }
        if last >= 1 { return .zero }
        guard let slope = series.slope, slope > 1e-9 else { return nil }
        let left = (1 - last) / slope
        guard left.isFinite, left < 1e7 else { return nil }
        return .milliseconds(Int64(left * 1000))
    }
}
