import Foundation
import Testing
import Transport

extension Integration {
    /// Two network namespaces joined by a veth pair: a learner "host" and a worker "host" with
    /// their own addresses, talking over them — the code path of separate machines.
    /// Needs root and iproute2; otherwise it says why and does not run.
    @Suite(.serialized) struct MultiHostTests {
        static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }
        static var canRun: Bool { getuid() == 0 && ip != nil }

        /// Runs `ip ARGS`; throws with its stderr on failure.
        static func run(_ args: [String]) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: ip!)
            p.arguments = args
            let err = Pipe()
            p.standardError = err
            p.standardOutput = Pipe()
            try p.run()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else {
                throw TestFailure("ip \(args.joined(separator: " ")): \(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
            }
        }

        /// Two namespaces joined by a veth pair; returns the subnet prefix, and removes them at the end.
        static func withHosts(_ body: (_ learnerHost: [String], _ workerHost: [String], _ subnet: String) throws -> Void) throws {
            let tag = String(getpid() % 100_000)
            let (hostA, hostB) = ("trib-l-\(tag)", "trib-w-\(tag)")
            let (vethA, vethB) = ("trl\(tag)", "trw\(tag)")
            let subnet = "10.231.\(getpid() % 200 + 20)"
            try Self.run(["netns", "add", hostA])
            defer { _ = try? Self.run(["netns", "del", hostA]) }
            try Self.run(["netns", "add", hostB])
            defer { _ = try? Self.run(["netns", "del", hostB]) }
            try Self.run(["link", "add", vethA, "type", "veth", "peer", "name", vethB])
            try Self.run(["link", "set", vethA, "netns", hostA])
            try Self.run(["link", "set", vethB, "netns", hostB])
            try Self.run(["-n", hostA, "addr", "add", "\(subnet).1/24", "dev", vethA])
            try Self.run(["-n", hostB, "addr", "add", "\(subnet).2/24", "dev", vethB])
            for (ns, dev) in [(hostA, vethA), (hostB, vethB)] {
                try Self.run(["-n", ns, "link", "set", dev, "up"])
                try Self.run(["-n", ns, "link", "set", "lo", "up"])
            }
            try body([Self.ip!, "netns", "exec", hostA], [Self.ip!, "netns", "exec", hostB], subnet)
        }

        @Test(.enabled(if: canRun, "needs root and iproute2 to create network namespaces"))
        func learnerAndWorkersOnSeparateNamespaces() throws {
            try Self.withHosts { hostA, hostB, subnet in
                let learnerHost = "\(subnet).1"
                let endpoints = ("tcp://\(learnerHost):5555", "tcp://\(learnerHost):5556", "tcp://\(learnerHost):5557")
                // Plaintext on a real interface is refused unless asked for knowingly.
                let refused = try ManagedProcess("learner", ["--data", endpoints.0, "--weights", endpoints.1, "--control", endpoints.2,
                                                             "--metrics-port", "0"], wrapper: hostA)
                #expect(refused.waitExit(timeout: 10) != 0)
                #expect(refused.stderr.contains("--curve-secret-key") && refused.stderr.contains("--insecure"), "\(refused.stderr)")

                let learner = try LearnerProcess.start(["--insecure"], endpoints: endpoints, wrapper: hostA)
                #expect(learner.process.stderr.contains("--insecure: plaintext"), "no warning: \(learner.process.stderr)")
                let workers = try (0..<2).map { try learner.worker("remote-\($0)", ["--max-chunks", "25"], wrapper: hostB) }
                for w in workers { #expect(w.waitExit(timeout: 20) == 0, "\(w.name): \(w.stderr.suffix(500))") }

                // The operator's CLI, from the worker host, reaches the learner's control socket.
                let cli = try ManagedProcess("tributary", ["status", "--learner", learnerHost, "--json"], wrapper: hostB)
                #expect(cli.waitExit(timeout: 10) == 0, "\(cli.stderr)")
                #expect(try cli.statusReply().chunksAccepted == 50)

                let status = try learner.stop()
                #expect(status.chunksAccepted == 50)
                #expect(status.chunksConsumed == 50)
                #expect(Set(status.workers.map(\.workerID)) == ["remote-0", "remote-1"])
                // The learner bound its namespace's own address, not loopback.
                #expect(learner.data.hasPrefix("tcp://\(subnet).1:"))
            }
        }

        /// The same across the two hosts with CURVE: enrolled workers train CartPole and are shown
        /// by their keys' names; a worker whose key is not enrolled is refused and exits 4.
        @Test(.enabled(if: canRun, "needs root and iproute2 to create network namespaces"))
        func curveAcrossNamespacesAdmitsOnlyEnrolledKeys() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-netns-keys-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: dir) }
            let server = try CurveKeyPair.generate(name: "learner").write(to: dir.appendingPathComponent("server"))
            let allowed = dir.appendingPathComponent("allowed")
            let keys = try (0..<2).map { try CurveKeyPair.generate(name: "host-b-\($0)").write(to: allowed) }
            let stranger = try CurveKeyPair.generate(name: "stranger").write(to: dir.appendingPathComponent("other"))
            try Self.withHosts { hostA, hostB, subnet in
                let learnerHost = "\(subnet).1"
                let learner = try LearnerProcess.start(
                    ["--env", "CartPole-v1", "--runs", "", "--curve-secret-key", server.secretFile.path, "--allow-keys", allowed.path],
                    endpoints: ("tcp://\(learnerHost):5555", "tcp://\(learnerHost):5556", "tcp://\(learnerHost):5557"), wrapper: hostA)
                let keyArgs = ["--env", "CartPole-v1", "--num-envs", "8", "--max-chunks", "40", "--curve-server-key", server.publicFile.path]
                let workers = try keys.enumerated().map { i, k in
                    try learner.worker("remote-\(i)", keyArgs + ["--curve-secret-key", k.secretFile.path], wrapper: hostB)
                }
                let intruder = try learner.worker("intruder", keyArgs + ["--curve-secret-key", stranger.secretFile.path], wrapper: hostB)
                for w in workers { #expect(w.waitExit(timeout: 30) == 0, "\(w.name): \(w.stderr.suffix(500))") }
                #expect(intruder.waitExit(timeout: 30) == 4, "\(intruder.stderr.suffix(500))")
                #expect(intruder.stderr.contains("refused this key"), "\(intruder.stderr.suffix(300))")
                let status = try learner.stop()
                #expect(status.chunksAccepted == 80)
                #expect(Set(status.workers.map(\.keyName)) == ["host-b-0", "host-b-1"])
                #expect(status.workers.allSatisfy { $0.peerAddress == "\(subnet).2" }, "\(status.workers.map(\.peerAddress))")
                #expect(status.security == "curve")
            }
        }
    }
}
