/// Small text helpers shared by the CLI's views.
enum TextFormat {
    /// 1234567 → "1,234,567".
    static func group(_ v: UInt64) -> String {
        let s = String(v)
        var out = ""
        for (i, c) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }

    /// A mean return: one decimal (CartPole's 487.3), three below 10 (a success rate's 0.953).
    static func score(_ v: Double) -> String { String(format: abs(v) < 10 ? "%.3f" : "%.1f", v) }

    /// 3_500_000 → "3.3 MiB": bytes in binary units, one decimal above KiB.
    static func bytes(_ v: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(v)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(v) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// `s` cut or padded to a column of `width` characters (one space kept between columns;
    /// `right`: aligned right, for numbers, with the space on the right still).
    static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let cut = s.count >= width ? String(s.prefix(width - 1)) : s
        if right { return String(repeating: " ", count: width - 1 - cut.count) + cut + " " }
        return cut.padding(toLength: width, withPad: " ", startingAt: 0)
    }

    /// A line cut to `width` characters, with "…" where it was cut.
    static func fit(_ line: String, _ width: Int) -> String {
        line.count > width ? String(line.prefix(width - 1)) + "…" : line
    }

    /// 1_234_567 → "1.23M", 45_678 → "46k", 123.4 → "123.4": a rate in at most 6 characters.
    static func rate(_ r: Double) -> String {
        if r >= 1e6 { return String(format: "%.2fM", r / 1e6) }
        if r >= 1e4 { return String(format: "%.0fk", r / 1e3) }
        return String(format: "%.1f", r)
    }

    /// How long ago, in milliseconds, in at most 5 characters: "12ms", "3s", "5min", "26h".
    static func age(_ ms: UInt64) -> String {
        if ms < 1000 { return "\(ms)ms" }
        if ms < 120_000 { return "\(ms / 1000)s" }
        if ms < 120 * 60_000 { return "\(ms / 60_000)min" }
        return "\(ms / 3_600_000)h"
    }
}
