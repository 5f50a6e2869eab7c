import ArgumentParser
import Foundation
import Monitor

extension TributaryCommand {
    struct Workers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every worker incarnation the learner knows (connected ones, those that left and why), and the Hellos it refused lately.")

        @OptionGroup var options: QueryOptions

        func run() async throws {
            let status = try await TributaryCommand.fetchStatus(options)
            if options.json {
                print(try StatusFormatter.json(status, workersOnly: true))
            } else {
                print(StatusFormatter.workerTable(status.workers, refused: status.refused, width: Terminal.outputWidth(piped: .max)).joined(separator: "\n"))
            }
        }
    }
}
