import Locking

/// Watches a connecting socket's handshakes (through `SocketSpec.onEvent`) so a client that the
/// server refuses learns why and stops, instead of retrying silently forever: a key the server
/// does not enrol fails with `handshakeFailedAuth`, a CURVE/plaintext mix-up with
/// `handshakeFailedProtocol`, a wrong server key with `handshakeFailedOther` (the server hangs
/// up on a HELLO it cannot decrypt).
public final class HandshakeWatch: Sendable {
    private struct Counts {
        var auth = 0
        var protocolErrors = 0
        var succeeded = 0
        var total = 0
    }
    private let counts = Mutex(Counts())
    /// Failed handshakes of one kind, with none succeeding in between, after which the client
    /// gives up.
    public let limit: Int

    public init(limit: Int = 3) {
        self.limit = limit
    }

    /// The `SocketSpec.onEvent` to install on the watched socket.
    public var onEvent: @Sendable (SocketID, TransportEvent) -> Void {
        { [self] _, event in
            counts.withLock { c in
                switch event {
                case .handshakeSucceeded: c = Counts(succeeded: c.succeeded + 1, total: c.total)
                case .handshakeFailedAuth:
                    c.auth += 1
                    c.total += 1
                case .handshakeFailedProtocol, .handshakeFailedOther:
                    // A wrong server key shows as the server hanging up mid-handshake (no detail).
                    c.protocolErrors += 1
                    c.total += 1
                default: break
                }
            }
        }
    }

    /// Failed handshakes so far, of any kind (never reset): a client compares it before and after
    /// an attempt to stop waiting on a connection that already failed.
    public var failures: Int { counts.withLock { $0.total } }

    /// Whether any handshake has succeeded on the socket.
    public var everSucceeded: Bool { counts.withLock { $0.succeeded > 0 } }

    /// Why the client should give up, once `limit` handshakes in a row failed; nil before.
    /// `curve`: whether this client uses CURVE (the likely mistake differs).
    public func refusal(endpoint: String, curve: Bool) -> String? {
        let c = counts.withLock { $0 }
        if c.auth >= limit {
            return "the learner at \(endpoint) refused this key \(c.auth) times: it is not enrolled in the learner's --allow-keys (or was revoked)"
        }
        if c.protocolErrors >= limit {
            if curve {
                return "the CURVE handshake with \(endpoint) failed \(c.protocolErrors) times: --curve-server-key is not the learner's public key, or the learner does not use CURVE"
            }
            return "the handshake with \(endpoint) failed \(c.protocolErrors) times: the peer hung up during the greeting; it is not a Tributary learner, or it expects CURVE (give --curve-server-key and --curve-secret-key)"
        }
        return nil
    }
}

/// The CURVE client settings of a worker or of `tributary`: the learner's public key and the
/// client's own key pair, from the files `tributary keys generate` writes.
public struct ClientKeys: Sendable, Equatable {
    public var serverKey: String
    public var keys: CurveKeyPair

    /// Loads `--curve-server-key` (the learner's `NAME.key`) and `--curve-secret-key` (this
    /// client's `NAME.key_secret`). Both or neither: one alone is a mistake worth a clear error.
    public static func load(serverKeyFile: String?, secretKeyFile: String?) throws(KeyFileError) -> ClientKeys? {
        switch (serverKeyFile, secretKeyFile) {
        case (nil, nil):
            return nil
        case (let server?, let secret?):
            let pair = try CurveKeyPair.load(secret, requireSecret: true)
            return ClientKeys(serverKey: try CurveKeyPair.load(server).publicKey, keys: pair)
        case (nil, _?):
            throw KeyFileError(path: "--curve-server-key", reason: "is needed with --curve-secret-key (the learner's public key file)")
        case (_?, nil):
            throw KeyFileError(path: "--curve-secret-key", reason: "is needed with --curve-server-key (this client's NAME.key_secret)")
        }
    }

    public var security: SocketSpec.Security {
        .curveClient(serverKey: serverKey, publicKey: keys.publicKey, secretKey: keys.secretKey ?? "")
    }
}
