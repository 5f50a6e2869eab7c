// The one lock type of the project's own code.
//
// Normally this is the standard library's `Synchronization.Mutex` (a futex on Linux). Its lock
// and unlock are invisible to ThreadSanitizer in Swift 6.3 on Linux — a two-thread program
// that only touches state inside `withLock` is reported as racing — so under TSan every
// report would be noise. `make tsan` builds with `-DTRIBUTARY_TSAN`, which swaps in a
// pthread mutex that TSan intercepts; the code using it does not change.

#if TRIBUTARY_TSAN
import Glibc

/// A pthread mutex around `Value`, for ThreadSanitizer builds only (see the top of the file).
public final class Mutex<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    public init(_ initialValue: consuming sending Value) {
        value = initialValue
        pthread_mutex_init(lock, nil)
    }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    public func withLock<Result, E: Error>(_ body: (inout sending Value) throws(E) -> sending Result) throws(E) -> sending Result {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return try body(&value)
    }

    public func withLockIfAvailable<Result, E: Error>(_ body: (inout sending Value) throws(E) -> sending Result) throws(E) -> sending Result? {
        guard pthread_mutex_trylock(lock) == 0 else { return nil }
        defer { pthread_mutex_unlock(lock) }
        return try body(&value)
    }
}
#else
import Synchronization

public typealias Mutex<Value> = Synchronization.Mutex<Value>
#endif
