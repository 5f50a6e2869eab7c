import COpenBLAS

#if canImport(Glibc)
import Glibc
#endif

/// The dense kernels every network in Tributary runs on: OpenBLAS's `cblas_sgemm`.
/// This module is the only importer of OpenBLAS.
public enum BLAS {
    /// The kernel OpenBLAS selected for this CPU (e.g. "SkylakeX", or "Prescott" when
    /// Debian's 0.3.21 misdetects an AVX-512 Xeon; see `OPENBLAS_CORETYPE`).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// OpenBLAS worker threads (1 is the default: two do not help at these sizes).
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }

    /// One BLAS thread, and none idling: OpenBLAS's pthread build starts a worker thread per
    /// core when the library loads, and each spins on `sched_yield` for about 0.1 s waiting
    /// for work. Every Tributary process uses one BLAS thread unless told otherwise, so that
    /// spin is pure cost, and for a short-lived command it is half the CPU the command uses
    /// (`tributary status`: 54 → 30 ms of CPU) — which, on a machine busy with workers, is what
    /// its latency is made of. Stops them through OpenBLAS's own shutdown (the one its fork
    /// handler uses); asking for more threads later (`threads = 2`) starts them again. Call it
    /// first thing in `main`, before any other thread can be inside BLAS. Builds without a
    /// thread pool (serial OpenBLAS) have no such function: then it only sets the count.
    public static func startSingleThreaded() {
        openblas_set_num_threads(1)
        typealias Shutdown = @convention(c) () -> Int32
        if let symbol = dlsym(nil, "blas_thread_shutdown_") {
            _ = unsafeBitCast(symbol, to: Shutdown.self)()
        }
    }

    /// C ← alpha · op(A) · op(B) + beta · C, all row-major. op(A) is m×k, op(B) is k×n.
    /// `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored.
    @inlinable
    public static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

/// Plain loops with the semantics of `BLAS.gemm`: the reference the BLAS path is tested against.
public enum ReferenceKernels {
    public static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: [Float], lda: Int, b: [Float], ldb: Int, beta: Float = 0, c: inout [Float], ldc: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: Double = 0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(av) * Double(bv)
                }
                c[i * ldc + j] = alpha * Float(sum) + beta * c[i * ldc + j]
            }
        }
    }
}
