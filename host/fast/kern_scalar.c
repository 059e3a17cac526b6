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

/* The keys of a head are stored in groups of 4 dimensions: group g holds
 * dimensions 4g..4g+3 of every slot, slot after slot (4 bytes per slot). The
 * scores loop over the groups outside and the window's slots inside, so each
 * pass reads one run of memory. The engine takes only head widths that are
 * multiples of 4 (ozf_model_init). */
static void scores_run(const int8_t *q, const int8_t *kp, uint32_t cap, uint32_t dh, uint32_t a, uint32_t b,
                       int32_t *restrict s)
{
    uint32_t g, j, n = b - a;
    for (j = 0; j < n; j++)
        s[j] = 0;
    for (g = 0; g * 4 < dh; g++) {
        const int8_t *restrict k = kp + (size_t)g * cap * 4 + (size_t)a * 4;
        int32_t q0 = q[4 * g], q1 = q[4 * g + 1], q2 = q[4 * g + 2], q3 = q[4 * g + 3];
        for (j = 0; j < n; j++)
            s[j] += q0 * k[4 * j] + q1 * k[4 * j + 1] + q2 * k[4 * j + 2] + q3 * k[4 * j + 3];
    }
}

static void scores(const int8_t *q, const int8_t *kp, const int32_t *ksum, uint32_t cap, uint32_t dh,
                   const ozf_window *w, int32_t *s)
{
    (void)ksum;
    scores_run(q, kp, cap, dh, w->a0, w->b0, s);
    scores_run(q, kp, cap, dh, w->a1, w->b1, s + (w->b0 - w->a0));
}

/* The values are stored in groups of 4 slots: group g holds slots 4g..4g+3,
 * dimension after dimension (acc[d] += e_j v_j,d reads v at 4d + slot % 4). */
static void vsum_run(const uint16_t *e, const int8_t *vp, uint32_t dh, uint32_t a, uint32_t b, int32_t *restrict acc)
{
    uint32_t slot, d;
    for (slot = a; slot < b; slot++, e++) {
        const int8_t *restrict v = vp + (size_t)(slot / 4) * dh * 4 + slot % 4;
        int32_t ej = *e;
        for (d = 0; d < dh; d++)
            acc[d] += ej * v[4 * d];
    }
}

static void vsum(const uint16_t *e, const int8_t *vp, uint32_t cap, uint32_t dh, const ozf_window *w, int32_t *acc)
{
    uint32_t d;
    (void)cap;
    for (d = 0; d < dh; d++)
        acc[d] = 0;
    vsum_run(e, vp, dh, w->a0, w->b0, acc);
    vsum_run(e + (w->b0 - w->a0), vp, dh, w->a1, w->b1, acc);
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

const ozf_kernels ozf_kernels_scalar = {"scalar", pack_bytes, pack, gemm, scores, vsum, rq_uniform, rq_rows, attend, exp2q15, oz_freq_cum, forward, ring_put, keep_stats, act_apply, NULL, NULL, NULL, NULL, rmsnorm_rows, ozf_freq_find_cum, NULL, 0, ozf_freq_sym_cum, NULL};
