import ArgumentParser
import Foundation
import SafeIO

/// How the executables end on an error: one line naming the tool and the flag, with a pointer to
/// `--help`, instead of ArgumentParser's message followed by the usage screen. Help and
/// `--version` print as usual; exit codes are ArgumentParser's (64 for a bad flag or value).
public enum CommandMain {
    public static func run<Command: AsyncParsableCommand>(_: Command.Type, arguments: [String], tool: String) async {
        do {
            var command = try await Command.asyncParseAsRoot(joiningNegativeNumbers(arguments))
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = Command.exitCode(for: error)
            // Help, --version and ExitCode(n) thrown after a message was written: ArgumentParser's way.
            if code == .success || error is ExitCode { Command.exit(withError: error) }
            let message = Command.message(for: error).oneLine
            // An ExitCode thrown by validate() arrives wrapped, its message already written.
            if message.isEmpty { Foundation.exit(code.rawValue) }
            let hint = code == .validationFailure && !message.contains("--help") ? " (see \(tool) --help)" : ""
            StandardStream.error.writeLine("\(tool): \(message)\(hint)")
            Foundation.exit(code.rawValue)
        }
    }

    /// `--flag -3` as `--flag=-3`: ArgumentParser reads a lone `-3` as an option and reports a
    /// missing value. None of the tools takes a negative number as a positional argument.
    public static func joiningNegativeNumbers(_ arguments: [String]) -> [String] {
        var out: [String] = []
        for token in arguments {
            if let last = out.last, last.hasPrefix("--"), !last.contains("="), last != "--",
               token.range(of: #"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"#, options: .regularExpression) != nil {
                out[out.count - 1] = last + "=" + token
            } else {
                out.append(token)
            }
        }
        return out
    }
}
