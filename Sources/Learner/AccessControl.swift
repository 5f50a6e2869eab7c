import Locking
import Transport

/// Who may do what on the learner's sockets (docs/security.md).
///
/// With CURVE, a peer's key is checked twice: by the ZAP handler when its connection is made
/// (`decide`), and by the protocol core on every Hello and control message (`allows`), so a key
/// removed from `--allow-keys` and reloaded with SIGHUP is refused at once on connections that
/// were made before. Roles: a "worker" key may use every socket; an "operator" key the weights
/// and control sockets only (status, weights), never the data socket. In plaintext (no key
/// ring) every peer is allowed: that is why the learner then binds only loopback unless told
/// `--insecure`.
public final class AccessControl: Sendable {
    private let ring: Mutex<KeyRing?>
    /// Where the ring was loaded from, for SIGHUP.
    public let source: String?

    /// Plaintext: everyone is allowed.
    public static let open = AccessControl(ring: nil, source: nil)

    public init(ring: KeyRing?, source: String?) {
        self.ring = Mutex(ring)
        self.source = source
    }

    public var isEnforcing: Bool { ring.withLock { $0 != nil } }

    /// The ZAP handler's answer for a connection's handshake.
    public func decide(_ request: ZAPRequest) -> ZAPDecision {
        ring.withLock { ring in
            guard let ring else { return .allow(userID: "") }
            guard request.mechanism == "CURVE", let key = request.publicKey else {
                return .deny(reason: "this learner needs CURVE (\(request.mechanism) offered)")
            }
            guard let entry = ring.lookup(publicKey: key) else { return .deny(reason: "key not enrolled") }
            guard Self.permits(role: entry.role, on: request.domain) else {
                return .deny(reason: "a key with role '\(entry.role)' may not use the \(request.domain) socket")
            }
            return .allow(userID: entry.name)
        }
    }

    /// Whether a peer (its authenticated key's name) may use a socket now.
    public func allows(_ peer: PeerIdentity, on socket: String) -> Bool {
        ring.withLock { ring in
            guard let ring else { return true }
            guard let name = peer.keyName else { return false }
            return ring.keys.values.contains { $0.name == name && Self.permits(role: $0.role, on: socket) }
        }
    }

    static func permits(role: String, on socket: String) -> Bool {
        socket == "data" ? role == "worker" : role == "worker" || role == "operator"
    }

    /// Reads the key ring again from `source`. Returns the names no longer enrolled.
    public func reload() throws(KeyFileError) -> [String] {
        guard let source else { return [] }
        let fresh = try KeyRing.load(source)
        return ring.withLock { ring in
            let before = Set(ring?.keys.values.map(\.name) ?? [])
            ring = fresh
            return before.subtracting(fresh.keys.values.map(\.name)).sorted()
        }
    }

    public var enrolledCount: Int { ring.withLock { $0?.count ?? 0 } }
}
