import ArgumentParser
import Foundation
import Monitor
import SafeIO
import Transport

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
                    StandardStream.error.write("tributary: \(secret.path) exists; pass --force to replace it\n")
                    throw ExitCode(2)
                }
                let (pub, sec) = try CurveKeyPair.generate(name: name, role: role).write(to: directory)
                print("public key \(pub.path)  (give it to the learner's --allow-keys, or to workers as --curve-server-key)")
                print("secret key \(sec.path)  (mode 0600; pass it as --curve-secret-key; never copy it elsewhere)")
            }
        }
    }
}
