/// A strict reader of Prometheus's text exposition format (0.0.4), enough to check what
/// `/metrics` serves: every sample line well formed, every metric typed by a `# TYPE` line
/// before its samples, no sample twice. Tests scrape a live learner with it.
public enum PrometheusText {
    public struct Malformed: Error, CustomStringConvertible {
        public var description: String
    }

    /// Samples by `name{label="value",...}` (labels sorted by name; no braces without labels).
    public static func parse(_ text: String) throws -> [String: Double] {
        var types: [String: String] = [:]
        var samples: [String: Double] = [:]
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw.drop { $0 == " " })
            func fail(_ why: String) -> Malformed { Malformed(description: "line \(number + 1): \(why): \(line)") }
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
                if parts.count >= 2, parts[1] == "TYPE" {
                    guard parts.count == 4, isName(parts[2]),
                          ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3])
                    else { throw fail("bad TYPE line") }
                    guard types[parts[2]] == nil else { throw fail("second TYPE for \(parts[2])") }
                    types[parts[2]] = parts[3]
                }
                continue
            }
            // name[{labels}] value [timestamp]
            var rest = Substring(line)
            let nameEnd = rest.firstIndex { $0 == "{" || $0 == " " } ?? rest.endIndex
            let name = String(rest[..<nameEnd])
            guard isName(name) else { throw fail("bad metric name") }
            rest = rest[nameEnd...]
            var labels: [(String, String)] = []
            if rest.first == "{" {
                rest = rest.dropFirst()
                while rest.first != "}" {
                    guard let eq = rest.firstIndex(of: "=") else { throw fail("label without =") }
                    let label = String(rest[..<eq])
                    guard isName(label), !label.contains(":") else { throw fail("bad label name \(label)") }
                    rest = rest[rest.index(after: eq)...]
                    guard rest.first == "\"" else { throw fail("label value not quoted") }
                    rest = rest.dropFirst()
                    var value = ""
                    var escaped = false
                    while let c = rest.first {
                        rest = rest.dropFirst()
                        if escaped {
                            value.append(c == "n" ? "\n" : c)
                            escaped = false
                        } else if c == "\\" {
                            escaped = true
                        } else if c == "\"" {
                            break
                        } else {
                            value.append(c)
                        }
                    }
                    labels.append((label, value))
                    if rest.first == "," { rest = rest.dropFirst() }
                    guard !rest.isEmpty else { throw fail("unterminated labels") }
                }
                rest = rest.dropFirst()
            }
            let fields = rest.split(separator: " ")
            guard fields.count == 1 || fields.count == 2, let value = Self.number(String(fields[0])) else { throw fail("bad value") }
            let base = types[name] != nil ? name
                : ["_bucket", "_sum", "_count"].first { name.hasSuffix($0) }.map { String(name.dropLast($0.count)) } ?? name
            guard types[base] != nil else { throw fail("sample before (or without) its TYPE line") }
            let key = labels.isEmpty ? name
                : name + "{" + labels.sorted { $0.0 < $1.0 }.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",") + "}"
            guard samples[key] == nil else { throw fail("duplicate sample \(key)") }
            samples[key] = value
        }
        return samples
    }

    static func isName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || first == ":" || first.isASCIILetter else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCIILetter || ("0"..."9").contains($0) || $0 == "_" || $0 == ":" }
    }

    static func number(_ s: String) -> Double? {
        switch s {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default: return Double(s)
        }
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}
