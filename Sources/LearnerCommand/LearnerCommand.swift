import ArgumentParser
import BuildInfo
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
            --target-return. Settings come from flags, TRIBUTARY_* variables (TRIBUTARY_DATA_PORT=5555) \
            and a YAML file (--config), in that order of precedence. Exit code 64: a setting is invalid.
            """,
        version: BuildInfo.versionLine)

    /// The flags with the environment's and the config file's settings in front.
    static let layers = ConfigLayers.forProcess(LearnerOptions.self, tool: "learner")

    static func main() async { await CommandMain.run(Self.self, arguments: layers.arguments, tool: "learner") }

    @OptionGroup var options: LearnerOptions

    func validate() throws {
        do {
            _ = try options.config(isTerminal: false)
        } catch {
            // One line naming the setting and where it was set, without the usage screen.
            FileHandle.standardError.write(Data("learner: \(Self.layers.explain(error.description))\n".utf8))
            throw ExitCode.validationFailure
        }
    }

    func run() async throws {
        let config = try options.config(isTerminal: isatty(STDERR_FILENO) == 1)
        if options.run.printConfig {
            print(Launcher.printableConfig(Self.layers, config: config), terminator: "")
            return
        }
        Launcher.prepareProcess(logLevel: options.run.logLevel)
        try await Launcher.runLearner(config, localWorkers: options.local, layers: Self.layers,
                                     traceVersions: options.run.traceVersions)
    }
}
