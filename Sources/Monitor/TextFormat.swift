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

    /// `s` cut or padded to a column of `width` characters (one space kept between columns).
    static func pad(_ s: String, _ width: Int) -> String {
        let cut = s.count >= width ? String(s.prefix(width - 1)) : s
        return cut.padding(toLength: width, withPad: " ", startingAt: 0)
    }
}
