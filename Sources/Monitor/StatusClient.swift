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
            var request = Tributary_V1_StatusRequest()
            request.includeWorkers = includeWorkers
            let exchange = Exchange(spec: spec, request: WireCodec.encode(.statusRequest(request)), timeout: timeout)
            await reactor.drive(exchange)
            let reply: Tributary_V1_StatusReply
            switch exchange.result {
            case .reply(let m)?:
                switch try? WireCodec.decode(m.frames).body {
                case .statusReply(let r)?: reply = r
                case .reject(let r)?: throw Failure(description: "learner at \(endpoint) refused the request: \(r.reason)")
                default: throw Failure(description: "learner at \(endpoint) sent an unreadable answer")
                }
            case .failed(let error)?:
                throw error
            case .timedOut?, nil:
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

    /// One request and its answer, entirely on the reactor's socket thread (a
    /// `SocketThreadDriver`): the socket is opened, the request sent and the answer taken by the
    /// thread that owns the socket, and the caller is resumed once, at the end. On a machine
    /// busy with workers every hand-off between threads waits for the scheduler; awaiting the
    /// open, then handing the send over, then waking on the answer cost three of them.
    final class Exchange: SocketThreadDriver, @unchecked Sendable {
        enum Result {
            case reply(InboundMessage)
            case timedOut
            case failed(any Error)
        }

        let spec: SocketSpec
        let request: [OwnedFrame]
        let timeout: Duration
        /// Touched only on the socket thread until `drive` returned.
        private(set) var result: Result?
        private var deadline: ContinuousClock.Instant?

        init(spec: SocketSpec, request: [OwnedFrame], timeout: Duration) {
            self.spec = spec
            self.request = request
            self.timeout = timeout
        }

        func step(_ thread: SocketThread) -> DriverStep {
            if result != nil { return .finished }
            let now = ContinuousClock.now
            guard let deadline else {
                self.deadline = now + timeout
                var spec = spec
                // Weak: the socket outlives `drive` until the reactor shuts down, and a second
                // message (a peer that answers twice) must find nothing rather than a freed driver.
                spec.handler = { [weak self] _, batch in
                    guard let self, self.result == nil, let first = batch.first else { return }
                    self.result = .reply(first)
                }
                do {
                    let socket = try thread.open(spec)
                    thread.send(socket.id, request)
                } catch {
                    result = .failed(error)
                    return .finished
                }
                return .wait(timeout)
            }
            if now >= deadline {
                result = .timedOut
                return .finished
            }
            return .wait(deadline - now)
        }
    }
}
