/// An RGB pixel canvas: row-major, 3 bytes a pixel, origin top-left.
public struct Canvas: Sendable {
    public let width: Int, height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, background: RGB = .white) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            pixels[3 * i] = background.r
            pixels[3 * i + 1] = background.g
            pixels[3 * i + 2] = background.b
        }
    }

    public subscript(x: Int, y: Int) -> RGB {
        get {
            let i = 3 * (y * width + x)
            return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            let i = 3 * (y * width + x)
            pixels[i] = newValue.r
            pixels[i + 1] = newValue.g
            pixels[i + 2] = newValue.b
        }
    }

    /// Pixels whose centres lie inside [x, x+w) × [y, y+h).
    public mutating func fill(x: Double, y: Double, width w: Double, height h: Double, color: RGB) {
        let x0 = max(0, Int((x - 0.5).rounded(.up))), x1 = min(width - 1, Int((x + w - 0.5).rounded(.up)) - 1)
        let y0 = max(0, Int((y - 0.5).rounded(.up))), y1 = min(height - 1, Int((y + h - 0.5).rounded(.up)) - 1)
        guard x0 <= x1, y0 <= y1 else { return }
        for py in y0...y1 { for px in x0...x1 { self[px, py] = color } }
    }

    /// A stroked polyline: every pixel whose centre is within `width / 2` of a segment (round
    /// joins and caps, as SVG's `stroke-linejoin="round"`). `dash` measures along the line.
    public mutating func stroke(_ run: [Point], color: RGB, width: Double, dash: (on: Double, off: Double)? = nil) {
        guard !run.isEmpty else { return }
        let points = run.count == 1 ? [run[0], run[0]] : run
        let r = width / 2
        var travelled = 0.0
        for k in 0..<(points.count - 1) {
            let a = points[k], b = points[k + 1]
            let dx = b.x - a.x, dy = b.y - a.y
            let length2 = dx * dx + dy * dy
            let length = length2.squareRoot()
            let x0 = max(0, Int((min(a.x, b.x) - r - 1).rounded(.down))), x1 = min(self.width - 1, Int((max(a.x, b.x) + r + 1).rounded(.up)))
            let y0 = max(0, Int((min(a.y, b.y) - r - 1).rounded(.down))), y1 = min(height - 1, Int((max(a.y, b.y) + r + 1).rounded(.up)))
            if x0 <= x1 && y0 <= y1 {
                for py in y0...y1 {
                    for px in x0...x1 {
                        let cx = Double(px) + 0.5, cy = Double(py) + 0.5
                        var t = length2 > 0 ? ((cx - a.x) * dx + (cy - a.y) * dy) / length2 : 0
                        t = min(1, max(0, t))
                        let ex = cx - (a.x + t * dx), ey = cy - (a.y + t * dy)
                        guard ex * ex + ey * ey <= r * r + 1e-9 else { continue }
                        if let dash {
                            let along = (travelled + t * length).truncatingRemainder(dividingBy: dash.on + dash.off)
                            guard along < dash.on else { continue }
                        }
                        self[px, py] = color
                    }
                }
            }
            travelled += length
        }
    }

    /// Text in the embedded bitmap font, each font cell a `scale`×`scale` block; `origin` is the
    /// top-left of the first cell, or with `vertical` (reading upwards) its bottom-left.
    public mutating func text(_ string: String, origin: Point, scale: Int, color: RGB, vertical: Bool = false) {
        let ox = Int(origin.x.rounded()), oy = Int(origin.y.rounded())
        for (index, character) in string.enumerated() {
            let glyph = BitmapFont.glyph(character)
            for (row, bits) in glyph.enumerated() {
                for column in 0..<TextMetrics.glyphWidth where bits & (1 << (TextMetrics.glyphWidth - 1 - column)) != 0 {
                    let u = (index * TextMetrics.advance + column) * scale, v = row * scale
                    for i in 0..<scale {
                        for j in 0..<scale {
                            if vertical {
                                self[ox + v + j, oy - u - i - 1] = color
                            } else {
                                self[ox + u + i, oy + v + j] = color
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Draws a chart layout's marks on a canvas.
public enum RasterRenderer {
    public static func draw(_ layout: ChartLayout) -> Canvas {
        var canvas = Canvas(width: layout.width, height: layout.height, background: layout.background)
        for mark in layout.marks {
            switch mark {
            case .rect(let x, let y, let w, let h, let fill):
                canvas.fill(x: x, y: y, width: w, height: h, color: fill)
            case .path(let runs, let color, let width, let dash, _):
                for run in runs { canvas.stroke(run, color: color, width: width, dash: dash) }
            case .text(let text, let origin, let scale, let color, let vertical, let bold):
                canvas.text(text, origin: origin, scale: scale, color: color, vertical: vertical)
                // Bold: the same glyphs once more, a pixel to the right.
                if bold { canvas.text(text, origin: Point(origin.x + 1, origin.y), scale: scale, color: color, vertical: vertical) }
            }
        }
        return canvas
    }
}
