import FlyingFox
import FlyingSocks
import Foundation
import Locking

/// The HTTP side of telemetry: `GET /metrics` (Prometheus text format) and `GET /healthz`.
///
/// Served by FlyingFox: a small HTTP/1.1 server on non-blocking sockets and Swift concurrency,
/// with no event-loop threads of its own. It keeps the learner's two cores for training and
/// builds in seconds, where SwiftNIO would add minutes to every clean build for two routes.
public final class MetricsServer: Sendable {
    /// What `/healthz` reports: 200 with `healthy`, 503 otherwise; the body is a JSON object.
    public struct Health: Sendable {
        public var healthy: Bool
        public var fields: [String: Field]
        public init(healthy: Bool, fields: [String: Field]) {
            self.healthy = healthy
            self.fields = fields
        }
    }

    /// A value of /healthz's JSON object: numbers stay numbers.
    public enum Field: Sendable, Equatable, ExpressibleByStringLiteral {
        case text(String)
        case number(Double)
        public init(stringLiteral value: String) { self = .text(value) }
        var json: Any {
            switch self {
            case .text(let s): s
            case .number(let d): d.rounded() == d && abs(d) < 9e15 ? Int64(d) as Any : d
            }
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private let server: HTTPServer
    private let task: Task<Void, Never>
    /// The bound address, e.g. `http://127.0.0.1:5558`.
    public let url: String

    /// Binds `host:port` (port 0: an ephemeral one) and serves until `stop()`. `render` is
    /// called for every scrape and returns the exposition text; `health` for every /healthz.
    public init(host: String, port: UInt16, render: @escaping @Sendable () -> String,
                health: @escaping @Sendable () -> Health) async throws {
        let address: any SocketAddress
        do {
            if host.contains(":") {
                address = try sockaddr_in6.inet6(ip6: host, port: port)
            } else {
                address = try sockaddr_in.inet(ip4: host, port: port)
            }
        } catch {
            throw Failure(description: "metrics address \(host):\(port) is not a numeric IPv4/IPv6 address: \(error)")
        }
        let server = HTTPServer(config: .init(address: address, timeout: 15, logger: .disabled))
        await server.appendRoute("GET /metrics") { _ in
            let body = Data(render().utf8)
            return HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: body)
        }
        await server.appendRoute("GET /healthz") { _ in
            let h = health()
            let object = h.fields.mapValues(\.json).merging(["status": h.healthy ? "ok" : "unhealthy"]) { a, _ in a }
            let body = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            return HTTPResponse(statusCode: h.healthy ? .ok : .serviceUnavailable,
                                headers: [.contentType: "application/json"], body: body + Data("\n".utf8))
        }
        await server.appendRoute("GET /") { _ in
            let page = """
                <!doctype html><html><head><title>Tributary learner</title></head><body>
                <h1>Tributary learner</h1>
                <ul><li><a href="/metrics">/metrics</a>: Prometheus text format</li>
                <li><a href="/healthz">/healthz</a>: JSON, 200 while running, 503 when degraded or stopping</li></ul>
                <p>Names and meanings: docs/operations.md, "Prometheus".</p></body></html>

                """
            return HTTPResponse(statusCode: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: Data(page.utf8))
        }
        let failure = Mutex<(any Error)?>(nil)
        let task = Task {
            do { try await server.run() } catch { failure.withLock { $0 = error } }
        }
        // Wait for the socket to listen, or for run() to fail (e.g. the port is taken).
        let deadline = ContinuousClock.now + .seconds(5)
        while await !server.isListening {
            if let error = failure.withLock({ $0 }) {
                throw Failure(description: "cannot serve metrics on \(host):\(port): \(error)")
            }
            guard ContinuousClock.now < deadline else {
                task.cancel()
                throw Failure(description: "cannot serve metrics on \(host):\(port): not listening after 5 s")
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        self.server = server
        self.task = task
        let bound: String
        switch await server.listeningAddress {
        case .ip4(let ip, let p)?: bound = "http://\(ip):\(p)"
        case .ip6(let ip, let p)?: bound = "http://[\(ip)]:\(p)"
        default: bound = "http://\(host):\(port)"
        }
        url = bound
    }

    /// Whether `host` is a numeric IPv4 or IPv6 address (what the server binds; no names).
    public static func isNumericAddress(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    public func stop() async {
        // A scrape in flight gets 100 ms to finish; an idle server stops at once (FlyingFox
        // waits the whole timeout before cancelling its socket pool).
        await server.stop(timeout: 0.1)
        task.cancel()
    }
}
