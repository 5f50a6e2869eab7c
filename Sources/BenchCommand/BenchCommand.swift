import Domain
import ArgumentParser
import BuildInfo
import Foundation
import Learner
import Logging
import NeuralNet
import Protocol
import Environments
import Training
import Transport
import Rollout

/// `tributary-bench`: the micro-benchmarks that run beside the peers' scripts
/// (`Benchmarks/peers/`) in `Benchmarks/learning/run.sh`. Each prints one `RESULT` line in the
/// peers' format, so the script can put ratios side by side.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary-bench",
        abstract: "Micro-benchmarks of the learner update and the worker's acting loop.",
        version: BuildInfo.versionLine,
        subcommands: [LearnerUpdate.self, GroupUpdate.self, WorkerSteps.self, SessionFlood.self])
}
