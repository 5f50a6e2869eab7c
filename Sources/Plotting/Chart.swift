/// A chart as data: what to draw, not how. `ChartLayout` turns it into pixel positions once;
/// `SVGWriter` and `RasterRenderer` draw those same positions, so the two outputs match.

/// An 8-bit sRGB colour.
public struct RGB: Hashable, Sendable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { (self.r, self.g, self.b) = (r, g, b) }

    /// `#rrggbb`, for SVG.
    public var hex: String {
        func two(_ v: UInt8) -> String { let s = String(v, radix: 16); return s.count == 1 ? "0" + s : s }
        return "#" + two(r) + two(g) + two(b)
    }

    public static let white = RGB(255, 255, 255)
    public static let black = RGB(0, 0, 0)
    public static let axis = RGB(60, 60, 60)
    public static let grid = RGB(225, 225, 225)
    public static let text = RGB(30, 30, 30)
    /// Distinct line colours (Tableau 10's first five), in the order series take them.
    public static let palette = [RGB(31, 119, 180), RGB(255, 127, 14), RGB(44, 160, 44), RGB(214, 39, 40), RGB(148, 103, 189)]
}

/// One line: points joined in order. Points with a non-finite coordinate are skipped and break
/// the line there (a null in the data is a gap, not a drop to zero).
public struct LineSeries: Sendable {
    public var name: String
    public var color: RGB
    public var width: Double
    public var points: [(x: Double, y: Double)]

    public init(name: String, color: RGB, width: Double = 2, points: [(x: Double, y: Double)]) {
        self.name = name
        self.color = color
        self.width = max(2, width)
        self.points = points
    }

    public init(name: String, color: RGB, width: Double = 2, x: [Double], y: [Double]) {
        self.init(name: name, color: color, width: width, points: Array(zip(x, y)).map { (x: $0.0, y: $0.1) })
    }
}

/// A histogram: bars from `start` to `end` on x, from 0 to `height` on y.
public struct BarSeries: Sendable {
    public var name: String
    public var color: RGB
    public var bars: [(start: Double, end: Double, height: Double)]

    public init(name: String, color: RGB, bars: [(start: Double, end: Double, height: Double)]) {
        self.name = name
        self.color = color
        self.bars = bars
    }
}

/// A horizontal line across the plot at `y` (a target return, say), dashed, with a label.
public struct ReferenceLine: Sendable {
    public var y: Double
    public var label: String
    public var color: RGB

    public init(y: Double, label: String, color: RGB = RGB(120, 120, 120)) {
        self.y = y
        self.label = label
        self.color = color
    }
}

/// A second x axis along the top, for a quantity that grows with the first (env steps against
/// seconds): `pairs` are (primary x, secondary x), increasing in both; ticks are nice values of
/// the secondary quantity placed where it reaches them.
public struct SecondaryXAxis: Sendable {
    public var label: String
    public var pairs: [(primary: Double, secondary: Double)]

    public init(label: String, pairs: [(primary: Double, secondary: Double)]) {
        self.label = label
        self.pairs = pairs
    }
}

public struct Chart: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var lines: [LineSeries]
    public var bars: [BarSeries]
    public var reference: ReferenceLine?
    public var topAxis: SecondaryXAxis?
    /// Shown in the plot area when there is nothing to draw.
    public var emptyMessage = "no data"

    public init(title: String, xLabel: String, yLabel: String, lines: [LineSeries] = [], bars: [BarSeries] = [],
                reference: ReferenceLine? = nil, topAxis: SecondaryXAxis? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.lines = lines
        self.bars = bars
        self.reference = reference
        self.topAxis = topAxis
    }

    /// Both files of a chart: `<base>.svg` and `<base>.png`.
    public func render(width: Int, height: Int) -> (svg: String, png: [UInt8]) {
        let layout = ChartLayout(self, width: width, height: height)
        return (SVGWriter.write(layout), PNGEncoder.encode(RasterRenderer.draw(layout)))
    }
}
