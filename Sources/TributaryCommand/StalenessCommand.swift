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
            var status = try await TributaryCommand.fetchStatus(options)
            let terminal = Terminal()
            terminal.enter()
            defer { terminal.leave() }
            var note = ""
            while true {
                var lines = StalenessView.text(status, byWorker: byWorker).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                lines.append(note.isEmpty ? "q quits" : "stale: \(note)")
                terminal.draw(lines)
                if terminal.waitForQuit(timeout: .milliseconds(Int(interval * 1000))) { return }
                do {
                    status = try await options.fetch()
                    note = ""
                } catch let failure as StatusClient.Failure {
                    note = failure.description
                }
            }
        }
    }
}
