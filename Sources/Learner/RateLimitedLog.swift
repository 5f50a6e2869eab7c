import Logging

/// Logs bad input at a bounded rate: at most `burst` lines per reason per window, then one
/// line saying how many were suppressed. A flood of garbage cannot flood the log.
struct RateLimitedLog {
    var window: Duration = .seconds(10)
    var burst = 5
    private var counts: [String: (start: ContinuousClock.Instant, logged: Int, suppressed: Int)] = [:]

    mutating func warning(_ logger: Logger, reason: String, _ message: @autoclosure () -> String, now: ContinuousClock.Instant) {
        log(logger, .warning, reason: reason, message(), now: now)
    }

    mutating func info(_ logger: Logger, reason: String, _ message: @autoclosure () -> String, now: ContinuousClock.Instant) {
        log(logger, .info, reason: reason, message(), now: now)
    }

    private mutating func log(_ logger: Logger, _ level: Logger.Level, reason: String, _ message: @autoclosure () -> String,
                              now: ContinuousClock.Instant) {
        var entry = counts[reason] ?? (now, 0, 0)
        if now - entry.start > window {
            if entry.suppressed > 0 {
                logger.log(level: level, "\(entry.suppressed) more '\(reason)' messages suppressed in the last \(window)")
            }
            entry = (now, 0, 0)
        }
        if entry.logged < burst {
            entry.logged += 1
            logger.log(level: level, "\(message())")
        } else {
            entry.suppressed += 1
        }
        counts[reason] = entry
    }
}
