import ArgumentParser
import Foundation
import Monitor
import Protocol
import Transport

/// `tributary`: the operator's view of a running learner.
@main
struct TributaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary",
        abstract: "Inspect a running Tributary learner.",
        subcommands: [Status.self, Top.self, Staleness.self, Workers.self, Plot.self, Demo.self, Keys.self])
}

/// Flags every query command shares.
struct LearnerOptions: ParsableArguments {
    @Option(help: "The learner's control socket: HOST[:PORT] (port 5557 by default) or an endpoint.")
    var learner = "127.0.0.1"
    @Option(help: "Give up after this many seconds without an answer.")
    var timeout: Double = 3
    @Flag(help: "Print JSON (the StatusReply message in protobuf's JSON mapping) instead of text.")
    var json = false
    @Option(help: "CURVE: the learner's public key file (its NAME.key).") var curveServerKey: String?
    @Option(help: "CURVE: this operator's secret key file (NAME.key_secret, enrolled in the learner's --allow-keys).")
    var curveSecretKey: String?

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        _ = try keys()
    }

    func keys() throws -> ClientKeys? {
        do throws(KeyFileError) {
            return try ClientKeys.load(serverKeyFile: curveServerKey, secretKeyFile: curveSecretKey)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// One status reply from the learner (StatusClient.Failure with a one-line reason otherwise).
    func fetch() async throws -> Tributary_V1_StatusReply {
        try await StatusClient.fetch(endpoint: StatusClient.endpoint(learner: learner), timeout: .milliseconds(Int(timeout * 1000)),
                                     keys: try keys())
    }
}

extension TributaryCommand {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show run, counters and workers in one screen.")

        @OptionGroup var options: LearnerOptions

        func run() async throws {
            let status = try await TributaryCommand.fetchStatus(options)
            print(options.json ? try StatusFormatter.json(status) : StatusFormatter.text(status))
        }
    }
}

extension TributaryCommand {
    /// Fetches one status reply, or exits 2 with a one-line reason.
    static func fetchStatus(_ options: LearnerOptions) async throws -> Tributary_V1_StatusReply {
        do {
            return try await options.fetch()
        } catch let failure as StatusClient.Failure {
            FileHandle.standardError.write(Data("tributary: \(failure.description)\n".utf8))
            throw ExitCode(2)
        }
    }

    struct Staleness: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The version lag of trained and dropped samples, overall and per worker.")

        @OptionGroup var options: LearnerOptions
        @Flag(help: "A row per worker incarnation too.") var byWorker = false
        @Flag(help: "Refresh until interrupted.") var watch = false
        @Option(help: "Seconds between refreshes with --watch.") var interval = 2.0

        func validate() throws {
            guard interval > 0 else { throw ValidationError("--interval must be positive") }
        }

        func run() async throws {
            let tty = isatty(STDOUT_FILENO) == 1
            repeat {
                let status = try await TributaryCommand.fetchStatus(options)
                let body = options.json ? try StalenessView.json(status, byWorker: byWorker) : StalenessView.text(status, byWorker: byWorker)
                // On a terminal --watch redraws in place; otherwise it appends (logs, pipes).
                print((watch && tty && !options.json ? "\u{1B}[H\u{1B}[2J" : "") + body)
                if watch { try await Task.sleep(for: .milliseconds(Int(interval * 1000))) }
            } while watch
        }
    }

    struct Top: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A live view: rates, buffer gauges, the staleness histogram and a row per worker. q or Ctrl-C quits.")

        @OptionGroup var options: LearnerOptions
        @Option(help: "Seconds between refreshes.") var interval = 1.0
        @Flag(help: "Print one frame (80×24 unless on a terminal) and exit; the default when not on a terminal.") var once = false

        func validate() throws {
            guard interval > 0 else { throw ValidationError("--interval must be positive") }
        }

        func run() async throws {
            let learner = StatusClient.endpoint(learner: options.learner)
            if once || !Terminal.isInteractive || options.json {
                let status = try await TributaryCommand.fetchStatus(options)
                if options.json {
                    print(try StatusFormatter.json(status))
                } else {
                    let size = Terminal.isInteractive ? Terminal.size : (80, 24)
                    print(TopView.render(status, columns: size.0, rows: size.1, learner: learner).joined(separator: "\n"))
                }
                return
            }
            // Check the learner answers before taking over the screen.
            var status = try await TributaryCommand.fetchStatus(options)
            let terminal = Terminal()
            terminal.enter()
            defer { terminal.leave() }
            var note = ""
            while true {
                let size = Terminal.size
                var lines = TopView.render(status, columns: size.columns, rows: size.rows, learner: learner)
                if !note.isEmpty { lines[lines.count - 1] = String(note.prefix(size.columns - 1)) }
                terminal.draw(lines)
                if terminal.waitForQuit(timeout: .milliseconds(Int(interval * 1000))) { return }
                do {
                    status = try await options.fetch()
                    note = ""
                } catch let failure as StatusClient.Failure {
                    // Keep the last frame and say why it is not moving; q still quits.
                    note = "stale: \(failure.description)"
                }
            }
        }
    }

    struct Workers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every worker incarnation the learner knows: connected ones, and those that left and why.")

        @OptionGroup var options: LearnerOptions

        func run() async throws {
            let status = try await TributaryCommand.fetchStatus(options)
            if options.json {
                print(try StatusFormatter.json(status, workersOnly: true))
            } else {
                print(StatusFormatter.workerTable(status.workers).joined(separator: "\n"))
            }
        }
    }
}

extension TributaryCommand {
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the main job locally: a learner and rollout workers, separate processes over ZeroMQ, learning an environment.")

        @Option(help: "Rollout worker processes.") var workers = 2
        @Option(help: "Environment: CartPole-v1, Acrobot-v1, MountainCar-v0 or Pendulum-v1 (continuous).") var env = "CartPole-v1"
        @Option(help: "Stop when the mean return of the last 100 episodes reaches this (default: 475 for CartPole-v1, -100 for Acrobot-v1, -110 for MountainCar-v0, -200 for Pendulum-v1).")
        var targetReturn: Double?
        @Option(help: "Environment copies per worker.") var numEnvs = 16
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
        }

        func run() async throws {
            let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            var runner = DemoRunner(binDirectory: binDir.map { URL(fileURLWithPath: $0) } ?? here)
            runner.workers = workers
            runner.envID = env
            runner.targetReturn = targetReturn ?? ["CartPole-v1": 475, "Acrobot-v1": -100, "MountainCar-v0": -110, "Pendulum-v1": -200][env] ?? 0
            runner.envsPerWorker = numEnvs
            runner.budget = .seconds(seconds)
            runner.seed = seed
            runner.learnerArguments = learnerArg
            runner.json = json
            runner.standardPorts = !ephemeralPorts
            do {
                try await runner.run()
            } catch let failure as DemoRunner.Failure {
                FileHandle.standardError.write(Data("tributary demo: \(failure.description)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}

extension TributaryCommand {
    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "CURVE keys for the learner, its workers and its operators (docs/security.md).",
            subcommands: [Generate.self])

        struct Generate: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write a new key pair: DIR/NAME.key (public: give it to the other side) and DIR/NAME.key_secret (mode 0600: keep it).")

            @Argument(help: "The key's name, as the learner will show it (e.g. learner, worker-gpu3, alice).") var name: String
            @Option(help: "Folder for the two files.") var dir = "keys"
            @Option(help: "worker (may stream data, fetch weights, query status) or operator (weights and status only).")
            var role = "worker"
            @Flag(help: "Replace existing files of that name.") var force = false

            func validate() throws {
                guard ["worker", "operator"].contains(role) else { throw ValidationError("--role is worker or operator, not '\(role)'") }
                guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.@".contains($0) }), !name.hasPrefix(".") else {
                    throw ValidationError("the name may use letters, digits and - _ . @ only (it becomes a file name)")
                }
            }

            func run() throws {
                let directory = URL(fileURLWithPath: dir)
                let secret = directory.appendingPathComponent("\(name).key_secret")
                if !force, FileManager.default.fileExists(atPath: secret.path) {
                    FileHandle.standardError.write(Data("tributary: \(secret.path) exists; pass --force to replace it\n".utf8))
                    throw ExitCode(2)
                }
                let (pub, sec) = try CurveKeyPair.generate(name: name, role: role).write(to: directory)
                print("public key \(pub.path)  (give it to the learner's --allow-keys, or to workers as --curve-server-key)")
                print("secret key \(sec.path)  (mode 0600; pass it as --curve-secret-key; never copy it elsewhere)")
            }
        }
    }
}
