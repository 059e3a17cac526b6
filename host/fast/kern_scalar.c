/* kern_scalar.c - portable kernels of the fast engine (any CPU). They are
 * also the readable statement of what each SIMD kernel computes: the SIMD
 * files must give identical results (tests/test_fast.c). */
#include "../../core/oz_int.h"
#include "ozf.h"

#include <string.h>

static size_t pack_bytes(uint32_t rows, uint32_t k) { return (size_t)rows * k; }

static void pack(const int8_t *w, uint32_t rows, uint32_t k, void *dst) { memcpy(dst, w, (size_t)rows * k); }

static void gemm(const void *wp, uint32_t rows, uint32_t k, const int8_t *a, uint32_t lda, uint32_t nb, int32_t *c,
                 uint32_t ldc)
{
    const int8_t *w = (const int8_t *)wp;
    uint32_t b, r;
    for (r = 0; r < rows; r++)
        for (b = 0; b < nb; b++)
            c[(size_t)b * ldc + r] = oz_dot_i8(w + (size_t)r * k, a + (size_t)b * lda, (int)k);
}

/* slot of window entry j */
static uint32_t win_slot(const ozf_window *w, uint32_t j)
{
    return j < w->b0 - w->a0 ? w->a0 + j : w->a1 + (j - (w->b0 - w->a0));
}

static void scores(const int8_t *q, const int8_t *kp, const int32_t *ksum, uint32_t cap, uint32_t dh,
                   const ozf_window *w, int32_t *s)
{
    uint32_t n = (w->b0 - w->a0) + (w->b1 - w->a1), j, d;
    (void)ksum;
    for (j = 0; j < n; j++) {
        uint32_t slot = win_slot(w, j);
        int32_t acc = 0;
        for (d = 0; d < dh; d++)
            acc += (int32_t)q[d] * kp[(size_t)(d / 4) * cap * 4 + (size_t)slot * 4 + d % 4];
        s[j] = acc;
    }
}

static void vsum(const uint16_t *e, const int8_t *vp, uint32_t cap, uint32_t dh, const ozf_window *w, int32_t *acc)
{
    uint32_t n = (w->b0 - w->a0) + (w->b1 - w->a1), j, d;
    (void)cap;
    for (d = 0; d < dh; d++)
        acc[d] = 0;
    for (j = 0; j < n; j++) {
        uint32_t slot = win_slot(w, j);
        const int8_t *v = vp + (size_t)(slot / 4) * dh * 4 + slot % 4;
        for (d = 0; d < dh; d++)
            acc[d] += (int32_t)e[j] * v[d * 4];
    }
}

static void rq_uniform(const int32_t *acc, uint32_t n, int32_t m, int32_t s, int32_t lo, int32_t hi, int32_t *out)
{
    uint32_t i;
    for (i = 0; i < n; i++)
        out[i] = (int32_t)oz_clamp64(oz_rq(acc[i], m, s), lo, hi);
}

static void rq_rows(const int32_t *acc, uint32_t n, const int32_t *m, const int32_t *s, int32_t lo, int32_t hi,
                    int32_t *out)
{
    uint32_t i;
    for (i = 0; i < n; i++)
        out[i] = (int32_t)oz_clamp64(oz_rq(acc[i], m[i], s[i]), lo, hi);
}

static void exp2q15(const int32_t *t, uint32_t n, uint16_t *e)
{
    uint32_t i;
    for (i = 0; i < n; i++)
        e[i] = (uint16_t)oz_exp2q15(t[i]);
}

#include "forward_impl.h"

const ozf_kernels ozf_kernels_scalar = {"scalar", pack_bytes, pack, gemm, scores, vsum, rq_uniform, rq_rows, exp2q15, oz_freq_cum, forward};
