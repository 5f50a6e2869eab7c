import ArgumentParser
import Foundation
import Monitor
import SafeIO

extension TributaryCommand {
    struct Plot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Plot a run's metrics.jsonl: learning curve, throughput and staleness, as SVG and PNG.")

        @Argument(help: "The run directory (runs/<run_id>, holding metrics.jsonl).") var runDir: String
        @Option(help: "Where to write the plots (default: RUN_DIR/plots).") var out: String?
        @Option(help: "Image width in pixels.") var width = 800
        @Option(help: "Image height in pixels.") var height = 480
        @Flag(help: "Print {\"files\", \"records\", \"skipped_lines\"} as JSON instead of one path per line.") var json = false

        func validate() throws {
            guard (200...8000).contains(width), (150...8000).contains(height) else {
                throw ValidationError("--width must be 200…8000 and --height 150…8000")
            }
        }

        func run() async throws {
            let written: RunPlots.Written
            do {
                written = try RunPlots.write(runDirectory: runDir, outDirectory: out, width: width, height: height)
            } catch let failure as RunPlots.Failure {
                StandardStream.error.write("tributary plot: \(failure.description)\n")
                throw ExitCode(2)
            }
            if written.skippedLines > 0 {
                StandardStream.error.write("tributary plot: skipped \(written.skippedLines) malformed line(s) of metrics.jsonl; plotted \(written.records) records\n")
            }
            if json {
                let object: [String: Any] = ["files": written.files, "records": written.records, "skipped_lines": written.skippedLines]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
            } else {
                print(written.files.joined(separator: "\n"))
            }
        }
    }
}
