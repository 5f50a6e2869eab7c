import ArgumentParser
import Domain
import Environments
import Foundation
import Launch
import Learner
import Rollout
import Testing

/// The mapping from flags to configurations, as the executables use it (they only parse and run).
@Suite struct LearnerOptionsTests {
    func config(_ arguments: [String], terminal: Bool = false) throws -> LearnerConfig {
        try LearnerOptions.parse(arguments).config(isTerminal: terminal)
    }

    func failure(_ arguments: [String]) -> String {
        do {
            _ = try config(arguments)
            return "accepted"
        } catch {
            return LearnerOptions.message(for: error)
        }
    }

    @Test func noFlagsIsTheDocumentedDefault() throws {
        let c = try config([])
        var expected = LearnerConfig()
        expected.metrics = .init(host: "127.0.0.1", port: 5558)
        expected.runsRoot = "runs"
        #expect(c == expected)
    }

    @Test func theEnvironmentsPresetComesFirstAndFlagsGoOnTop() throws {
        let acrobot = try config(["--env", "Acrobot-v1"])
        #expect(acrobot.training.learningRate == 1e-3 && acrobot.training.entropyCost == 0.01)
        #expect(acrobot.training.batchColumns == 32 && acrobot.maxCredits == 32 && acrobot.buffer.lagTarget == 4)
        #expect(acrobot.training.optimizer == .adam && acrobot.buffer.admissionMode == .target(lag: 4))
        let cartPole = try config(["--env", "CartPole-v1"])
        #expect(cartPole.training.optimizer == .amsgrad && cartPole.buffer.lagTarget == 8)
        #expect(cartPole.training.learningRate == 1e-3 && cartPole.training.rewardScale == 0.1)
        #expect(try config(["--env", "CartPole-v1", "--eta", "2"]).buffer.admissionMode == .fixed(eta: 2))
        #expect(try config(["--env", "CartPole-v1", "--lag-target", "off"]).buffer.admissionMode == .unbounded)
        #expect(try config(["--env", "addrev"]).buffer.admissionMode == .unbounded)
        #expect(throws: ConfigError.self) { try config(["--env", "CartPole-v1", "--lag-target", "0.5"]) }
        let tuned = try config(["--env", "Acrobot-v1", "--learning-rate", "5e-4", "--credits", "8", "--batch-columns=8"])
        #expect(tuned.training.learningRate == 5e-4 && tuned.maxCredits == 8 && tuned.training.batchColumns == 8)
        #expect(tuned.training.entropyCost == 0.01, "a flag not given keeps the preset's value")
    }

    /// A sequence task's preset: the seed paper's setting, GRPO, T = the answer length;
    /// `--preset` chooses the group method and its aggregation.
    @Test func sequenceTasksTrainGroupMethods() throws {
        let c = try config(["--env", "addrev"])
        #expect(c.unrollLength == 2 && c.training.hidden == [256, 256] && c.training.activation == .relu)
        #expect(c.training.correction == .group && c.training.objectiveName == "grpo" && c.training.batchColumns == 512)
        let rec = try config(["--env", "addrev", "--preset", "rec-oneside-nois", "--kl-coef", "0.01", "--centre", "proximal"])
        #expect(rec.training.objectiveName == "rec-oneside-nois" && rec.training.aggregation == .tokenMean)
        #expect(rec.training.corrections.group.referenceCoefficient == 0.01 && rec.training.corrections.group.centre == .proximal)
        #expect(try config(["--env", "addrev", "--preset", "gspo"]).training.aggregation == .seqMeanTokenMean)
        #expect(try config(["--env", "addrev", "--preset", "gspo", "--aggregation", "token-mean"]).training.aggregation == .tokenMean)
        let sync = try config(["--env", "addrev", "--sync-interval", "20"])
        #expect(sync.weightsSync == .interval(20))
        #expect(try config(["--env", "addrev", "--offline"]).weightsSync == .offline)
        #expect(try config(["--env", "addrev", "--sync-offset", "10"]).injectLag == 10)
        #expect(failure(["--env", "CartPole-v1", "--preset", "grpo"]).contains("sequence task"))
        #expect(failure(["--env", "addrev", "--preset", "grpoo"]).contains("unknown --preset 'grpoo'"))
        #expect(failure(["--env", "addrev", "--unroll-length", "5"]).contains("unroll length must be 2"))
        #expect(failure(["--env", "addrev", "--preset", "grpo", "--correction", "ppo"]).contains("--correction is ppo"))
        #expect(failure(["--env", "addrev", "--sync-interval", "0"]).contains("--sync-interval"))
        #expect(failure(["--sync-offset", "3", "--inject-lag", "4"]).contains("disagree"))
        #expect(failure(["--resume", "runs/a", "--init-from", "runs/b"]).contains("give one of them"))
        #expect(try config(["--env", "addrev", "--init-from", "runs/b"]).initFrom == "runs/b")
    }

    /// `--target-return -100` used to fail with "Missing value" (only `=-100` worked).
    /// An environment Tributary does not ship is declared by its spaces; chunks are then checked
    /// against the declaration, and nothing of the learner needs the environment's code.
    @Test func yourOwnEnvironmentIsDeclaredByItsSpaces() throws {
        let c = try config(["--env", "LunarLander-v3", "--observation-shape", "8", "--action-space", "discrete:4", "--max-episode-steps", "1000"])
        #expect(c.environment == EnvSpec(id: "LunarLander-v3", observationShape: [8], actionSpace: .discrete(4), maxEpisodeSteps: 1000))
        #expect(c.training == TrainingPresets.preset(for: "LunarLander-v3").training, "the default preset: every setting is a flag")
        let box = try config(["--env", "mine:Reach", "--observation-shape", "3,4", "--action-space", "box:2"])
        #expect(box.environment?.observationShape == [3, 4] && box.environment?.actionSpace.shape == [2] && box.environment?.maxEpisodeSteps == nil)
        #expect(try JSONDecoder().decode(LearnerConfig.self, from: JSONEncoder().encode(box)) == box, "checkpoints hold it")
        let described = try #require(box.describe(runID: "r")["external_environment"] as? [String: Any])
        #expect(described["action_space"] as? String == "box:2" && described["observation_shape"] as? [Int] == [3, 4])
        #expect(failure(["--env", "LunarLander-v3"]).contains("--observation-shape and --action-space"))
        #expect(failure(["--env", "LunarLander-v3", "--observation-shape", "8"]).contains("give its --action-space too"))
        #expect(failure(["--env", "LunarLander-v3", "--action-space", "discrete:4"]).contains("give its --observation-shape too"))
        #expect(failure(["--env", "CartPole-v1", "--observation-shape", "4", "--action-space", "discrete:2"]).contains("built in"))
        #expect(failure(["--env", "X", "--observation-shape", "8,", "--action-space", "discrete:4"]).contains("comma-separated"))
        #expect(failure(["--env", "X", "--observation-shape", "0", "--action-space", "discrete:4"]).contains("positive sizes"))
        #expect(failure(["--env", "X", "--observation-shape", "8", "--action-space", "discrete:1"]).contains("2…65536 actions"))
        #expect(failure(["--env", "X", "--observation-shape", "8", "--action-space", "box:0"]).contains("1…4096 dimensions"))
        #expect(failure(["--env", "X", "--observation-shape", "8", "--action-space", "multi:3"]).contains("--action-space"))
        #expect(failure(["--env", "X", "--observation-shape", "8", "--action-space", "discrete:4", "--max-episode-steps", "0"]).contains("--max-episode-steps"))
        #expect(failure(["--env", "CartPole-v1", "--max-episode-steps", "200"]).contains("--max-episode-steps declares"))
        #expect(failure(["--env", "X", "--observation-shape", "8", "--action-space", "discrete:4", "--local-workers", "1"]).contains("Python workers"))
        #expect(failure(["--env", String(repeating: "x", count: 129), "--observation-shape", "8", "--action-space", "discrete:4"]).contains("1…128 bytes"))
    }

    @Test func negativeTargetReturnsParseWithASpace() throws {
        #expect(try config(["--env", "Acrobot-v1", "--target-return", "-100"]).training.targetReturn == -100)
        #expect(try config(["--target-return=-110"]).training.targetReturn == -110)
    }

    @Test func wordsTurnLimitsOffAndNumbersSetThem() throws {
        let c = try config(["--eta", "4", "--max-lag", "8", "--dual-clip", "off", "--behaviour-cap", "3", "--group-size", "4",
                            "--samples-per-insert", "2", "--ratio-tolerance", "64", "--order", "newest-first", "--priority-k", "0.5",
                            "--correction", "tis-ppo", "--tis-level", "sequence", "--vtrace-form", "rlax", "--value-clip", "0.2"])
        #expect(c.buffer.eta == 4 && c.buffer.policy.maxLag == 8 && c.buffer.policy.groupSize == 4)
        #expect(c.buffer.policy.samplesPerInsert == 2 && c.buffer.policy.order == .newestFirst(k: 0.5))
        #expect(c.training.corrections.ppo.dualClip == nil && c.training.corrections.decoupled.behaviourCap == 3)
        #expect(c.training.correction == .tisPPO && c.training.corrections.tis.level == .sequence)
        #expect(c.training.corrections.vtrace.advantageForm == .rlax && c.training.corrections.valueClip == 0.2)
        let d = try config(["--eta", "unbounded", "--max-lag", "none"])
        #expect(d.buffer.eta == nil && d.buffer.policy.maxLag == nil)
    }

    @Test func badValuesAreRefusedNamingTheFlag() {
        #expect(failure(["--gamma=-2"]).contains("--gamma"))
        #expect(failure(["--entropy-cost=-1"]).contains("--entropy-cost"))
        #expect(failure(["--data-port", "71936"]).contains("--data-port must be a port number"))
        #expect(failure(["--hidden", "64,,64"]).contains("--hidden"))
        #expect(failure(["--metrics-every", "0"]).contains("--metrics-every"))
        #expect(failure(["--curve-secret-key", "k"]).contains("--allow-keys"))
        #expect(failure(["--eta", "soon"]).contains("--eta"))
        #expect(failure(["--correction", "a2c"]).contains("vtrace"))
        #expect(failure(["--env", "Pong-v5"]).contains("unknown environment"))
        #expect(failure(["--bind", "0.0.0.0"]).contains("--insecure"))
    }

    @Test func aProgressBarOnlyOnATerminalAtInfo() throws {
        #expect(try config([], terminal: true).progressBar)
        #expect(try !config([], terminal: false).progressBar)
        #expect(try !config(["--no-progress"], terminal: true).progressBar)
        #expect(try !config(["--log-level", "warning"], terminal: true).progressBar)
    }

    /// `--local-workers N`: the learner binds inproc:// beside its usual endpoints, and its
    /// in-process workers connect there with the learner's environment and distinct seeds.
    @Test func localWorkersSpeakInprocWithTheLearnersEnvironment() throws {
        let options = try LearnerOptions.parse(["--env", "CartPole-v1", "--local-workers", "3", "--local-num-envs", "4", "--data-port", "0"])
        let c = try options.config(isTerminal: false)
        #expect(c.dataEndpoints == ["inproc://tributary-data", "tcp://127.0.0.1:*"])
        #expect(c.weightsEndpoints.first == "inproc://tributary-weights" && c.controlEndpoints.first == "inproc://tributary-control")
        let workers = options.local.workers(for: c)
        #expect(workers.count == 3)
        #expect(workers.allSatisfy { $0.dataEndpoint == "inproc://tributary-data" && $0.envID == "CartPole-v1" && $0.numEnvs == 4 })
        #expect(Set(workers.map(\.seed)).count == 3 && Set(workers.map(\.workerID)).count == 3)
        #expect(try LearnerOptions.parse([]).local.workers(for: config([])).isEmpty)
    }

    /// The resolved configuration is Codable and survives a round trip whole.
    @Test func theConfigurationRoundTripsThroughJSON() throws {
        let c = try config(["--env", "Pendulum-v1", "--eta", "2", "--order", "newest-first", "--target-return", "-150",
                            "--curve-secret-key", "/k/learner.key_secret", "--allow-keys", "/k/allowed", "--bind", "0.0.0.0"])
        let back = try JSONDecoder().decode(LearnerConfig.self, from: JSONEncoder().encode(c))
        #expect(back == c)
    }
}

@Suite struct WorkerOptionsTests {
    @Test func hostAndPortsMakeTheEndpoints() throws {
        let c = try WorkerOptions.parse(["--learner", "10.0.0.5", "--data-port", "6000", "--env", "CartPole-v1", "--seed", "7"]).config()
        // Weights and control follow the data port (+1, +2) unless given, as the learner lays them out.
        #expect(c.dataEndpoint == "tcp://10.0.0.5:6000" && c.weightsEndpoint == "tcp://10.0.0.5:6001" && c.controlEndpoint == "tcp://10.0.0.5:6002")
        let own = try WorkerOptions.parse(["--learner", "10.0.0.5", "--data-port", "6000", "--control-port", "7000"]).config()
        #expect(own.weightsEndpoint == "tcp://10.0.0.5:6001" && own.controlEndpoint == "tcp://10.0.0.5:7000")
        #expect(c.envID == "CartPole-v1" && c.seed == 7)
        let explicit = try WorkerOptions.parse(["--data", "ipc:///tmp/d"]).config()
        #expect(explicit.dataEndpoint == "ipc:///tmp/d")
        // HOST:PORT names the data port; the other two follow it, as the learner lays them out.
        let hostPort = try WorkerOptions.parse(["--learner", "gpu3.lab:7000"]).config()
        #expect(hostPort.dataEndpoint == "tcp://gpu3.lab:7000" && hostPort.weightsEndpoint == "tcp://gpu3.lab:7001"
                && hostPort.controlEndpoint == "tcp://gpu3.lab:7002")
        #expect(try WorkerOptions.parse(["--learner", "[::1]:7000"]).config().controlEndpoint == "tcp://[::1]:7002")
        #expect(try WorkerOptions.parse(["--learner", "::1"]).config().dataEndpoint == "tcp://[::1]:5555")
        for bad in ["tcp://10.0.0.5:5555", "10.0.0.5:x", "10.0.0.5:70000", ":5555"] {
            #expect(throws: ConfigError.self, "\(bad)") { try WorkerOptions.parse(["--learner", bad]).config() }
        }
    }

    /// Without --seed every worker process gets its own streams; with it, exactly that seed.
    @Test func seedsDifferPerWorkerUnlessGiven() throws {
        #expect(try WorkerOptions.parse([]).config().seed == nil)
        #expect(try WorkerOptions.parse(["--seed", "7"]).config().seed == 7)
        let a = WorkerConfig.derivedSeed(workerID: "host/1", incarnation: 5)
        #expect(a == WorkerConfig.derivedSeed(workerID: "host/1", incarnation: 5))
        #expect(a != WorkerConfig.derivedSeed(workerID: "host/2", incarnation: 5))
        #expect(a != WorkerConfig.derivedSeed(workerID: "host/1", incarnation: 6))
    }

    /// `--sessions N`: session i is worker `ID#i` with seed + i; one session is the worker as given.
    @Test func sessionsAreWorkersOfTheirOwn() throws {
        let c = try WorkerOptions.parse(["--worker-id", "m", "--sessions", "3", "--seed", "10"]).config()
        #expect(c.sessions == 3)
        #expect((0..<3).map { c.session($0).workerID } == ["m#0", "m#1", "m#2"])
        #expect((0..<3).map { c.session($0).seed } == [10, 11, 12])
        #expect(c.session(2).sessions == 1)
        let one = try WorkerOptions.parse(["--worker-id", "m"]).config()
        #expect(one.session(0).workerID == "m" && one.sessions == 1)
        #expect(try WorkerOptions.parse(["--worker-id", "m", "--sessions", "2"]).config().session(1).seed == nil)
        for bad in ["0", "1025"] {
            #expect(throws: ConfigError.self) { try WorkerOptions.parse(["--sessions", bad]).config() }
        }
    }

    @Test func badValuesAreRefused() throws {
        #expect(throws: ConfigError.self) { try WorkerOptions.parse(["--data-port", "70000"]).config() }
        #expect(throws: ConfigError.self) { try WorkerOptions.parse(["--num-envs", "0"]).config() }
        #expect(throws: ConfigError.self) { try WorkerOptions.parse(["--curve-secret-key", "/nonexistent"]).config() }
    }
}

@Suite struct RewardThresholdTests {
    @Test func theRegistryKnowsWhatSolvedMeans() {
        #expect(EnvironmentRegistry.rewardThreshold("CartPole-v1") == 475)
        #expect(EnvironmentRegistry.rewardThreshold("Acrobot-v1") == -100)
        #expect(EnvironmentRegistry.rewardThreshold("MountainCar-v0") == -110)
        #expect(EnvironmentRegistry.rewardThreshold("Pendulum-v1") == -200)
        #expect(EnvironmentRegistry.rewardThreshold("Pong-v5") == nil)
    }
}
