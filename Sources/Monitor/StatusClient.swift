import Logging
import Protocol
import Transport

/// Asks a learner's control socket for its status.
public enum StatusClient {
    /// A learner that did not answer, or answered with something else.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// `host[:port]` (port defaults to 5557) or a full `tcp://` / `ipc://` endpoint.
    public static func endpoint(learner: String, defaultPort: Int = 5557) -> String {
        if learner.contains("://") { return learner }
        if learner.hasPrefix("[") || learner.split(separator: ":").count == 2 { return "tcp://\(learner)" }
        return "tcp://\(learner):\(defaultPort)"
    }

    /// With `keys`, over CURVE; a learner that refuses the key is reported as such, not as silence.
    public static func fetch(endpoint: String, timeout: Duration, includeWorkers: Bool = true,
                             keys: ClientKeys? = nil) async throws -> Tributary_V1_StatusReply {
        var logger = Logger(label: "tributary")
        logger.logLevel = .error
        let reactor = try SocketReactor(name: "cli", logger: logger)
        let handshakes = HandshakeWatch(limit: 1)
        do {
            var spec = SocketSpec(kind: .dealer)
            spec.connect = [endpoint]
            spec.lingerMilliseconds = 0
            spec.security = keys?.security ?? .plaintext
            spec.onEvent = handshakes.onEvent
            let socket = try await reactor.open(spec)
            var request = Tributary_V1_StatusRequest()
            request.includeWorkers = includeWorkers
            reactor.send(socket.id, WireCodec.encode(.statusRequest(request)))
            let reply: Tributary_V1_StatusReply
            switch await socket.inbox.receive(timeout: timeout) {
            case .message(let m):
                switch try? WireCodec.decode(m.frames).body {
                case .statusReply(let r)?: reply = r
                case .reject(let r)?: throw Failure(description: "learner at \(endpoint) refused the request: \(r.reason)")
                default: throw Failure(description: "learner at \(endpoint) sent an unreadable answer")
                }
            case .timedOut, .closed:
                if let refusal = handshakes.refusal(endpoint: endpoint, curve: keys != nil) { throw Failure(description: refusal) }
                let probe = await Task.detached { ConnectionProbe.probe(endpoint) }.value
                throw Failure(description: "no answer from a learner at \(endpoint) within \(timeout): \(probe)")
            }
            await reactor.shutdown()
            return reply
        } catch {
            await reactor.shutdown()
            throw error
        }
    }
}
