import Foundation
import Testing

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

    @Test(.enabled(if: canRun, "needs root and iproute2 to create network namespaces"))
    func learnerAndWorkersOnSeparateNamespaces() throws {
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

        let learnerHost = "\(subnet).1"
        let learner = try LearnerProcess.start(
            endpoints: ("tcp://\(learnerHost):5555", "tcp://\(learnerHost):5556", "tcp://\(learnerHost):5557"),
            wrapper: [Self.ip!, "netns", "exec", hostA])
        let workers = try (0..<2).map {
            try learner.worker("remote-\($0)", ["--max-chunks", "25"], wrapper: [Self.ip!, "netns", "exec", hostB])
        }
        for w in workers { #expect(w.waitExit(timeout: 20) == 0, "\(w.name): \(w.stderr.suffix(500))") }

        // The operator's CLI, from the worker host, reaches the learner's control socket.
        let cli = try ManagedProcess("tributary", ["status", "--learner", learnerHost, "--json"], wrapper: [Self.ip!, "netns", "exec", hostB])
        #expect(cli.waitExit(timeout: 10) == 0, "\(cli.stderr)")
        #expect(cli.events.first?.int("chunks_accepted") == 50)

        let status = try learner.stop()
        #expect(status.int("chunks_accepted") == 50)
        #expect(status.int("chunks_consumed") == 50)
        let rows = status["workers"] as? [[String: Any]] ?? []
        #expect(Set(rows.compactMap { $0["worker_id"] as? String }) == ["remote-0", "remote-1"])
        // The learner bound its namespace's own address, not loopback.
        #expect(learner.data.hasPrefix("tcp://\(subnet).1:"))
    }
}
