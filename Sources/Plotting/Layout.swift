import Foundation

/// A point in image coordinates: pixels, origin top-left, y downwards.
public struct Point: Equatable, Sendable {
    public var x: Double, y: Double
    public init(_ x: Double, _ y: Double) { (self.x, self.y) = (x, y) }
}

/// One thing to draw, in image coordinates. Both backends draw exactly these.
public enum Mark: Sendable {
    /// A filled rectangle.
    case rect(x: Double, y: Double, width: Double, height: Double, fill: RGB)
    /// Connected runs of points (a gap between runs), stroked with round joins and caps;
    /// `dash` = (on, off) lengths; `series` names the line series it draws, if any.
    case path(runs: [[Point]], color: RGB, width: Double, dash: (on: Double, off: Double)?, series: String?)
    /// Text in the bitmap font: `origin` is the top-left of the first glyph's cell; vertical text
    /// reads bottom to top and `origin` is then its bottom-left.
    case text(String, origin: Point, scale: Int, color: RGB, vertical: Bool, bold: Bool = false)
}

/// The bitmap font's metrics, shared by layout and both backends.
public enum TextMetrics {
    /// A glyph is 5×9 cells (7 above the baseline, 2 below) advanced by 6.
    public static let advance = 6, glyphWidth = 5, capHeight = 7, descent = 2
    /// Width of `text` drawn at `scale`, without the space after the last glyph.
    public static func width(_ text: String, scale: Int) -> Double {
        text.isEmpty ? 0 : Double((text.count * advance - (advance - glyphWidth)) * scale)
    }
}

/// Nice axis ticks: steps of 1, 2 or 5 × 10^k, first tick ≤ the data's minimum, last ≥ its maximum.
public struct NiceScale: Equatable, Sendable {
    public var lower: Double, upper: Double, step: Double

    /// A scale over `[minimum, maximum]` with about `ticks` ticks. An empty or non-finite range
    /// becomes [0, 1]; a constant one is widened by 10 % of its value (by 1 around zero).
    public init(minimum: Double, maximum: Double, ticks: Int = 6) {
        var lo = minimum, hi = maximum
        if !lo.isFinite || !hi.isFinite || lo > hi { (lo, hi) = (0, 1) }
        if hi == lo {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            (lo, hi) = (lo - pad, hi + pad)
        }
        let step = NiceScale.niceStep((hi - lo) / Double(max(1, ticks - 1)))
        self.step = step
        self.lower = (lo / step).rounded(.down) * step
        self.upper = (hi / step).rounded(.up) * step
        if self.upper == self.lower { self.upper += step }
    }

    /// The nice number (1, 2 or 5 × 10^k) nearest `raw`.
    public static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let exponent = (log10(raw)).rounded(.down)
        let power = pow(10, exponent)
        let fraction = raw / power
        let nice: Double = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10
        return nice * power
    }

    /// The tick values from `lower` to `upper`.
    public var ticks: [Double] {
        let count = Int(((upper - lower) / step).rounded())
        return (0...count).map { NiceScale.clean(lower + Double($0) * step, step) }
    }

    /// `value` rounded to the step's precision (no 0.30000000000000004 in a label).
    static func clean(_ value: Double, _ step: Double) -> Double {
        let decimals = max(0, -Int(log10(step).rounded(.down)))
        let factor = pow(10, Double(min(decimals, 12)))
        let v = (value * factor).rounded() / factor
        return v == 0 ? 0 : v
    }

    /// Tick labels: "k" and "M" for large values, as many decimals as the step needs.
    public func label(_ value: Double) -> String {
        let magnitude = max(abs(lower), abs(upper))
        var divisor = 1.0, suffix = ""
        if magnitude >= 1e6 && step >= 1e4 { (divisor, suffix) = (1e6, "M") }
        else if magnitude >= 1e5 && step >= 100 { (divisor, suffix) = (1e3, "k") }
        let s = step / divisor
        let decimals = s >= 1 ? 0 : min(12, Int((-log10(s)).rounded(.up)))
        if value == 0 { return "0" }
        var text = String(format: "%.\(decimals)f", value / divisor)
        if text.hasPrefix("-"), Double(text) == 0 { text.removeFirst() }
        return text + suffix
    }
}

/// Where everything goes: computed once from a chart and an image size, drawn by both backends.
public struct ChartLayout: Sendable {
    public let width: Int, height: Int
    /// The plot area (inside the axes).
    public let plotLeft: Double, plotTop: Double, plotRight: Double, plotBottom: Double
    public let xScale: NiceScale, yScale: NiceScale
    public let background: RGB
    public let marks: [Mark]

    public static let padding = 12.0, tickLength = 5.0

    public init(_ chart: Chart, width: Int = 800, height: Int = 480) {
        let width = max(200, width), height = max(150, height)
        self.width = width
        self.height = height
        background = .white
        // Text size grows with the picture: 1 up to ~640 px wide, 2 from there.
        let s = width >= 640 && height >= 360 ? 2 : 1
        let titleScale = s + (width >= 1400 && height >= 360 ? 1 : 0)
        let lineHeight = Double(TextMetrics.capHeight * s)
        let pad = ChartLayout.padding, tick = ChartLayout.tickLength

        // Data ranges (finite values only; the reference line and the bars' base count).
        var xs: [Double] = [], ys: [Double] = []
        for line in chart.lines {
            for p in line.points where p.x.isFinite && p.y.isFinite { xs.append(p.x); ys.append(p.y) }
        }
        for series in chart.bars {
            for b in series.bars where b.start.isFinite && b.end.isFinite && b.height.isFinite {
                xs += [b.start, b.end]
                ys += [0, b.height]
            }
        }
        let hasData = !xs.isEmpty
        if hasData, let r = chart.reference, r.y.isFinite {
            // A little room around the reference line, so it never hides in the frame.
            let span = max(ys.max()!, r.y) - min(ys.min()!, r.y)
            ys += [r.y - 0.03 * span, r.y + 0.03 * span]
        }
        xScale = NiceScale(minimum: xs.min() ?? 0, maximum: xs.max() ?? 1, ticks: max(3, min(10, width / 120)))
        yScale = NiceScale(minimum: ys.min() ?? 0, maximum: ys.max() ?? 1, ticks: max(3, min(10, height / 70)))
        let xScale = self.xScale, yScale = self.yScale

        // Margins: title, legend and the top axis above; tick labels and axis label below and left.
        let legendItems = chart.lines.map { ($0.name, $0.color) } + chart.bars.map { ($0.name, $0.color) }
        let titleTop = pad
        let legendTop = titleTop + Double(TextMetrics.capHeight * titleScale) + 10
        var top = legendTop + (legendItems.isEmpty ? 0 : lineHeight + 12)
        let topAxis = chart.topAxis.flatMap { ChartLayout.secondaryTicks($0, xScale, count: max(3, min(10, width / 120))) }
        if topAxis != nil { top += lineHeight * 2 + tick + 16 }
        let yLabels = yScale.ticks.map { yScale.label($0) }
        let yLabelWidth = yLabels.map { TextMetrics.width($0, scale: s) }.max() ?? 0
        let left = (pad + lineHeight + 10 + yLabelWidth + 6 + tick).rounded()
        let xLabels = xScale.ticks.map { xScale.label($0) }
        let right = (Double(width) - max(pad + 8, TextMetrics.width(xLabels.last ?? "", scale: s) / 2 + pad)).rounded()
        let bottom = (Double(height) - (pad + lineHeight + 10 + lineHeight + 6 + tick)).rounded()
        top = top.rounded()
        (plotLeft, plotTop, plotRight, plotBottom) = (left, top, right, bottom)

        func mapX(_ v: Double) -> Double { left + (v - xScale.lower) / (xScale.upper - xScale.lower) * (right - left) }
        func mapY(_ v: Double) -> Double { bottom - (v - yScale.lower) / (yScale.upper - yScale.lower) * (bottom - top) }
        // 1-px lines sit on pixel centres so both backends draw them crisp.
        func crisp(_ v: Double) -> Double { v.rounded(.down) + 0.5 }

        var marks: [Mark] = [.rect(x: 0, y: 0, width: Double(width), height: Double(height), fill: background)]
        // Grid.
        for t in xScale.ticks {
            let x = crisp(mapX(t))
            marks.append(.path(runs: [[Point(x, top), Point(x, bottom)]], color: .grid, width: 1, dash: nil, series: nil))
        }
        for t in yScale.ticks {
            let y = crisp(mapY(t))
            marks.append(.path(runs: [[Point(left, y), Point(right, y)]], color: .grid, width: 1, dash: nil, series: nil))
        }
        // Bars.
        for series in chart.bars {
            for b in series.bars where b.start.isFinite && b.end.isFinite && b.height.isFinite {
                let x0 = mapX(min(b.start, b.end)).rounded(), x1 = mapX(max(b.start, b.end)).rounded()
                let y0 = mapY(max(0, b.height)).rounded(), y1 = mapY(min(0, b.height)).rounded()
                marks.append(.rect(x: x0, y: y0, width: max(1, x1 - x0 - 1), height: max(1, y1 - y0), fill: series.color))
            }
        }
        // Reference line, labelled at its right end.
        if hasData, let r = chart.reference, r.y.isFinite {
            let y = mapY(r.y)
            marks.append(.path(runs: [[Point(left, y), Point(right, y)]], color: r.color, width: 2, dash: (8, 6), series: nil))
            // Labelled at the left end: learning curves start far from their target.
            let labelY = y - lineHeight - 6 < top ? y + 6 : y - lineHeight - 6
            marks.append(.text(r.label, origin: Point(left + 8, labelY.rounded()), scale: s, color: r.color, vertical: false))
        }
        // Series: one path each, split where a value is missing.
        for line in chart.lines {
            var runs: [[Point]] = [], run: [Point] = []
            for p in line.points {
                if p.x.isFinite && p.y.isFinite {
                    run.append(Point(mapX(p.x), mapY(p.y)))
                } else if !run.isEmpty {
                    runs.append(run)
                    run = []
                }
            }
            if !run.isEmpty { runs.append(run) }
            marks.append(.path(runs: runs, color: line.color, width: line.width, dash: nil, series: line.name))
            // A point with no neighbour (a single record, or one between gaps) gets a dot big
            // enough to see.
            let isolated = runs.filter { $0.count == 1 }
            if !isolated.isEmpty {
                marks.append(.path(runs: isolated, color: line.color, width: max(7, 2 * line.width), dash: nil, series: nil))
            }
        }
        // Axes (a frame) and ticks.
        let frameL = crisp(left) - 1, frameR = crisp(right), frameT = crisp(top) - 1, frameB = crisp(bottom)
        marks.append(.path(runs: [[Point(frameL, frameT), Point(frameR, frameT), Point(frameR, frameB), Point(frameL, frameB), Point(frameL, frameT)]],
                           color: .axis, width: 1, dash: nil, series: nil))
        for (t, label) in zip(xScale.ticks, xLabels) {
            let x = crisp(mapX(t))
            marks.append(.path(runs: [[Point(x, frameB), Point(x, frameB + tick)]], color: .axis, width: 1, dash: nil, series: nil))
            let w = TextMetrics.width(label, scale: s)
            marks.append(.text(label, origin: Point((x - w / 2).rounded(), frameB + tick + 5), scale: s, color: .text, vertical: false))
        }
        for (t, label) in zip(yScale.ticks, yLabels) {
            let y = crisp(mapY(t))
            marks.append(.path(runs: [[Point(frameL - tick, y), Point(frameL, y)]], color: .axis, width: 1, dash: nil, series: nil))
            let w = TextMetrics.width(label, scale: s)
            marks.append(.text(label, origin: Point((frameL - tick - 5 - w).rounded(), (y - lineHeight / 2).rounded()), scale: s, color: .text, vertical: false))
        }
        // Axis labels.
        let xw = TextMetrics.width(chart.xLabel, scale: s)
        marks.append(.text(chart.xLabel, origin: Point(((left + right - xw) / 2).rounded(), Double(height) - pad - lineHeight), scale: s, color: .text, vertical: false))
        let yLabelScale = ChartLayout.fit(chart.yLabel, scale: s, within: bottom - top)
        let yw = TextMetrics.width(chart.yLabel, scale: yLabelScale)
        marks.append(.text(chart.yLabel, origin: Point(pad, ((top + bottom + yw) / 2).rounded()), scale: yLabelScale, color: .text, vertical: true))
        // Secondary x axis along the top.
        if let axis = chart.topAxis, let (scale, ticks) = topAxis {
            // Its ticks are not evenly spaced (steps per second vary), so a label that would
            // touch the previous one is left out; its tick mark stays.
            var lastRight = -Double.infinity
            for (value, at) in ticks where at >= xScale.lower && at <= xScale.upper {
                let x = crisp(mapX(at))
                marks.append(.path(runs: [[Point(x, frameT - tick), Point(x, frameT)]], color: .axis, width: 1, dash: nil, series: nil))
                let label = scale.label(value)
                let w = TextMetrics.width(label, scale: s)
                guard x - w / 2 >= lastRight + Double(2 * TextMetrics.advance * s) else { continue }
                lastRight = x + w / 2
                marks.append(.text(label, origin: Point((x - w / 2).rounded(), frameT - tick - 5 - lineHeight), scale: s, color: .text, vertical: false))
            }
            let w = TextMetrics.width(axis.label, scale: s)
            marks.append(.text(axis.label, origin: Point(((left + right - w) / 2).rounded(), frameT - tick - 5 - lineHeight - 8 - lineHeight),
                               scale: s, color: .text, vertical: false))
        }
        // Title (left) and legend (right-aligned under it).
        marks.append(.text(chart.title, origin: Point(left, titleTop), scale: ChartLayout.fit(chart.title, scale: titleScale, within: Double(width) - left - pad),
                           color: .black, vertical: false, bold: true))
        if !legendItems.isEmpty {
            let swatch = 18.0, gap = 6.0, between = 18.0
            var x = right
            for (name, color) in legendItems.reversed() {
                let w = TextMetrics.width(name, scale: s)
                x -= w
                marks.append(.text(name, origin: Point(x, legendTop), scale: s, color: .text, vertical: false))
                x -= gap + swatch
                let y = legendTop + lineHeight / 2
                marks.append(.path(runs: [[Point(x, y), Point(x + swatch, y)]], color: color, width: 3, dash: nil, series: nil))
                x -= between
            }
        }
        if !hasData {
            let w = TextMetrics.width(chart.emptyMessage, scale: s)
            marks.append(.text(chart.emptyMessage, origin: Point(((left + right - w) / 2).rounded(), ((top + bottom - lineHeight) / 2).rounded()),
                               scale: s, color: .axis, vertical: false))
        }
        self.marks = marks
    }

    /// The largest scale up to `scale` at which `text` fits in `room` pixels (at least 1).
    static func fit(_ text: String, scale: Int, within room: Double) -> Int {
        var s = scale
        while s > 1 && TextMetrics.width(text, scale: s) > room { s -= 1 }
        return s
    }

    /// Nice ticks of a secondary axis and where (in primary units) each falls, by linear
    /// interpolation between the given pairs.
    static func secondaryTicks(_ axis: SecondaryXAxis, _ primary: NiceScale, count: Int) -> (NiceScale, [(Double, Double)])? {
        let pairs = axis.pairs.filter { $0.primary.isFinite && $0.secondary.isFinite }.sorted { $0.primary < $1.primary }
        guard let first = pairs.first, let last = pairs.last, last.secondary > first.secondary else { return nil }
        let scale = NiceScale(minimum: first.secondary, maximum: last.secondary, ticks: count)
        var out: [(Double, Double)] = []
        var i = 0
        for t in scale.ticks where t >= first.secondary && t <= last.secondary {
            while i + 1 < pairs.count && pairs[i + 1].secondary < t { i += 1 }
            let a = pairs[i], b = pairs[min(i + 1, pairs.count - 1)]
            let span = b.secondary - a.secondary
            let at = span > 0 ? a.primary + (t - a.secondary) / span * (b.primary - a.primary) : a.primary
            out.append((t, at))
        }
        return (scale, out)
    }
}
