/// The hyper-parameters each shipped environment learns with by default. The learner starts
/// from the preset of its `--env` and applies explicit flags on top, so `--env Acrobot-v1`
/// alone is enough to solve Acrobot. Found by the runs recorded in docs/benchmarks.md
/// ("Other environments"); every field is overridable.
public enum TrainingPresets {
    public struct Preset: Sendable {
        public var training = TrainingSettings()
        /// Chunks a worker may have in flight: with one chunk per update this bounds the
        /// version lag to about `workers × maxCredits`.
        public var maxCredits: UInt32 = 32
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
            p.maxCredits = 4
        case "Pendulum-v1":
            // Continuous actions: with ~50 versions of lag the Gaussian moves so far from the
            // behaviour policy that every importance ratio is ~0 and learning stops; a short
            // horizon, small steps and scaled rewards (−16…0 per step) learn the swing-up.
            p.training.learningRate = 3e-4
            p.training.gamma = 0.95
            p.training.rewardScale = 0.1
            p.training.entropyCost = 0
            p.training.batchColumns = 32
            p.maxCredits = 4
        default:
            break  // CartPole-v1: the defaults of TrainerSettings and LearnerConfig.
        }
        return p
    }
}
