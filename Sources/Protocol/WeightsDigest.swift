import Crypto

/// The digest that `WeightsAvailable` and `Weights` carry: SHA-256 of the parameter bytes.
public enum WeightsDigest {
    public static func sha256(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: Array(bytes))
        return Array(hasher.finalize())
    }

    public static func sha256(_ raw: UnsafeRawBufferPointer) -> [UInt8] {
        Array(SHA256.hash(data: raw))
    }
}
