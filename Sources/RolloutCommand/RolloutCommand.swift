import ArgumentParser
import BuildInfo
import Foundation
import Launch

/// `rollout-worker`: acts in environments and streams chunks to a learner.
@main
struct RolloutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout-worker",
        abstract: "Run a Tributary rollout worker that streams trajectories to a learner.",
        discussion: """
            Reconnects (as a new incarnation) whenever the learner goes away. Prints a JSON line per \
            session and a summary at exit; logs go to stderr. Settings come from flags, TRIBUTARY_* \
            variables (TRIBUTARY_LEARNER=10.0.0.5) and a YAML file (--config), in that order of \
            precedence. Exit codes: 2, the learner refused this worker's configuration (environment, \
            sizes); 3, its protocol version; 4, its key (CURVE); 64, a setting is invalid.
            """,
        version: BuildInfo.versionLine)

    /// The flags with the environment's and the config file's settings in front.
    static let layers = ConfigLayers.forProcess(WorkerOptions.self, tool: "rollout-worker")

    static func main() async { await CommandMain.run(Self.self, arguments: layers.arguments, tool: "rollout-worker") }

    @OptionGroup var options: WorkerOptions

    func validate() throws {
        do {
            _ = try options.config()
        } catch {
            // One line naming the setting and where it was set, without the usage screen.
            FileHandle.standardError.write(Data("rollout-worker: \(Self.layers.explain(error.description))\n".utf8))
            throw ExitCode.validationFailure
        }
    }

    func run() async throws {
        if options.printConfig {
            print(Self.layers.yaml(annotated: true, header: "rollout-worker configuration as resolved (\(BuildInfo.versionLine))"), terminator: "")
            return
        }
        Launcher.prepareProcess(logLevel: options.logLevel)
        let config = try options.config()
        // The blas-threads setting is global to the process.
        Launcher.setBLASThreads(options.blasThreads)
        try await Launcher.runWorker(config, traceChunks: options.traceChunks, traceVersions: options.traceVersions)
    }
}
