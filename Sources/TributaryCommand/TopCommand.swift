import ArgumentParser
import Foundation
import Monitor

extension TributaryCommand {
    struct Top: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A live view: rates, buffer gauges, the staleness histogram and a row per worker. q or Ctrl-C quits.")

        @OptionGroup var options: QueryOptions
        @Option(help: "Seconds between refreshes.") var interval = 1.0
        @Flag(help: "Print one frame (80×24 unless on a terminal) and exit; the default when not on a terminal.") var once = false

        func validate() throws {
            guard interval > 0 else { throw ValidationError("--interval must be positive") }
        }

        func run() async throws {
            let learner = StatusClient.endpoint(learner: options.learner)
            if once || !Terminal.isInteractive || options.json {
                let status = try await TributaryCommand.fetchStatus(options)
                if options.json {
                    print(try StatusFormatter.json(status))
                } else {
                    let size = Terminal.isInteractive ? Terminal.size : (80, 24)
                    print(TopView.render(status, columns: size.0, rows: size.1, learner: learner).joined(separator: "\n"))
                }
                return
            }
            // Check the learner answers before taking over the screen.
            let first = try await TributaryCommand.fetchStatus(options)
            try await Terminal.live(every: .milliseconds(Int(interval * 1000)), first: first, fetch: options.fetch) { status, stale in
                let size = Terminal.size
                var lines = TopView.render(status, columns: size.columns, rows: size.rows, learner: learner)
                if let stale { lines[lines.count - 1] = String(stale.prefix(size.columns - 1)) }
                return lines
            }
        }
    }
}
