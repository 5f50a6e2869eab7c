import ArgumentParser
import Foundation
import Environments
import Learner
import PolicyArtifacts
import SafeIO

/// Where a policy comes from: a checkpoint file or a run directory.
struct PolicySource: ParsableArguments {
    @Argument(help: "A checkpoint file (RUN_DIR/checkpoints/*.ckpt) or a run directory (its newest intact checkpoint).")
    var path: String
    @Flag(help: "From a run directory, its best checkpoint by evaluated return (checkpoints/best.ckpt) instead of the newest.")
    var best = false

    func load(_ tool: String) throws -> (Checkpoint, URL) {
        do throws(CheckpointError) {
            return try Checkpoint.load(path, best: best)
        } catch {
            StandardStream.error.write("tributary \(tool): \(error.description)\n")
            throw ExitCode(2)
        }
    }
}

extension TributaryCommand {
    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a checkpoint's policy for whole episodes and print its mean return ± std (no learner needed).")

        @OptionGroup var source: PolicySource
        @Option(help: "Environment (default: the one the run trained on).") var env: String?
        @Option(help: "Whole episodes to run.") var episodes = 10
        @Flag(help: "Take the most likely action (the mean, for continuous actions) instead of sampling.") var greedy = false
        @Option(help: "Seed of the environments and of the sampling.") var seed: UInt64 = 1
        @Flag(help: "Print JSON: the mean, the std and every episode's return and length.") var json = false

        func validate() throws {
            guard episodes >= 1 else { throw ValidationError("--episodes must be at least 1") }
        }

        func run() throws {
            let (checkpoint, url) = try source.load("eval")
            let envID = env ?? checkpoint.config.envID
            let policy = PolicyEvaluator.network(checkpoint.trainer)
            if EnvironmentRegistry.spec(envID) == nil {
                StandardStream.error.write("tributary eval: '\(envID)' is not one of Tributary's environments (\(EnvironmentRegistry.ids.joined(separator: ", "))); evaluate your own in Python: tributary_worker.load_policy(\"\(url.path)\").act(obs) (python/README.md)\n")
                throw ExitCode(2)
            }
            guard let result = PolicyEvaluator.evaluate(policy, envID: envID, episodes: episodes, greedy: greedy, seed: seed) else {
                StandardStream.error.write("tributary eval: the policy of \(url.path) (observations \(policy.observationSize), \(policy.head)) does not fit environment '\(envID)'\n")
                throw ExitCode(2)
            }
            if json {
                struct Report: Encodable {
                    var checkpoint: String
                    var run_id: String
                    var policy_version: UInt64
                    var updates: UInt64
                    var mean_return: Double
                    var std_return: Double
                    var mean_length: Double
                    var evaluation: PolicyEvaluation
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                let report = Report(checkpoint: url.path, run_id: checkpoint.runID, policy_version: checkpoint.policyVersion, updates: checkpoint.updates,
                                    mean_return: result.meanReturn, std_return: result.stdReturn, mean_length: result.meanLength, evaluation: result)
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                let returns = result.episodes.map(\.episodeReturn)
                print(String(format: "%@, %d episodes, %@: mean return %.2f ± %.2f (min %.2f, max %.2f), mean length %.1f",
                             envID, result.episodes.count, greedy ? "greedy" : "sampled", result.meanReturn, result.stdReturn,
                             returns.min() ?? .nan, returns.max() ?? .nan, result.meanLength))
                print("policy version \(checkpoint.policyVersion) of run \(checkpoint.runID), update \(checkpoint.updates) (\(url.path))")
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a checkpoint's policy as safetensors, with its model description beside it (docs/operations.md, \"Policies as files\").")

        @OptionGroup var source: PolicySource
        @Option(help: "The .safetensors file to write (default: RUN_DIR/exports/policy-v<version>.safetensors); the model description goes beside it as .json.")
        var out: String?

        func run() throws {
            let (checkpoint, url) = try source.load("export")
            let policy = PolicyEvaluator.network(checkpoint.trainer)
            let runDirectory = url.deletingLastPathComponent().deletingLastPathComponent()
            let file = URL(fileURLWithPath: out ?? runDirectory.appendingPathComponent("exports/policy-v\(checkpoint.policyVersion).safetensors").path)
            let metadata = ["env_id": checkpoint.config.envID, "run_id": checkpoint.runID, "policy_version": String(checkpoint.policyVersion),
                            "updates": String(checkpoint.updates)]
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try SafetensorsExport.encode(policy, metadata: metadata).write(to: file)
            let description = file.deletingPathExtension().appendingPathExtension("json")
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            try encoder.encode(SafetensorsExport.metadata(policy, extra: metadata)).write(to: description)
            print("\(file.path)")
            print("\(description.path)  (the model: \(policy.modelSpec.hiddenSizes.map(String.init).joined(separator: "×")) \(policy.modelSpec.activation), \(policy.modelSpec.head) head)")
        }
    }
}
