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
            let tty = isatty(STDOUT_FILENO) == 1
            repeat {
                let status = try await TributaryCommand.fetchStatus(options)
                let body = options.json ? try StalenessView.json(status, byWorker: byWorker) : StalenessView.text(status, byWorker: byWorker)
                // On a terminal --watch redraws in place; otherwise it appends (logs, pipes).
                print((watch && tty && !options.json ? "\u{1B}[H\u{1B}[2J" : "") + body)
                if watch { try await Task.sleep(for: .milliseconds(Int(interval * 1000))) }
            } while watch
        }
    }
}
