import Domain
import Foundation

/// Choosing OpenBLAS's kernels before OpenBLAS loads.
///
/// Debian's OpenBLAS 0.3.21 does not recognise recent AVX-512 CPUs and falls back to its
/// "Prescott" kernels, about 4× slower (sgemm 2048×64×64: ~30 vs ~120 GFLOP/s measured on
/// this project's machines). `OPENBLAS_CORETYPE` fixes that, but only if it is in the
/// environment when the library loads, which for a linked library is before `main`. So an
/// executable calls `selectKernelByReexecuting()` first: with the variable unset it picks the
/// kernel the CPU's features allow and re-executes itself once with it set. An explicitly set
/// variable is always respected. `selfCheck()` compares sgemm with a plain loop; the learner
/// runs it once at start-up and logs an error naming the variable when they disagree.
public enum BLASRuntime {
    public static let variable = "OPENBLAS_CORETYPE"
    static let marker = "TRIBUTARY_OPENBLAS_REEXEC"

    /// The OpenBLAS core type for a CPU with these /proc/cpuinfo flags, or nil to let OpenBLAS
    /// detect it.
    public static func coreType(forCPUFlags flags: Set<String>) -> String? {
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq"]) { return "SkylakeX" }
        if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    /// The flags line of /proc/cpuinfo (empty where there is none).
    public static func cpuFlags() -> Set<String> {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return [] }
        return Set(line.split(separator: ":").last?.split(separator: " ").map(String.init) ?? [])
    }

    /// Re-executes this process once with `OPENBLAS_CORETYPE` set when it is unset and the
    /// CPU allows a better kernel than OpenBLAS might detect. Returns only when no re-exec
    /// happened (variable already set, nothing to choose, already re-executed, or exec failed).
    public static func selectKernelByReexecuting() {
        let env = ProcessInfo.processInfo.environment
        guard env[variable] == nil, env[marker] == nil, let core = coreType(forCPUFlags: cpuFlags()) else { return }
        setenv(variable, core, 1)
        setenv(marker, "1", 1)
        let args = CommandLine.arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &cArgs)
        // exec failed: carry on with whatever OpenBLAS detected.
        unsetenv(variable)
    }

    /// Compares `BLAS.gemm` with the plain loop on a small product. False means the selected
    /// kernel computes wrong results on this CPU (then run with OPENBLAS_CORETYPE set to an
    /// older core, e.g. Haswell).
    public static func selfCheck() -> Bool {
        var rng = SplitMix64(seed: 42)
        let (m, n, k) = (33, 17, 65)
        let a = (0..<(m * k)).map { _ in Float(rng.nextUnit() * 2 - 1) }
        let b = (0..<(k * n)).map { _ in Float(rng.nextUnit() * 2 - 1) }
        var reference = [Float](repeating: 0, count: m * n)
        ReferenceKernels.gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &reference, ldc: n)
        var fast = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                fast.withUnsafeMutableBufferPointer { cp in
                    BLAS.gemm(m: m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!, ldb: n, c: cp.baseAddress!, ldc: n)
                }
            }
        }
        return zip(reference, fast).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($0)) }
    }
}
