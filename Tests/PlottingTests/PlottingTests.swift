import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Plotting
import Testing

/// A PNG taken apart by the test itself: chunks with their CRCs checked by a CRC-32 written
/// here (not zlib's), IHDR read, IDAT inflated, pixels unfiltered (filter type 0 only).
struct DecodedPNG {
    var width = 0, height = 0, colourType: UInt8 = 0
    var chunkTypes: [String] = []
    var raw: [UInt8] = []
    var palette: [RGB] = []

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    init(_ png: [UInt8]) throws {
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        func u32(_ at: Int) -> UInt32 { png[at..<(at + 4)].reduce(0) { $0 << 8 | UInt32($1) } }
        var at = 8, idat: [UInt8] = []
        while at + 12 <= png.count {
            let length = Int(u32(at))
            let typed = Array(png[(at + 4)..<(at + 8 + length)])
            let type = String(decoding: typed.prefix(4), as: UTF8.self)
            let data = Array(typed.dropFirst(4))
            #expect(u32(at + 8 + length) == Self.crc32(typed), "CRC of \(type)")
            chunkTypes.append(type)
            switch type {
            case "IHDR":
                width = Int(data[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                height = Int(data[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                #expect(data[8] == 8)  // bit depth
                colourType = data[9]
            case "PLTE": palette = stride(from: 0, to: data.count, by: 3).map { RGB(data[$0], data[$0 + 1], data[$0 + 2]) }
            case "IDAT": idat += data
            default: break
            }
            at += 12 + length
        }
        #expect(at == png.count, "no bytes after IEND")
        let bytesPerPixel = colourType == 3 ? 1 : 3
        guard let inflated = Zlib.uncompress(idat, expectedSize: height * (1 + bytesPerPixel * width)) else {
            throw TestFailure("IDAT does not inflate to height × (1 + \(bytesPerPixel)·width) bytes")
        }
        raw = inflated
    }

    func pixel(_ x: Int, _ y: Int) -> RGB {
        if colourType == 3 {
            let row = y * (1 + width)
            #expect(raw[row] == 0)
            return palette[Int(raw[row + 1 + x])]
        }
        let row = y * (1 + 3 * width)
        #expect(raw[row] == 0)
        let i = row + 1 + 3 * x
        return RGB(raw[i], raw[i + 1], raw[i + 2])
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Counts the SVG's elements by name and the series paths, with Foundation's XML parser.
final class SVGCounter: NSObject, XMLParserDelegate {
    var elements: [String: Int] = [:]
    var seriesPaths: [String] = []
    var texts: [String] = []
    private var inText = false

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        elements[name, default: 0] += 1
        if name == "path", attributes["class"] == "series" { seriesPaths.append(attributes["data-series"] ?? "") }
        if name == "text" { inText = true; texts.append("") }
    }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text" { inText = false }
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if inText { texts[texts.count - 1] += string }
    }

    static func parse(_ svg: String) throws -> SVGCounter {
        let counter = SVGCounter()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = counter
        guard parser.parse() else { throw TestFailure("SVG is not well-formed XML: \(String(describing: parser.parserError))") }
        return counter
    }
}

@Suite struct NiceScaleTests {
    @Test(arguments: [(0.0, 1.0), (0.139, 9.56), (-1270.7, -216.5), (80943.0, 878658.0), (2.0, 9.0), (0.0001, 0.00037),
                      (-3.0, 1e7), (1e-9, 2e-9), (5.0, 5.0), (0.0, 0.0), (-7.0, -7.0), (0.0, 8200.0), (17.0, 17.5)])
    func ticksAreNiceAndCoverTheData(range: (Double, Double)) {
        for count in [3, 5, 6, 10] {
            let scale = NiceScale(minimum: range.0, maximum: range.1, ticks: count)
            let exponent = log10(scale.step).rounded(.down)
            let mantissa = scale.step / pow(10, exponent)
            #expect([1.0, 2.0, 5.0].contains { abs(mantissa - $0) < 1e-9 }, "step \(scale.step)")
            let ticks = scale.ticks
            #expect(ticks.first! <= range.0 && ticks.last! >= range.1, "\(ticks) covers \(range)")
            #expect(ticks.last! > ticks.first!, "a non-zero range even for constant data")
            #expect(ticks.count >= 2 && ticks.count <= 2 * count + 1, "\(ticks.count) ticks for \(count)")
            for t in ticks {  // every tick a whole multiple of the step
                let k = t / scale.step
                #expect(abs(k - k.rounded()) < 1e-6, "\(t) on a \(scale.step) grid")
            }
        }
    }

    @Test func nonFiniteRangesFallBackToUnit() {
        let s = NiceScale(minimum: .nan, maximum: .infinity)
        #expect(s.lower == 0 && s.upper == 1)
    }

    @Test func labelsUseSuffixesAndTheStepsPrecision() {
        let sps = NiceScale(minimum: 0, maximum: 878_658, ticks: 6)
        #expect(sps.ticks.map { sps.label($0) } == ["0", "0.2M", "0.4M", "0.6M", "0.8M", "1.0M"])
        let small = NiceScale(minimum: 0, maximum: 1, ticks: 6)
        #expect(small.ticks.map { small.label($0) } == ["0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let negative = NiceScale(minimum: -1270, maximum: -216, ticks: 6)
        #expect(negative.label(-1200) == "-1200")
        let updates = NiceScale(minimum: 0, maximum: 8200, ticks: 6)
        #expect(updates.label(2000) == "2000")
        let steps = NiceScale(minimum: 0, maximum: 84_000, ticks: 6)
        #expect(steps.label(20_000) == "20k")
    }
}

@Suite struct RenderingTests {
    static let blue = RGB(31, 119, 180), red = RGB(214, 39, 40)

    /// A chart whose line crosses the middle of the plot horizontally at y = 5.
    static func flatLine() -> Chart {
        Chart(title: "Flat", xLabel: "x", yLabel: "y",
              lines: [LineSeries(name: "flat", color: blue, width: 3, x: [0, 10], y: [5, 5]),
                      LineSeries(name: "rise", color: red, x: [0, 10], y: [0, 10])])
    }

    static func pixel(of value: (x: Double, y: Double), in layout: ChartLayout) -> (Int, Int) {
        let x = layout.plotLeft + (value.x - layout.xScale.lower) / (layout.xScale.upper - layout.xScale.lower) * (layout.plotRight - layout.plotLeft)
        let y = layout.plotBottom - (value.y - layout.yScale.lower) / (layout.yScale.upper - layout.yScale.lower) * (layout.plotBottom - layout.plotTop)
        return (Int(x), Int(y))
    }

    @Test(arguments: [true, false])
    func pngIsValidAndShowsTheSeries(palette: Bool) throws {
        let layout = ChartLayout(Self.flatLine(), width: 640, height: 400)
        let canvas = RasterRenderer.draw(layout)
        let png = try DecodedPNG(PNGEncoder.encode(canvas, allowPalette: palette))
        #expect(png.chunkTypes.first == "IHDR" && png.chunkTypes.last == "IEND" && png.chunkTypes.contains("IDAT"))
        #expect(png.width == 640 && png.height == 400)
        #expect(png.colourType == (palette ? 3 : 2))
        #expect(png.chunkTypes.contains("PLTE") == palette)
        #expect(png.pixel(0, 0) == .white)
        #expect(png.pixel(639, 399) == .white)
        // On the flat line, a quarter of the way along (away from the rising one).
        let (x, y) = Self.pixel(of: (2.5, 5), in: layout)
        #expect(png.pixel(x, y) == Self.blue)
        #expect(png.pixel(x, y - 1) == Self.blue || png.pixel(x, y + 1) == Self.blue, "at least 2 px wide")
        let (rx, ry) = Self.pixel(of: (7.5, 7.5), in: layout)
        #expect(png.pixel(rx, ry) == Self.red)
        // The whole picture survives the round trip.
        for (py, px) in [(10, 10), (y, x), (200, 320), (399, 0)] { #expect(png.pixel(px, py) == canvas[px, py]) }
    }

    @Test func svgIsXMLWithOnePathPerSeriesAndTheSameLayout() throws {
        let chart = Self.flatLine()
        let layout = ChartLayout(chart, width: 800, height: 480)
        let svg = SVGWriter.write(layout)
        let parsed = try SVGCounter.parse(svg)
        #expect(parsed.seriesPaths == ["flat", "rise"])
        #expect(parsed.elements["svg"] == 1)
        #expect(parsed.texts.contains("Flat") && parsed.texts.contains("flat") && parsed.texts.contains("rise"))
        #expect(svg.contains("width=\"800\" height=\"480\""))
        // The series' coordinates in the SVG are the layout's, which the raster backend draws.
        let (x0, y0) = (layout.plotLeft, layout.plotBottom - (5 - layout.yScale.lower) / (layout.yScale.upper - layout.yScale.lower) * (layout.plotBottom - layout.plotTop))
        #expect(svg.contains("M\(SVGWriter.n(x0)),\(SVGWriter.n(y0)) L"))
    }

    @Test func gapsSinglePointsConstantAndEmptySeriesAreHandled() throws {
        let chart = Chart(title: "Edge cases & <escapes>", xLabel: "x", yLabel: "y", lines: [
            LineSeries(name: "gappy", color: Self.blue, x: [0, 1, 2, 3, 4, 5], y: [1, 2, .nan, 4, .infinity, 6]),
            LineSeries(name: "dot", color: Self.red, x: [2], y: [3]),
            LineSeries(name: "empty", color: .black, points: []),
        ])
        let layout = ChartLayout(chart)
        var runs: [String: [[Point]]] = [:]
        for case .path(let r, _, _, _, let series?) in layout.marks { runs[series] = r }
        #expect(runs["gappy"]?.map(\.count) == [2, 1, 1])
        #expect(runs["dot"]?.map(\.count) == [1])
        #expect(runs["empty"]?.isEmpty == true)
        let parsed = try SVGCounter.parse(SVGWriter.write(layout))
        #expect(parsed.seriesPaths == ["gappy", "dot", "empty"])
        #expect(parsed.texts.contains("Edge cases & <escapes>"))
        // The single point is drawn (as a dot).
        let canvas = RasterRenderer.draw(layout)
        let (x, y) = Self.pixel(of: (2, 3), in: layout)
        #expect(canvas[x, y] == Self.red)
        #expect(canvas[x + 3, y] == Self.red && canvas[x, y - 3] == Self.red, "a dot you can see, not a 2-px speck")

        let constant = ChartLayout(Chart(title: "c", xLabel: "x", yLabel: "y",
                                         lines: [LineSeries(name: "c", color: Self.blue, x: [0, 1, 2], y: [6, 6, 6])]))
        #expect(constant.yScale.lower < 6 && constant.yScale.upper > 6)

        let nothing = ChartLayout(Chart(title: "nothing", xLabel: "x", yLabel: "y",
                                        lines: [LineSeries(name: "all null", color: Self.blue, x: [0, 1], y: [.nan, .nan])]))
        #expect(nothing.marks.contains { if case .text("no data", _, _, _, _, _) = $0 { true } else { false } })
        _ = try DecodedPNG(PNGEncoder.encode(RasterRenderer.draw(nothing)))
        _ = try SVGCounter.parse(SVGWriter.write(nothing))
    }

    @Test func barsAndTheReferenceLineAreDrawnAndCounted() throws {
        let green = RGB(44, 160, 44)
        var chart = Chart(title: "Histogram", xLabel: "lag", yLabel: "samples",
                          bars: [BarSeries(name: "trained", color: green, bars: [(0, 1, 10), (1, 2, 40), (2, 3, 5)])])
        chart.reference = ReferenceLine(y: 50, label: "cap 50")
        let layout = ChartLayout(chart)
        #expect(layout.yScale.lower <= 0 && layout.yScale.upper >= 50, "bars stand on 0; the reference line is in range")
        let canvas = RasterRenderer.draw(layout)
        let (x, y) = Self.pixel(of: (1.5, 20), in: layout)
        #expect(canvas[x, y] == green)
        let parsed = try SVGCounter.parse(SVGWriter.write(layout))
        #expect(parsed.elements["rect"] == 1 + 3, "background and three bars")
        #expect(parsed.texts.contains("cap 50"))
    }

    @Test func secondaryAxisTicksSitWhereTheSecondQuantityReachesThem() {
        var chart = Chart(title: "t", xLabel: "time (s)", yLabel: "r",
                          lines: [LineSeries(name: "r", color: Self.blue, x: [0, 10], y: [0, 1])])
        chart.topAxis = SecondaryXAxis(label: "env steps", pairs: [(0, 0), (5, 1_000_000), (10, 4_000_000)])
        let primary = NiceScale(minimum: 0, maximum: 10, ticks: 6)
        let (scale, ticks) = ChartLayout.secondaryTicks(chart.topAxis!, primary, count: 6)!
        #expect(scale.step == 1_000_000)
        let at = Dictionary(uniqueKeysWithValues: ticks.map { ($0.0, $0.1) })
        #expect(at[1_000_000] == 5)
        #expect(abs(at[2_000_000]! - 5 - 5.0 / 3) < 1e-9)
        #expect(at[4_000_000] == 10)
        let layout = ChartLayout(chart)
        #expect(layout.marks.contains { if case .text("env steps", _, _, _, _, _) = $0 { true } else { false } })
    }
}

@Suite struct FontTests {
    @Test func everyPrintableASCIICharacterHasItsOwnGlyph() {
        #expect(BitmapFont.glyphs.count == 95)
        var seen: [[UInt8]: Character] = [:]
        for code in 33...126 {
            let c = Character(UnicodeScalar(UInt8(code)))
            let g = BitmapFont.glyph(c)
            #expect(g.count >= 3 && g.count <= 9, "\(c): \(g.count) rows")
            #expect(g.allSatisfy { $0 < 32 }, "\(c): five cells a row")
            #expect(g.contains { $0 != 0 }, "\(c) draws something")
            #expect(seen[g] == nil, "\(c) looks like \(seen[g].map(String.init) ?? "")")
            seen[g] = c
        }
        #expect(BitmapFont.glyph(" ").allSatisfy { $0 == 0 })
        #expect(BitmapFont.glyph("—") == BitmapFont.glyph("-"))
        #expect(BitmapFont.glyph("é") == BitmapFont.glyph("?"))
    }

    @Test func textIsDrawnScaledWhereTheLayoutSaysAndVerticalTextReadsUpwards() {
        var canvas = Canvas(width: 40, height: 40)
        canvas.text("L", origin: Point(2, 3), scale: 2, color: .black)
        // "L": the left column is on for 7 rows, the bottom row for 5 cells.
        #expect(canvas[2, 3] == .black && canvas[3, 4] == .black && canvas[2, 3 + 13] == .black)
        #expect(canvas[2 + 9, 3 + 13] == .black && canvas[2 + 10, 3 + 13] == .white)
        #expect(canvas[4, 3] == .white)
        var rotated = Canvas(width: 40, height: 40)
        rotated.text("L", origin: Point(5, 30), scale: 1, color: .black, vertical: true)
        // Reading upwards: the glyph's left column becomes the line just above the origin.
        for u in 0..<7 { #expect(rotated[5 + u, 29] == .black) }
        #expect(rotated[5 + 6, 29 - 4] == .black)  // the foot of the L
        #expect(rotated[5, 28] == .white)
        #expect(TextMetrics.width("abc", scale: 2) == 34)
    }
}
