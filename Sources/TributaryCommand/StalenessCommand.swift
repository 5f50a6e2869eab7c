import ArgumentParser
import Foundation
import Monitor

extension TributaryCommand {
    struct Staleness: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The version lag of trained and dropped samples, overall and per worker.")

        @OptionGroup var options: QueryOptions
        @Flag(help: "A row per worker incarnation too.") var byWorker = false
        @Flag(help: "Refresh until interrupted.") var watch = false
        @Option(help: "Seconds between refreshes with --watch.") var interval = 2.0

        func validate() throws {
            guard interval > 0 else { throw ValidationError("--interval must be positive") }
        }

        func run() async throws {
            if watch, Terminal.isInteractive, !options.json { return try await watchOnTerminal() }
            // Off a terminal (logs, pipes) --watch appends a report per refresh.
            repeat {
                let status = try await TributaryCommand.fetchStatus(options)
                print(options.json ? try StalenessView.json(status, byWorker: byWorker) : StalenessView.text(status, byWorker: byWorker))
                if watch { try await Task.sleep(for: .milliseconds(Int(interval * 1000))) }
            } while watch
        }

        /// Redrawn in place, as `top` does: q, Esc or Ctrl-C quits; a learner that stops
        /// answering leaves the last report with a line saying why.
        func watchOnTerminal() async throws {
            let first = try await TributaryCommand.fetchStatus(options)
            try await Terminal.live(every: .milliseconds(Int(interval * 1000)), first: first, fetch: options.fetch) { status, stale in
                StalenessView.text(status, byWorker: byWorker).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                    + [stale ?? "q quits"]
            }
        }
    }
}
