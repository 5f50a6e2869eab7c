import Foundation

/// Writes all of `bytes` to `fd` with write(2), retrying on EINTR and after short writes.
/// Returns how many bytes went out, and the errno that stopped it (nil: all of them).
public func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> (written: Int, error: Int32?) {
    var written = 0
    while written < bytes.count {
        let n = Glibc.write(fd, bytes.baseAddress! + written, bytes.count - written)
        if n < 0 {
            if errno == EINTR { continue }
            return (written, errno)
        }
        written += n
    }
    return (written, nil)
}
