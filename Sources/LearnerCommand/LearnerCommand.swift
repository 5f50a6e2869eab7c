import ArgumentParser
import Foundation
import Launch

/// `learner`: binds the data, weights and control sockets and trains on what workers send.
@main
struct LearnerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learner",
        abstract: "Run a Tributary learner: workers connect to it and stream trajectories.",
        discussion: """
            Prints one JSON line when ready (the bound endpoints) and one when done (the summary); \
            logs go to stderr. Stops on SIGINT/SIGTERM, after --max-updates or --max-chunks, or at \
            --target-return.
            """)

    @OptionGroup var options: LearnerOptions

    func validate() throws {
        do {
            _ = try options.config(isTerminal: false)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        Launcher.prepareProcess(logLevel: options.run.logLevel)
        let config = try options.config(isTerminal: isatty(STDERR_FILENO) == 1)
        try await Launcher.runLearner(config, localWorkers: options.local)
    }
}
