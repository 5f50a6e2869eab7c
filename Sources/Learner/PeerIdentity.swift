/// Who is at the other end of a connection, as the transport (not the peer) says: the
/// connection's address and, under CURVE, the name of the key it authenticated with.
public struct PeerIdentity: Sendable, Equatable, CustomStringConvertible {
    /// The peer's network address ("" when the transport does not know it, e.g. in-process).
    public var address: String
    /// The enrolled key's name (CURVE), nil on a plaintext connection.
    public var keyName: String?

    public init(address: String = "", keyName: String? = nil) {
        self.address = address
        self.keyName = keyName
    }

    public var description: String {
        let addr = address.isEmpty ? "address unknown" : address
        return keyName.map { "\(addr), key \($0)" } ?? addr
    }
}
