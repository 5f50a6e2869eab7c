import Foundation
import Plotting

/// `tributary plot`: a run directory's `metrics.jsonl` as three charts, each written as SVG and PNG
/// — the learning curve (mean return against seconds, env steps along the top), throughput (env
/// steps per second) and staleness (the policy-version lag of each update's samples).
public enum RunPlots {
    public enum Failure: Error, CustomStringConvertible, Equatable {
        case missingDirectory(String)
        case missingMetrics(String)
        case noRecords(String, skipped: Int)
        case cannotWrite(String, String)

        public var description: String {
            switch self {
            case .missingDirectory(let p): return "\(p): no such run directory"
            case .missingMetrics(let p): return "\(p): no metrics.jsonl (is this a run directory? the learner writes runs/<run_id>/)"
            case .noRecords(let p, let skipped):
                return skipped == 0 ? "\(p) is empty: no metrics yet" : "\(p) has no readable records (\(skipped) malformed lines skipped)"
            case .cannotWrite(let p, let reason): return "cannot write \(p): \(reason)"
            }
        }
    }

    /// One metrics line: the values the plots use, NaN where a line lacks one (or has null).
    public struct Record: Sendable {
        public var update = Double.nan, timeSeconds = Double.nan, envSteps = Double.nan, stepsPerSecond = Double.nan
        public var returnMean100 = Double.nan, lagMin = Double.nan, lagMean = Double.nan, lagMax = Double.nan
    }

    public struct Metrics: Sendable {
        public var records: [Record] = []
        /// Non-empty lines that are not a JSON object (a line cut off mid-write, say).
        public var skippedLines = 0
    }

    /// What `config.json` says about the run, when it is there and readable.
    public struct RunInfo: Sendable {
        public var runID: String?
        public var envID: String?
        public var targetReturn: Double?
        public init(runID: String? = nil, envID: String? = nil, targetReturn: Double? = nil) {
            (self.runID, self.envID, self.targetReturn) = (runID, envID, targetReturn)
        }
    }

    public struct Written: Sendable {
        /// The files, in the order return, sps, staleness, each .svg then .png.
        public var files: [String]
        public var records: Int
        public var skippedLines: Int
    }

    /// Reads `metrics.jsonl` tolerantly: known keys are read where present and numeric, unknown
    /// keys are ignored, a line that is not a JSON object is skipped and counted.
    public static func readMetrics(_ data: Data) -> Metrics {
        var metrics = Metrics()
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                metrics.skippedLines += 1
                continue
            }
            func number(_ key: String) -> Double { RunPlots.number(object[key]) }
            var r = Record()
            r.update = number("update")
            r.timeSeconds = number("time_s")
            r.envSteps = number("env_steps")
            r.stepsPerSecond = number("sps")
            r.returnMean100 = number("episodic_return_mean100")
            r.lagMin = number("lag_min")
            r.lagMean = number("lag_mean")
            r.lagMax = number("lag_max")
            metrics.records.append(r)
        }
        return metrics
    }

    /// A JSON number as a Double; NaN for null, a string, a boolean or no value. (`is Bool` cannot
    /// tell: on Linux the numbers 0 and 1 from JSONSerialization are `Bool` too. A boolean is
    /// the NSNumber whose type is `char`.)
    static func number(_ value: Any?) -> Double {
        guard let n = value as? NSNumber, String(cString: n.objCType) != "c" else { return .nan }
        return n.doubleValue
    }

    /// `config.json`'s run_id, env_id and target_return; nil fields when absent or unreadable.
    public static func readRunInfo(_ directory: URL) -> RunInfo {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("config.json")),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return RunInfo() }
        return RunInfo(runID: object["run_id"] as? String, envID: object["env_id"] as? String,
                       targetReturn: object["target_return"].map(number).flatMap { $0.isFinite ? $0 : nil })
    }

    /// The three charts, named by their file's base name.
    public static func charts(_ metrics: Metrics, info: RunInfo = RunInfo()) -> [(name: String, chart: Chart)] {
        let r = metrics.records
        let palette = RGB.palette
        let suffix = [info.envID, info.runID].compactMap { $0 }.joined(separator: ", ")
        func titled(_ t: String) -> String { suffix.isEmpty ? t : "\(t) (\(suffix))" }

        var learning = Chart(title: titled("Learning curve"), xLabel: "time (s)", yLabel: "mean return",
                             lines: [LineSeries(name: "mean return (100 episodes)", color: palette[0], width: 2.5,
                                                x: r.map(\.timeSeconds), y: r.map(\.returnMean100))])
        learning.emptyMessage = "no episodes finished yet"
        if let target = info.targetReturn, target.isFinite {
            learning.reference = ReferenceLine(y: target, label: "target " + shortNumber(target))
        }
        learning.topAxis = SecondaryXAxis(label: "env steps", pairs: r.map { (primary: $0.timeSeconds, secondary: $0.envSteps) })

        let throughput = Chart(title: titled("Throughput"), xLabel: "time (s)", yLabel: "env steps / s",
                               lines: [LineSeries(name: "env steps per second (since start)", color: palette[2], width: 2.5,
                                                  x: r.map(\.timeSeconds), y: r.map(\.stepsPerSecond))])

        // Drawn widest first so min, mean and max stay visible where they coincide.
        let updates = r.map(\.update)
        let staleness = Chart(title: titled("Staleness"), xLabel: "update (learner step)", yLabel: "version lag",
                              lines: [LineSeries(name: "lag max", color: palette[3], width: 6, x: updates, y: r.map(\.lagMax)),
                                      LineSeries(name: "lag mean", color: palette[1], width: 4, x: updates, y: r.map(\.lagMean)),
                                      LineSeries(name: "lag min", color: palette[0], width: 2, x: updates, y: r.map(\.lagMin))])
        return [("return", learning), ("sps", throughput), ("staleness", staleness)]
    }

    /// Reads `runDirectory/metrics.jsonl` and writes the three charts into `outDirectory`
    /// (default `runDirectory/plots`).
    public static func write(runDirectory: String, outDirectory: String? = nil, width: Int = 800, height: Int = 480) throws -> Written {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: runDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Failure.missingDirectory(runDirectory)
        }
        let directory = URL(fileURLWithPath: runDirectory)
        let metricsURL = directory.appendingPathComponent("metrics.jsonl")
        guard let data = try? Data(contentsOf: metricsURL) else { throw Failure.missingMetrics(runDirectory) }
        let metrics = readMetrics(data)
        guard !metrics.records.isEmpty else { throw Failure.noRecords(metricsURL.path, skipped: metrics.skippedLines) }

        let out = URL(fileURLWithPath: outDirectory ?? directory.appendingPathComponent("plots").path)
        do {
            try fm.createDirectory(at: out, withIntermediateDirectories: true)
        } catch {
            throw Failure.cannotWrite(out.path, error.localizedDescription)
        }
        var files: [String] = []
        for (name, chart) in charts(metrics, info: readRunInfo(directory)) {
            let rendered = chart.render(width: width, height: height)
            for (ext, bytes) in [("svg", Data(rendered.svg.utf8)), ("png", Data(rendered.png))] {
                let file = out.appendingPathComponent("\(name).\(ext)")
                do {
                    try bytes.write(to: file, options: .atomic)
                } catch {
                    throw Failure.cannotWrite(file.path, error.localizedDescription)
                }
                files.append(file.path)
            }
        }
        return Written(files: files, records: metrics.records.count, skippedLines: metrics.skippedLines)
    }

    /// 475 → "475", -110 → "-110", 0.5 → "0.5".
    static func shortNumber(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
    }
}
