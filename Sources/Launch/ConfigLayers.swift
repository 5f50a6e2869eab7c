import ArgumentParser
import Foundation
import Learner
import Yams

/// The flags of an executable, from four places (docs/operations.md, "Configuration"):
///
///     command-line flags  >  TRIBUTARY_* environment  >  the config file  >  (preset)  >  defaults
///
/// A config file (`--config FILE` or `TRIBUTARY_CONFIG=FILE`) is YAML whose keys are the long flag
/// names without `--`; `TRIBUTARY_DATA_PORT=6000` is `--data-port 6000`. Both are turned into
/// arguments in front of the command line's own, so ArgumentParser parses and checks every value,
/// whichever layer it came from, and there is one list of settings: the flags. Keys are distinct
/// across the layers (a key given on the command line is dropped from the environment's and the
/// file's), so the order of the arguments never decides anything.
///
/// The environment's preset sits below the file because a preset only fills the flags that no
/// layer set (`--learning-rate` and the like default to nil and take the preset's value).
public struct ConfigLayers: Sendable {
    /// Where a key's value came from, for error messages and `--print-config`.
    public enum Source: Sendable, Equatable, CustomStringConvertible {
        case commandLine
        case environment(variable: String)
        case file(path: String, line: Int)

        public var description: String {
            switch self {
            case .commandLine: "the command line"
            case .environment(let variable): variable
            case .file(let path, let line): "\(path):\(line)"
            }
        }
    }

    public struct Setting: Sendable, Equatable {
        /// The values as they would be typed after `--key` (a flag that is on: one "true").
        public var values: [String]
        public var source: Source
    }

    /// The flags, as ArgumentParser describes them.
    public let schema: OptionSchema
    /// Every key set by a layer, with the winning layer's values.
    public let settings: [String: Setting]
    /// What to hand to ArgumentParser: the environment's and the file's settings as arguments,
    /// then the command line as typed.
    public let arguments: [String]
    /// The config file read, if any.
    public let file: String?

    /// Keys that are not settings of a run.
    static let commandKeys: Set<String> = ["help", "version", "config", "print-config"]

    /// Reads the layers for `Options`. `commandLine` excludes the executable's name.
    public init<Options: ParsableArguments>(
        _ options: Options.Type, commandLine: [String], environment: [String: String]
    ) throws(ConfigError) {
        let schema = OptionSchema(options)
        self.schema = schema
        let typed = schema.scan(commandLine)
        var settings: [String: Setting] = typed.settings
        var given: [(String, Setting)] = []

        var environmentSettings: [String: Setting] = [:]
        for entry in schema.entries where !Self.commandKeys.contains(entry.name) {
            let variable = Self.environmentVariable(entry.name)
            guard let value = environment[variable] else { continue }
            let values = entry.isRepeating ? value.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } : [value]
            environmentSettings[entry.name] = Setting(values: values, source: .environment(variable: variable))
        }
        let file = typed.configFile ?? environment["TRIBUTARY_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        self.file = file
        var fileSettings: [String: Setting] = [:]
        if let file { fileSettings = try Self.read(path: file, schema: schema) }

        for layer in [environmentSettings, fileSettings] {
            for (key, setting) in layer.sorted(by: { $0.key < $1.key }) where settings[key] == nil {
                settings[key] = setting
                given.append((key, setting))
            }
        }
        // The layers' values together first (one parse: each costs ArgumentParser a reflection
        // pass over every option); when that fails, each value on its own, so the bad one is
        // reported with its key and where it was set.
        var arguments: [String] = []
        var perKey: [(key: String, setting: Setting, args: [String])] = []
        for (key, setting) in given {
            let args = try schema[key]!.arguments(setting.values, source: setting.source)
            perKey.append((key, setting, args))
            arguments += args
        }
        if !perKey.isEmpty, (try? Options.parse(arguments)) == nil {
            for (key, setting, args) in perKey {
                do {
                    _ = try Options.parse(args)
                } catch {
                    throw ConfigError("\(setting.source): \(key): \(Options.message(for: error).oneLine)")
                }
            }
        }
        self.settings = settings
        self.arguments = arguments + commandLine
    }

    /// This process's layers: its command line and environment. A config file or variable that
    /// cannot be read or holds a bad value ends the process with a one-line error and exit code
    /// 64 (EX_USAGE, as ArgumentParser's own validation errors).
    public static func forProcess<Options: ParsableArguments>(_ options: Options.Type, tool: String) -> ConfigLayers {
        do {
            return try ConfigLayers(options, commandLine: Array(CommandLine.arguments.dropFirst()),
                                    environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("\(tool): \(error.description)\n".utf8))
            exit(64)
        }
    }

    /// `TRIBUTARY_DATA_PORT` for `data-port`.
    public static func environmentVariable(_ key: String) -> String {
        "TRIBUTARY_" + key.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// The file's settings; a one-line error naming the file, the line and the key otherwise.
    static func read(path: String, schema: OptionSchema) throws(ConfigError) -> [String: Setting] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError("config file \(path): cannot read it (\((error as NSError).localizedFailureReason ?? error.localizedDescription))")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError("config file \(path): not valid YAML: \(String(describing: error).oneLine)")
        }
        guard let root else { return [:] }
        guard let mapping = root.mapping else {
            throw ConfigError("config file \(path): expected a mapping of flag names to values (e.g. `env: CartPole-v1`)")
        }
        var settings: [String: Setting] = [:]
        for (keyNode, valueNode) in mapping {
            let line = (keyNode.mark?.line ?? 0)
            guard let rawKey = keyNode.scalar?.string else { throw ConfigError("\(path):\(line): a key must be a flag name") }
            let key = rawKey.replacingOccurrences(of: "_", with: "-")
            guard schema[key] != nil, !commandKeys.contains(key) else {
                let hint = schema.closest(to: key).map { " (did you mean \($0)?)" } ?? ""
                throw ConfigError("\(path):\(line): unknown key '\(rawKey)'\(hint); the keys are the flags without --, see --help")
            }
            guard settings[key] == nil else { throw ConfigError("\(path):\(line): \(key) is set twice") }
            let values: [String]
            switch valueNode {
            case .scalar(let scalar):
                // An empty or ~ value leaves the flag at its default.
                if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) { continue }
                values = [scalar.string]
            case .sequence(let sequence):
                values = try sequence.map { item throws(ConfigError) in
                    guard let s = item.scalar?.string else { throw ConfigError("\(path):\(line): \(key): a list of plain values expected") }
                    return s
                }
            default:
                throw ConfigError("\(path):\(line): \(key) takes a value, not a mapping")
            }
            settings[key] = Setting(values: values, source: .file(path: path, line: line))
        }
        return settings
    }

    /// `message` with where each flag it names was set, when not on the command line:
    /// "--gamma must be in (0, 1] … (gamma: learner.yaml:4)".
    public func explain(_ message: String) -> String {
        let named = settings.filter { key, setting in setting.source != .commandLine && message.contains("--\(key)") }
        guard !named.isEmpty else { return message }
        return message + " (" + named.sorted { $0.key < $1.key }.map { "\($0.key) from \($0.value.source)" }.joined(separator: "; ") + ")"
    }

    /// Every setting as a YAML config file, in --help's sections: what each layer set, the
    /// defaults elsewhere, `resolved` on top (values only known once the configuration is
    /// resolved, such as the preset's, or the ports actually bound; they win). Keys in `omit` are left
    /// out; with `annotated`, each value that is not a default says where it came from.
    public func yaml(resolved: [String: (values: [String], source: String)] = [:], omit: Set<String> = [],
                     annotated: Bool = false, header: String) -> String {
        var out = header.split(separator: "\n", omittingEmptySubsequences: false).map { "# \($0)".trimmingCharacters(in: .whitespaces) }.joined(separator: "\n") + "\n"
        var section: String?? = .none
        for entry in schema.entries where !Self.commandKeys.contains(entry.name) && !omit.contains(entry.name) {
            if section != .some(entry.section) {
                section = .some(entry.section)
                out += "\n# \(entry.section ?? "General")\n"
            }
            let setting = settings[entry.name]
            let values = resolved[entry.name]?.values ?? setting?.values ?? entry.defaultValues
            let note = !annotated ? "" : resolved[entry.name].map { "  # \($0.source)" } ?? setting.map { "  # \($0.source)" } ?? ""
            if entry.isFlag {
                out += "\(entry.name): \(values.last.map { ["true", "yes", "on", "1"].contains($0.lowercased()) } ?? false)\(note)\n"
            } else if entry.isRepeating {
                out += values.isEmpty ? "\(entry.name): []\(note)\n" : "\(entry.name):\(note)\n" + values.map { "  - \(Self.quoted($0))\n" }.joined()
            } else if let value = values.last {
                out += "\(entry.name): \(Self.quoted(value))\(note)\n"
            } else {
                out += "# \(entry.name):\n"
            }
        }
        return out
    }

    /// A YAML scalar that reads back as exactly `value`.
    static func quoted(_ value: String) -> String {
        let plain = value.range(of: #"^[A-Za-z0-9_./][A-Za-z0-9_./:+,@=-]*$"#, options: .regularExpression) != nil
            && !["~", "null", "Null", "NULL"].contains(value)
        if plain { return value }
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"\(escaped)\""
    }
}

/// The flags of a `ParsableArguments` type, from ArgumentParser's own description of them.
public struct OptionSchema: Sendable {
    public struct Entry: Sendable {
        public var name: String
        public var isFlag: Bool
        public var isRepeating: Bool
        public var defaultValue: String?
        public var section: String?

        var defaultValues: [String] {
            guard let defaultValue else { return [] }
            return isRepeating ? (defaultValue.isEmpty ? [] : defaultValue.split(separator: " ").map(String.init)) : [defaultValue]
        }

        /// The arguments that give `values` to this flag.
        func arguments(_ values: [String], source: ConfigLayers.Source) throws(ConfigError) -> [String] {
            if isFlag {
                guard values.count == 1 else { throw ConfigError("\(source): \(name) is a switch: true or false") }
                switch values[0].lowercased() {
                case "true", "yes", "on", "1": return ["--\(name)"]
                case "false", "no", "off", "0": return []
                default: throw ConfigError("\(source): \(name) is a switch: true or false, not '\(values[0])'")
                }
            }
            guard isRepeating || values.count == 1 else { throw ConfigError("\(source): \(name) takes one value, not a list") }
            return values.flatMap { ["--\(name)", $0] }
        }
    }

    /// In --help's order.
    public let entries: [Entry]

    public subscript(name: String) -> Entry? { entries.first { $0.name == name } }

    public init<Options: ParsableArguments>(_ options: Options.Type) {
        let dump = try? JSONDecoder().decode(Dump.self, from: Data(Options._dumpHelp().utf8))
        entries = (dump?.command.arguments ?? []).compactMap { a in
            guard a.kind != "positional", let long = a.names?.first(where: { $0.kind == "long" }) else { return nil }
            return Entry(name: long.name, isFlag: a.kind == "flag", isRepeating: a.isRepeating,
                         defaultValue: a.defaultValue, section: a.sectionTitle)
        }
    }

    /// The keys set on a command line and their values, and `--config`'s file. Tokens it does
    /// not know are left to ArgumentParser.
    func scan(_ arguments: [String]) -> (settings: [String: ConfigLayers.Setting], configFile: String?) {
        var settings: [String: ConfigLayers.Setting] = [:]
        var i = 0
        while i < arguments.count {
            let token = arguments[i]
            i += 1
            if token == "--" { break }
            guard token.hasPrefix("--") else { continue }
            let body = token.dropFirst(2)
            let name = String(body.prefix { $0 != "=" })
            guard let entry = self[name] else { continue }
            var value: String?
            if let eq = body.firstIndex(of: "=") {
                value = String(body[body.index(after: eq)...])
            } else if entry.isFlag {
                value = "true"
            } else if i < arguments.count {
                value = arguments[i]
                i += 1
            }
            guard let value else { continue }
            settings[name, default: .init(values: [], source: .commandLine)].values.append(value)
        }
        return (settings, settings["config"]?.values.last)
    }

    /// The flag closest to a misspelt key, when one is close.
    func closest(to key: String) -> String? {
        let scored = entries.map { ($0.name, Self.distance(key, $0.name)) }.min { $0.1 < $1.1 }
        guard let (name, d) = scored, d <= max(2, key.count / 4) else { return nil }
        return name
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let old = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = old
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
}

extension String {
    /// Newlines and runs of spaces folded, for one-line errors.
    var oneLine: String {
        split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
    }
}

/// The part of ArgumentParser's `--experimental-dump-help` JSON read here.
private struct Dump: Decodable {
    struct Command: Decodable { var arguments: [Argument]? }
    struct Argument: Decodable {
        struct Name: Decodable { var kind: String; var name: String }
        var kind: String
        var names: [Name]?
        var isRepeating: Bool
        var defaultValue: String?
        var sectionTitle: String?
    }
    var command: Command
}
