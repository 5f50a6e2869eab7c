import Foundation
import Launch
import Learner
import Testing

/// Flags > TRIBUTARY_* environment > config file > preset > defaults, with one-line errors that
/// name the key and where it was set.
@Suite struct ConfigLayersTests {
    let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("config-layers-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    func file(_ text: String, name: String = "learner.yaml") throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    func resolve(_ commandLine: [String], environment: [String: String] = [:]) throws -> (ConfigLayers, LearnerConfig) {
        let layers = try ConfigLayers(LearnerOptions.self, commandLine: commandLine, environment: environment)
        return (layers, try LearnerOptions.parse(layers.arguments).config(isTerminal: false))
    }

    func failure(_ commandLine: [String], environment: [String: String] = [:]) -> String {
        do {
            let layers = try ConfigLayers(LearnerOptions.self, commandLine: commandLine, environment: environment)
            do {
                _ = try LearnerOptions.parse(layers.arguments).config(isTerminal: false)
            } catch let error as ConfigError {
                return layers.explain(error.description)
            }
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test func eachLayerOverridesTheOneBelow() throws {
        let path = try file("""
            env: Acrobot-v1          # preset: learning rate 1e-3, entropy 0.01
            data-port: 6000
            weights-port: 6001
            control-port: 6002
            entropy-cost: 0.02
            eta: 4
            """)
        let (layers, c) = try resolve(["--config", path, "--control-port", "7002"],
                                      environment: ["TRIBUTARY_WEIGHTS_PORT": "7001", "TRIBUTARY_BIN_DIR": "/unrelated"])
        #expect(c.envID == "Acrobot-v1")
        #expect(c.dataEndpoints == ["tcp://127.0.0.1:6000"], "the file")
        #expect(c.weightsEndpoints == ["tcp://127.0.0.1:7001"], "the environment beats the file")
        #expect(c.controlEndpoints == ["tcp://127.0.0.1:7002"], "the command line beats both")
        #expect(c.training.entropyCost == 0.02, "the file beats the preset")
        #expect(c.training.learningRate == 1e-3, "the preset fills what no layer set")
        #expect(c.buffer.eta == 4)
        #expect(layers.settings["weights-port"]?.source == .environment(variable: "TRIBUTARY_WEIGHTS_PORT"))
        #expect(layers.settings["data-port"]?.source == .file(path: path, line: 2))
        #expect(layers.settings["control-port"]?.source == .commandLine)
    }

    @Test func theEnvironmentNamesTheFileAndTheFlagStillWins() throws {
        let a = try file("env: CartPole-v1\nseed: 5\n", name: "a.yaml")
        let b = try file("env: Pendulum-v1\n", name: "b.yaml")
        #expect(try resolve([], environment: ["TRIBUTARY_CONFIG": a]).1.training.seed == 5)
        #expect(try resolve(["--config=\(b)"], environment: ["TRIBUTARY_CONFIG": a]).1.envID == "Pendulum-v1")
    }

    @Test func listsSwitchesAndWordsReadAsTheFlagsDo() throws {
        let path = try file("""
            bind: 0.0.0.0
            insecure: yes
            data: [tcp://127.0.0.1:6100, ipc:///tmp/tributary-data]
            max-lag: none
            checkpoint-seconds: off
            no-progress: false
            target-return: -100
            hidden: 32,32
            max-updates: ~
            """)
        let (_, c) = try resolve(["--config", path])
        #expect(c.insecure)
        #expect(c.dataEndpoints == ["tcp://127.0.0.1:6100", "ipc:///tmp/tributary-data"])
        #expect(c.weightsEndpoints == ["tcp://0.0.0.0:5556"])
        #expect(c.buffer.policy.maxLag == nil && c.checkpointInterval == nil)
        #expect(c.training.targetReturn == -100 && c.training.hidden == [32, 32])
        #expect(c.training.maxUpdates == nil, "~ leaves the default")
        let (_, e) = try resolve([], environment: ["TRIBUTARY_DATA": "tcp://127.0.0.1:6200,tcp://127.0.0.1:6201", "TRIBUTARY_INSECURE": "true",
                                                   "TRIBUTARY_BIND": "0.0.0.0"])
        #expect(e.dataEndpoints == ["tcp://127.0.0.1:6200", "tcp://127.0.0.1:6201"] && e.insecure)
    }

    @Test func errorsAreOneLineAndNameTheKeyAndWhereItWasSet() throws {
        let typo = try file("env: CartPole-v1\ndata-prot: 6000\n", name: "typo.yaml")
        #expect(failure(["--config", typo]) == "\(typo):2: unknown key 'data-prot' (did you mean data-port?); the keys are the flags without --, see --help")
        let badValue = try file("data-port: lots\n", name: "value.yaml")
        #expect(failure(["--config", badValue]).hasPrefix("\(badValue):1: data-port: The value 'lots' is invalid"))
        let range = try file("env: CartPole-v1\ngamma: 2\n", name: "range.yaml")
        #expect(failure(["--config", range]) == "the discount γ (--gamma) must be in (0, 1], not 2.0 (gamma from \(range):2)")
        #expect(failure([], environment: ["TRIBUTARY_ETA": "soon"]).hasPrefix("TRIBUTARY_ETA: eta: The value 'soon' is invalid"))
        let yaml = try file("env: [CartPole\n", name: "broken.yaml")
        #expect(failure(["--config", yaml]).hasPrefix("config file \(yaml): not valid YAML"))
        #expect(!failure(["--config", yaml]).contains("\n"))
        #expect(failure(["--config", directory.appendingPathComponent("missing.yaml").path]).contains("cannot read it"))
        let switchValue = try file("insecure: maybe\n", name: "switch.yaml")
        #expect(failure(["--config", switchValue]) == "\(switchValue):1: insecure is a switch: true or false, not 'maybe'")
        let list = try file("seed: [1, 2]\n", name: "list.yaml")
        #expect(failure(["--config", list]) == "\(list):1: seed takes one value, not a list")
        let notMap = try file("- env\n", name: "list-root.yaml")
        #expect(failure(["--config", notMap]).contains("expected a mapping of flag names to values"))
        let command = try file("print-config: true\n", name: "command.yaml")
        #expect(failure(["--config", command]).contains("unknown key 'print-config'"))
    }

    /// What `--print-config` prints (and a run's config.yaml holds) reads back as the same
    /// configuration, so a run can be repeated from it.
    @Test func theResolvedConfigurationReadsBackTheSame() throws {
        let path = try file("""
            env: Acrobot-v1
            eta: 2
            data: [tcp://127.0.0.1:6300]
            target-return: -90.5
            correction: ppo
            no-metrics: true
            """)
        let (layers, original) = try resolve(["--config", path, "--entropy-cost", "0.03", "--run-id", "x"],
                                             environment: ["TRIBUTARY_LEARNING_RATE": "0.0007"])
        let printed = Launcher.printableConfig(layers, config: original)
        #expect(printed.contains("learning-rate: 0.0007  # TRIBUTARY_LEARNING_RATE"))
        #expect(printed.contains("batch-columns: 32  # preset of Acrobot-v1"))
        let again = try file(printed, name: "printed.yaml")
        let (_, repeated) = try resolve(["--config", again])
        #expect(repeated == original)
    }
}

@Suite struct CommandMainTests {
    /// `--timeout -1`, `--gamma -2`: a negative number after an option is its value.
    @Test func negativeNumbersAfterAnOptionAreItsValue() throws {
        #expect(CommandMain.joiningNegativeNumbers(["--target-return", "-100", "--gamma", "-2.5e-1", "--x", "-.5"])
                == ["--target-return=-100", "--gamma=-2.5e-1", "--x=-.5"])
        #expect(CommandMain.joiningNegativeNumbers(["--seed=3", "-1"]) == ["--seed=3", "-1"], "a value given with = is complete")
        #expect(CommandMain.joiningNegativeNumbers(["--env", "-h"]) == ["--env", "-h"], "options stay options")
        let c = try LearnerOptions.parse(CommandMain.joiningNegativeNumbers(["--env", "Acrobot-v1", "--target-return", "-90", "--run-id", "r"]))
            .config(isTerminal: false)
        #expect(c.training.targetReturn == -90 && c.runID == "r")
    }

    /// What the regular expression `^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$` accepted, and only that.
    @Test func aNegativeNumberIsWhatTheOldPatternAccepted() {
        for yes in ["-3", "-100", "-2.5", "-.5", "-5.", "-1e-3", "-1E+10", "-2.5e1", "-0"] {
            #expect(CommandMain.isNegativeNumber(yes), "\(yes)")
        }
        for no in ["", "-", "-.", "-e5", "-1e", "-1e+", "-1.2.3", "-h", "--x", "-1x", "-inf", "-nan", "-0x10", "3", "-1e5.0", "- 1", "-١"] {
            #expect(!CommandMain.isNegativeNumber(no), "\(no)")
        }
    }
}
