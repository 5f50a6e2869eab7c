import ArgumentParser
import Foundation
import NeuralNet
import SafeIO

/// How the executables end on an error: one line naming the tool and the flag, with a pointer to
/// `--help`, instead of ArgumentParser's message followed by the usage screen. Help and
/// `--version` print as usual; exit codes are ArgumentParser's (64 for a bad flag or value).
public enum CommandMain {
    public static func run<Command: AsyncParsableCommand>(_: Command.Type, arguments: [String], tool: String) async {
        // Before anything else: OpenBLAS's idle threads would spin through start-up (BLAS.swift).
        BLAS.startSingleThreaded()
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
               isNegativeNumber(token) {
                out[out.count - 1] = last + "=" + token
            } else {
                out.append(token)
            }
        }
        return out
    }

    /// `-3`, `-2.5`, `-.5`, `-1e-3`: a minus sign, digits with at most one point, and an
    /// optional exponent. Written out rather than as a regular expression: that one call
    /// loaded ICU and compiled a pattern in every process start (~4 % of `tributary status`).
    public static func isNegativeNumber(_ token: String) -> Bool {
        var rest = Substring(token)
        guard rest.popFirst() == "-" else { return false }
        let mantissa = rest.prefix { $0 != "e" && $0 != "E" }
        var exponent = rest.dropFirst(mantissa.count)
        let isDigit: (Character) -> Bool = { ("0"..."9").contains($0) }
        let digits = mantissa.filter(isDigit).count
        let points = mantissa.filter { $0 == "." }.count
        guard digits > 0, points <= 1, digits + points == mantissa.count else { return false }
        if exponent.isEmpty { return true }
        exponent = exponent.dropFirst()
        if exponent.first == "-" || exponent.first == "+" { exponent = exponent.dropFirst() }
        return !exponent.isEmpty && exponent.allSatisfy(isDigit)
    }
}
