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

    /// `s` cut or padded to a column of `width` characters (one space kept between columns).
    static func pad(_ s: String, _ width: Int) -> String {
        let cut = s.count >= width ? String(s.prefix(width - 1)) : s
        return cut.padding(toLength: width, withPad: " ", startingAt: 0)
    }
}
