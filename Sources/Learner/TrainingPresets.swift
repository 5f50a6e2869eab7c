import Environments
/// The hyper-parameters each shipped environment learns with by default. The learner starts
/// from the preset of its `--env` and applies explicit flags on top, so `--env Acrobot-v1`
/// alone is enough to solve Acrobot. Found by the runs recorded in docs/benchmarks.md
/// ("Other environments"); every field is overridable.
public enum TrainingPresets {
    public struct Preset: Sendable {
        public var training = TrainingSettings()
        /// Chunks a worker may have in flight at most (its share of the admission budget is
        /// usually less). Acrobot, MountainCar and Pendulum had 4, a crude lag bound the lag
        /// target replaced: with one 4-environment worker, 4 chunks could never fill their
        /// 32-column batch and training never started.
        public var maxCredits: UInt32 = 32
        /// The mean version lag admission keeps trained samples at (`Admission`,
        /// docs/scaling.md); nil: unbounded.
        public var lagTarget: Double? = 8
        /// T, steps per chunk: a sequence task's answer length, 32 otherwise.
        public var unrollLength: UInt32 = 32
    }

    public static func preset(for envID: String) -> Preset {
        var p = Preset()
        switch envID {
        case "Acrobot-v1", "MountainCar-v0":
            // CartPole's settings collapse the policy to a deterministic one that never
            // reaches the goal (entropy → 0 at −500); more entropy and less lag fix it.
            p.training.learningRate = 1e-3
            p.training.entropyCost = 0.01
            p.training.batchColumns = 32
            p.lagTarget = 4
        case "Pendulum-v1":
            // Continuous actions: with ~50 versions of lag the Gaussian moves so far from the
            // behaviour policy that every importance ratio is ~0 and learning stops; a short
            // horizon, small steps and scaled rewards (−16…0 per step) learn the swing-up.
            p.training.learningRate = 3e-4
            p.training.gamma = 0.95
            p.training.rewardScale = 0.1
            p.training.entropyCost = 0
            p.training.batchColumns = 32
            p.lagTarget = 4
        case _ where EnvironmentRegistry.sequenceTask(envID) != nil:
            // The seed paper's setting in miniature (issue 15's torch prototype): an MLP 256-256
            // ReLU over the task's encoding, Adam 1e-3, entropy bonus 0.01, 64 prompts × K = 8
            // answers per update, one chunk (one group) per prompt, T = the answer length, and
            // GRPO unless `--preset` says otherwise.
            let task = EnvironmentRegistry.sequenceTask(envID)!
            p.training.hidden = [256, 256]
            p.training.activation = .relu
            p.training.learningRate = 1e-3
            p.training.entropyCost = 0.01
            p.training.gamma = 1
            p.training.batchColumns = 512
            p.training.correction = .group
            p.maxCredits = 64
            p.unrollLength = UInt32(task.answerLength)
            // The seed paper's experiments set staleness themselves (--inject-lag, --sync-*,
            // --eta): admission stays as they were measured with.
            p.lagTarget = nil
        case "synthetic":
            p.lagTarget = nil  // the stand-in trainer measures transport, not learning
        case "CartPole-v1":
            // Adam collapsed CartPole past the target (Adam's doc comment); AMSGrad held it at
            // 500 (docs/scaling.md, "Learning that holds"). Pendulum learned slower with it (one
            // of two seeds not at −200 in 40 s, against 8–9 s with Adam), so only here.
            p.training.optimizer = .amsgrad
            // With unscaled rewards (value targets up to ~100) and 3e-3, 1 run in 20 collapsed
            // *before* the target: a value-loss spike through the shared torso, then one update
            // saturated the softmax (entropy 1e-10, return 9.3 for good). Rewards × 0.1 and
            // 1e-3 solved 40 of 40 seeds, in a median 0.39 s instead of 2.0 s (docs/scaling.md).
            p.training.learningRate = 1e-3
            p.training.rewardScale = 0.1
        default:
            break  // your own environment: the defaults of TrainerSettings and LearnerConfig.
        }
        return p
    }
}
