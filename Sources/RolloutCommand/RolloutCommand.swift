import ArgumentParser
import Launch

/// `rollout-worker`: acts in environments and streams chunks to a learner.
@main
struct RolloutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout-worker",
        abstract: "Run a Tributary rollout worker that streams trajectories to a learner.",
        discussion: """
            Reconnects (as a new incarnation) whenever the learner goes away. Prints a JSON line per \
            session and a summary at exit; logs go to stderr. Exit codes: 2, the learner refused this \
            worker's configuration (environment, sizes); 3, its protocol version; 4, its key (CURVE).
            """)

    @OptionGroup var options: WorkerOptions

    func validate() throws {
        do {
            _ = try options.config()
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        Launcher.prepareProcess(logLevel: options.logLevel)
        let config = try options.config()
        // The blas-threads setting is global to the process.
        Launcher.setBLASThreads(options.blasThreads)
        try await Launcher.runWorker(config, traceChunks: options.traceChunks)
    }
}
