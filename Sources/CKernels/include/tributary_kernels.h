#ifndef TRIBUTARY_KERNELS_H
#define TRIBUTARY_KERNELS_H
#include <stddef.h>

/// The elementwise loops of a network's forward and backward passes, in C so that one binary
/// runs them with the widest vector unit of the CPU it lands on (AVX-512, AVX2+FMA or SSE2,
/// chosen once at load time through GCC/Clang function multi-versioning).

/// y[i] = tanh(y[i]): Eigen's and XNNPACK's rational approximation (within a few ulp of tanhf).
void tributary_tanh(float *y, size_t n);
/// Every row r of z [rows, cols] set to the bias b [cols].
void tributary_fill_rows(float *z, const float *b, size_t rows, size_t cols);
/// g[i] *= 1 - y[i]² (the tanh derivative from the activated output).
void tributary_tanh_backward(float *g, const float *y, size_t n);
/// g[i] = 0 where y[i] <= 0 (the ReLU derivative from the activated output).
void tributary_relu_backward(float *g, const float *y, size_t n);
/// y[i] = max(y[i], 0).
void tributary_relu(float *y, size_t n);
/// out[j] += Σ_r x[r, j] for x [rows, cols] (a bias gradient).
void tributary_sum_rows(float *out, const float *x, size_t rows, size_t cols);
/// Flush-to-zero and denormals-are-zero for this thread's SSE/AVX arithmetic (x86-64; a no-op
/// elsewhere). Values below 1.2e-38 become 0 instead of taking the slow microcode path: a
/// collapsed policy's gradients were all denormal and made every SGEMM ~6× slower.
void tributary_flush_denormals(void);
#endif
