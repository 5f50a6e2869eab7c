import ArgumentParser
import BuildInfo
import Launch
import Foundation
import Monitor
import Protocol
import Transport
import SafeIO

/// `tributary`: the operator's view of a running learner.
@main
struct TributaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary",
        abstract: "Inspect a running Tributary learner.",
        version: BuildInfo.versionLine,
        subcommands: [Status.self, Top.self, Staleness.self, Workers.self, Plot.self, Eval.self, Export.self, Demo.self, Keys.self])

    /// Errors as one line (`tributary: …`), without the usage screen.
    static func main() async { await CommandMain.run(Self.self, arguments: Array(CommandLine.arguments.dropFirst()), tool: "tributary") }
}

/// Flags every query command shares.
struct QueryOptions: ParsableArguments {
    @Option(help: "The learner's control socket: HOST[:PORT] (port 5557 by default) or an endpoint.")
    var learner = "127.0.0.1"
    @Option(help: "Give up after this many seconds without an answer.")
    var timeout: Double = 3
    @Flag(help: "Print JSON instead of text: status and top the StatusReply message, workers {\"workers\", \"refused\"}, staleness its report (schemas in docs/operations.md, \"JSON schemas\").")
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

        @OptionGroup var options: QueryOptions

        func run() async throws {
            let status = try await TributaryCommand.fetchStatus(options)
            print(options.json ? try StatusFormatter.json(status) : StatusFormatter.text(status, width: Terminal.outputWidth()))
        }
    }
}

extension TributaryCommand {
    /// Fetches one status reply, or exits 2 with a one-line reason.
    static func fetchStatus(_ options: QueryOptions) async throws -> Tributary_V1_StatusReply {
        do {
            return try await options.fetch()
        } catch let failure as StatusClient.Failure {
            StandardStream.error.write("tributary: \(failure.description)\n")
            throw ExitCode(2)
        }
    }
}
