import Foundation

/// One frame of a multipart message, readable in place.
///
/// The transport's received frames conform without copying (they keep the
/// ZeroMQ message alive), and so does `Data` / `[UInt8]` for building messages
/// and for tests. Protocol code reads frames only through this protocol, so it
/// never depends on ZeroMQ.
public protocol MessageFrame: Sendable {
    var count: Int { get }
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Data: MessageFrame {}
extension Array: MessageFrame where Element == UInt8 {}

/// A frame that is an owned byte array. Used for frames this process builds.
public typealias OwnedFrame = [UInt8]
