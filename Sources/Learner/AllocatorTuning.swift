import CAllocator
import Logging

/// Keeps glibc from returning receive buffers to the kernel between chunks.
///
/// libzmq mallocs each large receive buffer on its I/O thread and the learner frees it on
/// another, later. With glibc's defaults such buffers are mmapped and unmapped (or the heap
/// trimmed) every time, and every new chunk page-faults its memory back in: measured at
/// 220–350 faults per 4 MiB chunk, half the learner's CPU, ~1.6× lower ingest throughput.
/// Raising the mmap and trim thresholds lets freed buffers be reused; credits still bound
/// how much is in flight, so peak memory does not grow (measured: ~50 MiB either way).
public enum AllocatorTuning {
    static let mmapThreshold: Int32 = 64 << 20
    static let trimThreshold: Int32 = 256 << 20

    /// Returns whether the C library took both settings.
    @discardableResult
    public static func apply(logger: Logger) -> Bool {
        let ok = tributary_set_malloc_thresholds(mmapThreshold, trimThreshold) == 1
        if !ok { logger.warning("could not raise the C library's mmap/trim thresholds; large chunks will cost page faults") }
        return ok
    }
}
