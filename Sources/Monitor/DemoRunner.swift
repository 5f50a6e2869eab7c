import Events
import Foundation
import Locking
import Protocol
import Telemetry
import SafeIO

/// Runs the main job on one machine: a `learner` and N `rollout-worker` processes (real
/// processes, ZeroMQ over loopback) learning an environment, a progress line while they run,
/// and a summary. Stops when the learner reaches the target return (it then exits by itself)
/// or when the time budget runs out, and says which.
public struct DemoRunner {
    public var binDirectory: URL
    public var workers = 2
    public var envID = "CartPole-v1"
    public var targetReturn = 475.0
    public var envsPerWorker = 16
    /// Seeds the network (learner) and, with the worker's index, each worker's environments.
    public var seed: UInt64 = 1
    /// Extra learner flags (e.g. hyper-parameters: `--learning-rate=1e-3`).
    public var learnerArguments: [String] = []
    /// Also print the summary as one JSON object (for scripts and benchmarks).
    public var json = false
    /// Longest the demo may run before it stops and reports the target as not reached.
    public var budget: Duration = .seconds(120)
    /// Bind the learner's usual ports on 127.0.0.1 (data 5555, weights 5556, control 5557,
    /// metrics 5558), so `tributary status`/`top` and a Prometheus scrape find it with their
    /// defaults; false binds ephemeral ports (scripts and tests running several at once).
    public var standardPorts = true
    public var output: (String) -> Void = { StandardStream.output.write($0) }

    public init(binDirectory: URL) {
        self.binDirectory = binDirectory
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public func run() async throws {
        let isTTY = isatty(STDOUT_FILENO) == 1
        // Ctrl-C (or SIGTERM/SIGHUP) ends the run in order: workers, then the learner, then a
        // summary of what was reached. A second one stops everything at once.
        let interrupted = Mutex<Int32?>(nil)
        ChildProcess.stopChildrenOnSignals(announce: { _ in
            StandardStream.output.write(((isTTY ? "\n" : "") + "interrupted again: stopping the learner and workers now\n"))
        }, first: { sig in
            interrupted.withLock { $0 = sig }
            return true
        })
        let started = ContinuousClock.now
        let startedUnix = Date().timeIntervalSince1970
        let ports = standardPorts ? [] : ["--data-port", "0", "--weights-port", "0", "--control-port", "0", "--metrics-port", "0"]
        let learner = try ChildProcess(binDirectory.appendingPathComponent("learner"),
                                       ["--bind", "127.0.0.1"] + ports + ["--env", envID, "--target-return=\(targetReturn)", "--seed", String(seed),
                                        "--log-level", "warning"] + learnerArguments)
        guard let ready = try? learner.event(LearnerReady.self),
              let data = ready.data.first, let weights = ready.weights.first, let control = ready.control.first
        else {
            let busy = learner.stderr.contains("Address already in use") && standardPorts
            throw Failure(description: "the learner did not start: \(learner.stderr.suffix(2000))"
                + (busy ? "\n(another learner holds ports 5555-5558? stop it, or run the demo with --ephemeral-ports)" : ""))
        }
        let metrics = ready.metrics
        output("learner \(ready.runID) learning \(envID) on \(data) (weights \(weights), control \(control)\(metrics.map { ", metrics \($0)/metrics" } ?? ""))\n")
        if standardPorts {
            output("watch it from another shell: tributary status | tributary top | tributary staleness --by-worker\(metrics.map { " | curl -s \($0)/metrics" } ?? "")\n")
        } else {
            output("watch it from another shell: tributary top --learner \(control)\n")
        }
        var children: [ChildProcess] = []
        for i in 0..<workers {
            children.append(try ChildProcess(binDirectory.appendingPathComponent("rollout-worker"),
                                             ["--data", data, "--weights", weights, "--control", control, "--worker-id", "demo-\(i)",
                                              "--env", envID, "--num-envs", String(envsPerWorker), "--seed", String(seed &* 1000 &+ UInt64(i) &+ 1),
                                              "--log-level", "warning"]))
        }
        output("\(workers) rollout workers × \(envsPerWorker) environments; target: mean return of the last 100 episodes ≥ \(targetReturn), budget \(budget)\n")
        var lagMax: UInt64 = 0
        var lagMin = UInt64.max
        var lagMeans: [Double] = []
        var progress = ProgressLine(isTerminal: isTTY, width: isTTY ? Terminal.size.columns : 80, plainInterval: .seconds(2))
        var toTarget = ReturnProgress(target: targetReturn)
        while ContinuousClock.now - started < budget, learner.process.isRunning, interrupted.withLock({ $0 }) == nil {
            // Every 250 ms (a plain line every 2 s off a terminal); the learner exits by itself
            // at the target, and a status request to a learner that just left would only wait
            // out its timeout (kept short: a missed line is better than a late stop).
            for _ in 0..<5 where learner.process.isRunning && interrupted.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(50)) }
            guard learner.process.isRunning,
                  let s = try? await StatusClient.fetch(endpoint: control, timeout: .milliseconds(250), includeWorkers: false)
            else { continue }
            lagMax = max(lagMax, s.lagMax)
            if s.updates > 0 { lagMin = min(lagMin, s.lagMin) }
            if s.updates > 0 { lagMeans.append(s.lagMean) }
            let fraction = toTarget.fraction(meanReturn: s.meanReturn100, episodes: s.episodes)
            let detail = String(format: "return %@/%g  steps %@  version %llu  lag %.1f/%llu  workers %u",
                                TextFormat.score(s.meanReturn100), targetReturn, group(s.stepsReceived), s.policyVersion, s.lagMean, s.lagMax, s.workersConnected)
            if let line = progress.render(fraction: fraction, rate: "\(group(UInt64(s.envStepsPerSecond))) steps/s", detail: detail) {
                output(line)
            }
        }
        if isTTY { output("\n") }
        let signal = interrupted.withLock { $0 }
        if signal != nil { output("interrupted: stopping the workers and the learner, then a summary (Ctrl-C again stops at once)\n") }
        // The learner stops by itself at the target; what follows is orderly shutdown.
        let wall = ContinuousClock.now - started
        for c in children { c.signal(SIGTERM) }
        for c in children { c.waitExit(timeout: 10) }
        learner.signal(SIGTERM)
        guard learner.waitExit(timeout: 10) == 0, let summary = try? learner.event(LearnerSummary.self, timeout: 2)
        else { throw Failure(description: "the learner did not stop cleanly: \(learner.stderr.suffix(2000))") }
        let status = summary.status
        // Chunks a worker sent while the learner was stopping are refused as shutting_down:
        // expected at the end of every run, so named rather than left to alarm.
        let rejectedTotal = status.rejected.values.reduce(0, +)
        let rejected = rejectedTotal == 0 ? "0" : "\(rejectedTotal) (" + status.rejected.sorted { $0.key < $1.key }.map {
            $0.key == "shutting_down" ? "\($0.value) sent while the learner was stopping" : "\($0.key) \($0.value)"
        }.joined(separator: ", ") + ")"
        let meanReturn = status.meanReturn100
        let outcome: String
        if let solved = summary.solved {
            outcome = String(format: "solved %.1f s after launch, %.1f s of training (%@ env steps, %@ updates)",
                             solved.unixTime - startedUnix, solved.seconds, group(solved.steps), group(solved.updates))
        } else if signal != nil {
            outcome = String(format: "interrupted after %.1f s, not solved (mean return of the last 100 episodes: %@ of %g)",
                             wall.inSeconds, TextFormat.score(meanReturn), targetReturn)
        } else {
            outcome = String(format: "NOT solved within the %@ budget (mean return of the last 100 episodes: %@)", "\(budget)", TextFormat.score(meanReturn))
        }
        let lagMean = lagMeans.isEmpty ? 0 : lagMeans.reduce(0, +) / Double(lagMeans.count)
        // Start-up: from launching the first process to the first environment step of any worker.
        let firstStep = children.flatMap { $0.events(WorkerActing.self) }.map(\.unixTime).min()
        let startup = firstStep.map { $0 - startedUnix }
        let wallSeconds = wall.inSeconds
        output("""
            summary
              \(envID)        \(outcome)
              wall time          \(String(format: "%.1f", wallSeconds)) s (from launching the processes to the learner stopping)
              start-up           \(startup.map { String(format: "%.2f s", $0) } ?? "no environment step") (from launching the learner to the first environment step)
              env steps          \(group(status.stepsReceived)), \(group(status.episodes)) episodes
              updates            \(group(status.updates)) (policy version \(status.policyVersion))
              version lag        min \(lagMin == .max ? 0 : lagMin), mean \(String(format: "%.2f", lagMean)), max \(lagMax) (of the updates sampled by the progress lines)
              chunks             accepted \(group(status.chunksAccepted)), consumed \(group(status.chunksConsumed)), rejected \(rejected)
              run directory      \(summary.runDirectory ?? "none") (config.json, metrics.jsonl, TensorBoard events, final parameters)

            """)
        if json {
            var event = DemoSummary(env: envID, seed: seed, workers: workers, envsPerWorker: envsPerWorker, solved: summary.solved != nil,
                                    wallS: wallSeconds, envSteps: status.stepsReceived, updates: status.updates, episodes: status.episodes,
                                    meanReturn100: meanReturn, lagMean: lagMean, lagMax: lagMax, runDirectory: summary.runDirectory)
            event.startupS = startup
            if let solved = summary.solved {
                event.solveTrainingS = solved.seconds
                event.solveSteps = solved.steps
                event.solveUpdates = solved.updates
                // From launching the processes to the target being reached.
                event.solveWallS = solved.unixTime - startedUnix
            }
            output(EventLine.encode(event) + "\n")
        }
        if let signal { throw Interrupted(signal: signal) }
    }

    /// The run was stopped by a signal (after its summary); the exit code is 128 + the signal.
    public struct Interrupted: Error {
        public var signal: Int32
    }

    private func group(_ v: UInt64) -> String { TextFormat.group(v) }
}
