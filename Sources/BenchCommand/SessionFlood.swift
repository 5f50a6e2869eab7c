import Domain
import ArgumentParser
import Foundation
import Learner
import Logging
import NeuralNet
import Protocol
import Environments
import Training
import Transport
import Rollout

/// Many worker sessions that only say Hello and heartbeat, from one process: what a flood of
/// idle sessions costs a learner's training (Benchmarks/security/session-flood.sh).
struct SessionFlood: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "session-flood")
    @Option(help: "The learner's data endpoint.") var data: String
    @Option var sessions = 1000
    @Option var seconds = 20.0
    @Option var env = "CartPole-v1"

    func run() async throws {
        var logger = Logger(label: "flood")
        logger.logLevel = .critical
        guard let spec = EnvironmentRegistry.spec(env) else { throw ValidationError("unknown environment \(env)") }
        let reactor = try SocketReactor(name: "flood", logger: logger)
        var sockets: [OpenedSocket] = []
        for i in 0..<sessions {
            var socketSpec = SocketSpec(kind: .dealer)
            socketSpec.connect = [data]
            socketSpec.lingerMilliseconds = 0
            socketSpec.inboxCapacity = 8
            let socket = try await reactor.open(socketSpec)
            var hello = Tributary_V1_Hello()
            hello.protocolVersions = [1]
            hello.workerID = "flood-\(i)"
            hello.incarnation = UInt64(i + 1)
            hello.env = spec.wire(numEnvs: 2)
            reactor.send(socket.id, WireCodec.encode(.hello(hello)))
            sockets.append(socket)
        }
        var welcomed = 0, refused = 0
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        var beat = Tributary_V1_Heartbeat()
        while ContinuousClock.now < end {
            beat.unixMs = UInt64(Date().timeIntervalSince1970 * 1000)
            let frames = WireCodec.encode(.heartbeat(beat))
            for s in sockets {
                reactor.send(s.id, frames)
                while let m = s.inbox.tryReceive() {
                    switch try? WireCodec.decode(m.frames).body {
                    case .welcome?: welcomed += 1
                    case .reject?: refused += 1
                    default: break
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        print("RESULT session-flood sessions=\(sessions) welcomed=\(welcomed) refused=\(refused)")
        await reactor.shutdown()
    }
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func seconds(_ d: Duration) -> Double {
    d.inSeconds
}
