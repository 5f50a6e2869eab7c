#include "tributary_kernels.h"
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#if defined(__x86_64__) && defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MULTIVERSION
#endif

MULTIVERSION
void tributary_tanh(float *y, size_t n) {
    const float clamp = 7.99881172180175781f;
    for (size_t i = 0; i < n; i++) {
        const float x0 = y[i];
        float x = x0 > clamp ? clamp : x0;
        x = x < -clamp ? -clamp : x;
        const float x2 = x * x;
        float p = -2.76076847742355e-16f;
        p = p * x2 + 2.00018790482477e-13f;
        p = p * x2 + -8.60467152213735e-11f;
        p = p * x2 + 5.12229709037114e-08f;
        p = p * x2 + 1.48572235717979e-05f;
        p = p * x2 + 6.37261928875436e-04f;
        p = p * x2 + 4.89352455891786e-03f;
        p = p * x;
        float q = 1.19825839466702e-06f;
        q = q * x2 + 1.18534705686654e-04f;
        q = q * x2 + 2.26843463243900e-03f;
        q = q * x2 + 4.89352518554385e-03f;
        const int tiny = (x0 < 0.0004f) & (x0 > -0.0004f);
        y[i] = tiny ? x0 : p / q;
    }
}

MULTIVERSION
void tributary_fill_rows(float *z, const float *b, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        float *row = z + r * cols;
        for (size_t j = 0; j < cols; j++) row[j] = b[j];
    }
}

MULTIVERSION
void tributary_tanh_backward(float *g, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) g[i] *= 1.0f - y[i] * y[i];
}

MULTIVERSION
void tributary_relu_backward(float *g, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) g[i] = y[i] <= 0.0f ? 0.0f : g[i];
}

MULTIVERSION
void tributary_relu(float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = y[i] < 0.0f ? 0.0f : y[i];
}

MULTIVERSION
void tributary_sum_rows(float *out, const float *x, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        for (size_t j = 0; j < cols; j++) out[j] += row[j];
    }
}

void tributary_flush_denormals(void) {
#if defined(__x86_64__)
    _mm_setcsr(_mm_getcsr() | 0x8040);  /* FTZ (bit 15) | DAZ (bit 6) */
#endif
}
