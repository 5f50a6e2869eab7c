import ArgumentParser
import Foundation
import Monitor
import Environments
import SafeIO

extension TributaryCommand {
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the main job locally: a learner and rollout workers, separate processes over ZeroMQ, learning an environment.")

        @Option(help: "Rollout worker processes.") var workers = 2
        @Option(help: "Environment: CartPole-v1, Acrobot-v1, MountainCar-v0, Pendulum-v1 (continuous), or a sequence task: addrev, add, add3, reach.") var env = "CartPole-v1"
        @Option(help: "Sequence tasks: the group-relative method (grpo unless told; `learner --help` lists them).") var preset: String?
        @Option(parsing: .unconditional, help: "Stop when the mean return of the last 100 episodes reaches this (default: the environment's reward threshold: 475 for CartPole-v1, -100 for Acrobot-v1, -110 for MountainCar-v0, -200 for Pendulum-v1, a success rate of 0.9 for a sequence task).")
        var targetReturn: Double?
        @Option(help: "Environment copies per worker (16); for a sequence task, answers per prompt, the group size K (8).") var numEnvs: Int?
        @Option(help: "Budget in seconds; the demo stops then and says the target was not reached.") var seconds = 120
        @Option(help: "Folder holding the learner and rollout-worker executables (default: next to this one).")
        var binDir: String?
        @Option(help: "Seed of the network and (with each worker's index) of the environments.") var seed: UInt64 = 1
        @Option(parsing: .unconditionalSingleValue, help: "Pass a flag to the learner, e.g. --learner-arg=--learning-rate=1e-3 (repeatable).")
        var learnerArg: [String] = []
        @Flag(help: "Also print the summary as one JSON line.") var json = false
        @Flag(help: "Bind ephemeral ports instead of 5555-5558 (for scripts running several demos at once).") var ephemeralPorts = false

        func validate() throws {
            guard workers >= 1, seconds >= 1 else { throw ValidationError("--workers and --seconds must be at least 1") }
            if let numEnvs, numEnvs < 1 { throw ValidationError("--num-envs must be at least 1") }
            if preset != nil, EnvironmentRegistry.sequenceTask(env) == nil {
                throw ValidationError("--preset names a group-relative method, which trains a sequence task (--env addrev, add, add3, reach), not \(env)")
            }
            if let targetReturn, let most = EnvironmentRegistry.maxReturn(env), targetReturn > most {
                throw ValidationError("--target-return \(targetReturn) can never be reached: \(env) returns at most \(most) an episode; to watch a run until Ctrl-C, use learner --env \(env) --local-workers 2")
            }
        }

        func run() async throws {
            let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            var runner = DemoRunner(binDirectory: binDir.map { URL(fileURLWithPath: $0) } ?? here)
            runner.workers = workers
            runner.envID = env
            runner.targetReturn = targetReturn ?? EnvironmentRegistry.rewardThreshold(env) ?? 0
            let sequenceTask = EnvironmentRegistry.sequenceTask(env) != nil
            runner.envsPerWorker = numEnvs ?? (sequenceTask ? 8 : 16)
            runner.budget = .seconds(seconds)
            runner.seed = seed
            runner.learnerArguments = (preset.map { ["--preset", $0] } ?? []) + learnerArg
            runner.json = json
            runner.standardPorts = !ephemeralPorts
            do {
                try await runner.run()
            } catch let stop as DemoRunner.Interrupted {
                throw ExitCode(128 + stop.signal)
            } catch let failure as DemoRunner.Failure {
                StandardStream.error.write("tributary demo: \(failure.description)\n")
                throw ExitCode(1)
            }
        }
    }
}
