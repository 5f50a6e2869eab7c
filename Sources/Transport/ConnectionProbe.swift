import Glibc

/// Why a TCP endpoint does not answer, told apart the way an operator needs: the name does not
/// resolve (DNS), nothing listens there (connection refused), or nothing answers at all (a
/// firewall dropping packets, a host that is down). libzmq retries all three silently, so a
/// worker or the CLI that heard nothing asks with one plain TCP connect of its own.
public enum ConnectionProbe {
    public enum Result: Equatable, Sendable, CustomStringConvertible {
        /// The host name did not resolve (getaddrinfo's message).
        case unresolvable(host: String, reason: String)
        /// Every address refused the connection: nothing listens on that port.
        case refused(address: String)
        /// No address answered within the timeout (or the network said it cannot reach it).
        case noAnswer(address: String, reason: String)
        /// A TCP connection was made: something listens (then the silence is the protocol's).
        case reachable(address: String)
        /// Not a tcp:// endpoint, or the probe itself failed.
        case notProbed(String)

        public var kind: String {
            switch self {
            case .unresolvable: "dns"
            case .refused: "refused"
            case .noAnswer: "no_answer"
            case .reachable: "reachable"
            case .notProbed: "not_probed"
            }
        }

        /// One clause for a log line or an error: what was found and what to check.
        public var description: String {
            switch self {
            case .unresolvable(let host, let reason):
                "the name '\(host)' does not resolve (DNS: \(reason)): check the host name"
            case .refused(let address):
                "connection refused at \(address): nothing listens there; is the learner running, and is the port right?"
            case .noAnswer(let address, let reason):
                "no answer from \(address) (\(reason)): the host may be down, or a firewall drops the packets"
            case .reachable(let address):
                "\(address) accepts TCP connections but sent no reply: is it a Tributary learner, on this port, with the same security (CURVE keys)?"
            case .notProbed(let why):
                why
            }
        }
    }

    /// `tcp://HOST:PORT` (HOST may be `[v6]`) split; nil for other transports.
    public static func hostAndPort(_ endpoint: String) -> (host: String, port: String)? {
        guard endpoint.hasPrefix("tcp://") else { return nil }
        let rest = endpoint.dropFirst("tcp://".count)
        guard let colon = rest.lastIndex(of: ":") else { return nil }
        var host = String(rest[..<colon])
        let port = String(rest[rest.index(after: colon)...])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !port.isEmpty else { return nil }
        return (host, port)
    }

    /// Resolves the endpoint's host and tries a TCP connection to each address in turn, each
    /// for at most `timeout`.
    public static func probe(_ endpoint: String, timeout: Duration = .seconds(1)) -> Result {
        guard let (host, port) = hostAndPort(endpoint) else { return .notProbed("\(endpoint) is not a tcp:// endpoint") }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, port, &hints, &list)
        guard rc == 0, let first = list else {
            return .unresolvable(host: host, reason: String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(first) }
        var refusedAt: String?
        var silentAt: (String, String)?
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let ai = node {
            node = ai.pointee.ai_next
            let address = numeric(ai.pointee.ai_addr, ai.pointee.ai_addrlen)
            switch connect(ai.pointee, timeout: timeout) {
            case 0: return .reachable(address: address)
            case ECONNREFUSED: refusedAt = refusedAt ?? address
            case ETIMEDOUT: silentAt = silentAt ?? (address, "nothing within \(timeout)")
            case let error: silentAt = silentAt ?? (address, String(cString: strerror(error)).lowercased())
            }
        }
        if let silentAt { return .noAnswer(address: silentAt.0, reason: silentAt.1) }
        return .refused(address: refusedAt ?? "\(host):\(port)")
    }

    /// 0 when connected; the errno otherwise (ETIMEDOUT when nothing answered in time).
    private static func connect(_ ai: addrinfo, timeout: Duration) -> Int32 {
        let fd = socket(ai.ai_family, ai.ai_socktype | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), ai.ai_protocol)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        if Glibc.connect(fd, ai.ai_addr, ai.ai_addrlen) == 0 { return 0 }
        guard errno == EINPROGRESS else { return errno }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ms = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&p, 1, ms) == 1 else { return ETIMEDOUT }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else { return errno }
        return error
    }

    private static func numeric(_ addr: UnsafeMutablePointer<sockaddr>?, _ length: socklen_t) -> String {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST)), service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        guard getnameinfo(addr, length, &host, socklen_t(host.count), &service, socklen_t(service.count), NI_NUMERICHOST | NI_NUMERICSERV) == 0 else {
            return "?"
        }
        let h = String(cString: host), s = String(cString: service)
        return h.contains(":") ? "[\(h)]:\(s)" : "\(h):\(s)"
    }
}
