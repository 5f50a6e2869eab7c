import Foundation

/// A chart layout as an SVG document. Coordinates are the layout's pixels (viewBox = image size);
/// text uses a monospace font stretched (`textLength`) to the bitmap font's exact width, so
/// labels occupy the same boxes as in the PNG.
public enum SVGWriter {
    public static func write(_ layout: ChartLayout) -> String {
        var out = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(layout.width)" height="\(layout.height)" \
        viewBox="0 0 \(layout.width) \(layout.height)" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">

        """
        for mark in layout.marks {
            switch mark {
            case .rect(let x, let y, let w, let h, let fill):
                out += "<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(w))\" height=\"\(n(h))\" fill=\"\(fill.hex)\"/>\n"
            case .path(let runs, let color, let width, let dash, let series):
                let d = runs.filter { !$0.isEmpty }.map { run -> String in
                    // A single point is drawn as a dot: a zero-length segment with round caps.
                    let points = run.count == 1 ? [run[0], run[0]] : run
                    return "M" + points.map { "\(n($0.x)),\(n($0.y))" }.joined(separator: " L")
                }.joined(separator: " ")
                var attributes = "fill=\"none\" stroke=\"\(color.hex)\" stroke-width=\"\(n(width))\""
                attributes += width > 1 ? " stroke-linejoin=\"round\" stroke-linecap=\"round\"" : " stroke-linecap=\"square\""
                if let dash { attributes += " stroke-dasharray=\"\(n(dash.on)) \(n(dash.off))\"" }
                if let series { attributes += " class=\"series\" data-series=\"\(escape(series))\"" }
                out += "<path d=\"\(d.isEmpty ? "M0,0" : d)\" \(attributes)/>\n"
            case .text(let text, let origin, let scale, let color, let vertical, let bold):
                guard !text.isEmpty else { continue }
                // The bitmap font's baseline is 7 cells below the top; a monospace font's cap
                // height is ~0.73 em, so 7 cells ≈ 9.6 cells of font size.
                let size = Double(TextMetrics.capHeight * scale) / 0.73
                let length = TextMetrics.width(text, scale: scale)
                let baseline = Double(TextMetrics.capHeight * scale)
                let common = "font-size=\"\(n(size))\" fill=\"\(color.hex)\" textLength=\"\(n(length))\" lengthAdjust=\"spacingAndGlyphs\"" + (bold ? " font-weight=\"bold\"" : "")
                if vertical {
                    out += "<text x=\"\(n(origin.x))\" y=\"\(n(origin.y + baseline))\" \(common) "
                        + "transform=\"rotate(-90 \(n(origin.x)) \(n(origin.y)))\">\(escape(text))</text>\n"
                } else {
                    out += "<text x=\"\(n(origin.x))\" y=\"\(n(origin.y + baseline))\" \(common)>\(escape(text))</text>\n"
                }
            }
        }
        return out + "</svg>\n"
    }

    /// A coordinate with at most two decimals.
    static func n(_ v: Double) -> String {
        guard v.isFinite, abs(v) < 1e9 else { return "0" }
        let r = (v * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
