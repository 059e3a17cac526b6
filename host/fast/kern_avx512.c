/* kern_avx512.c - AVX-512 VNNI kernels (compiled with -mavx512f -mavx512bw
 * -mavx512vl -mavx512dq -mavx512vnni; only called after a CPUID check).
 *
 * vpdpbusd multiplies unsigned by signed bytes and adds groups of four
 * products into int32 lanes, with no intermediate saturation. Signed
 * activations a in [-127, 127] are made unsigned as a + 128 (xor 0x80), and
 * the surplus 128 * sum_k w is subtracted afterwards:
 *   sum (a + 128) w = sum a w + 128 sum w.
 * Every sum is exact int32 arithmetic within the bounds of
 * docs/integer-model.md, so the results equal the scalar kernels'. */
#include <immintrin.h>
#include <string.h>

#include "../../core/oz_int.h"
#include "ozf.h"

extern uint32_t ozf_exp2_u32[256];

#define KG(k) ((k) / 4)

/* (rows, k) -> [rows/16][k/4][16][4], then the row sums (int32, rows) */
static size_t pack_bytes(uint32_t rows, uint32_t k) { return (size_t)rows * k + 4 * (size_t)rows; }

static void pack(const int8_t *w, uint32_t rows, uint32_t k, void *dst)
{
    int8_t *o = (int8_t *)dst;
    int32_t *rs = (int32_t *)(void *)(o + (size_t)rows * k);
    uint32_t rb, kg, i, j;
    for (rb = 0; rb < rows / 16; rb++)
        for (kg = 0; kg < KG(k); kg++)
            for (i = 0; i < 16; i++)
                for (j = 0; j < 4; j++)
                    o[(((size_t)rb * KG(k) + kg) * 16 + i) * 4 + j] = w[(size_t)(rb * 16 + i) * k + kg * 4 + j];
    for (i = 0; i < rows; i++) {
        int32_t s = 0;
        for (j = 0; j < k; j++)
            s += w[(size_t)i * k + j];
        rs[i] = s;
    }
}

static inline __m512i bcast_u8(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_xor_si512(_mm512_set1_epi32(v), _mm512_set1_epi32((int)0x80808080));
}

/* NRB row blocks (16 rows each) x NB batch rows. */
static inline __attribute__((always_inline)) void micro(const int8_t *w, uint32_t k, uint32_t rb0, int nrb,
                                                        const int8_t *a, uint32_t lda, uint32_t b0, int nb,
                                                        const int32_t *rs, int32_t *c, uint32_t ldc)
{
    __m512i acc[2][8];
    uint32_t kg, nkg = KG(k);
    int i, b;
    for (i = 0; i < 2; i++)
        for (b = 0; b < 8; b++)
            acc[i][b] = _mm512_setzero_si512();
    for (kg = 0; kg < nkg; kg++) {
        __m512i w0 = _mm512_load_si512(w + (((size_t)rb0 * nkg + kg) * 64));
        __m512i w1 = nrb > 1 ? _mm512_load_si512(w + (((size_t)(rb0 + 1) * nkg + kg) * 64)) : w0;
        for (b = 0; b < nb; b++) {
            __m512i av = bcast_u8(a + (size_t)(b0 + b) * lda + kg * 4);
            acc[0][b] = _mm512_dpbusd_epi32(acc[0][b], av, w0);
            if (nrb > 1)
                acc[1][b] = _mm512_dpbusd_epi32(acc[1][b], av, w1);
        }
    }
    for (i = 0; i < nrb; i++) {
        __m512i corr = _mm512_slli_epi32(_mm512_loadu_si512(rs + (rb0 + i) * 16), 7);
        for (b = 0; b < nb; b++)
            _mm512_storeu_si512(c + (size_t)(b0 + b) * ldc + (rb0 + i) * 16, _mm512_sub_epi32(acc[i][b], corr));
    }
}

static void gemm(const void *wp, uint32_t rows, uint32_t k, const int8_t *a, uint32_t lda, uint32_t nb, int32_t *c,
                 uint32_t ldc)
{
    const int8_t *w = (const int8_t *)wp;
    const int32_t *rs = (const int32_t *)(const void *)(w + (size_t)rows * k);
    uint32_t nrb = rows / 16, rb, b;
    for (rb = 0; rb < nrb; rb += 2) {
        int two = rb + 1 < nrb;
        for (b = 0; b < nb; b += 8) {
            uint32_t left = nb - b;
            if (left >= 8) {
                if (two)
                    micro(w, k, rb, 2, a, lda, b, 8, rs, c, ldc);
                else
                    micro(w, k, rb, 1, a, lda, b, 8, rs, c, ldc);
            } else {
                uint32_t j;
                for (j = 0; j < left; j++) {
                    if (two)
                        micro(w, k, rb, 2, a, lda, b + j, 1, rs, c, ldc);
                    else
                        micro(w, k, rb, 1, a, lda, b + j, 1, rs, c, ldc);
                }
            }
        }
    }
}

/* scores of the slots [a, b) of one run, written at s[joff + slot - a] */
static void scores_run(const __m512i *qb, uint32_t ndg, const int8_t *kp, const int32_t *ksum, uint32_t cap,
                       uint32_t a, uint32_t b, int32_t *s, uint32_t joff)
{
    uint32_t blk, dg;
    for (blk = a & ~15u; blk < b; blk += 16) {
        __m512i acc = _mm512_setzero_si512();
        uint32_t lo = blk < a ? a : blk, hi = blk + 16 < b ? blk + 16 : b;
        __mmask16 m = (__mmask16)((((uint32_t)1 << (hi - blk)) - 1) & ~(((uint32_t)1 << (lo - blk)) - 1));
        for (dg = 0; dg < ndg; dg++)
            acc = _mm512_dpbusd_epi32(acc, qb[dg], _mm512_load_si512(kp + ((size_t)dg * cap + blk) * 4));
        acc = _mm512_sub_epi32(acc, _mm512_slli_epi32(_mm512_load_si512(ksum + blk), 7));
        if (blk >= a)
            _mm512_mask_storeu_epi32(s + joff + (blk - a), m, acc);
        else
            _mm512_mask_compressstoreu_epi32(s + joff, m, acc);
    }
}

static void scores(const int8_t *q, const int8_t *kp, const int32_t *ksum, uint32_t cap, uint32_t dh,
                   const ozf_window *w, int32_t *s)
{
    __m512i qb[OZ_MAX_DHEAD / 4];
    uint32_t dg, ndg = dh / 4;
    for (dg = 0; dg < ndg; dg++)
        qb[dg] = bcast_u8(q + 4 * dg);
    scores_run(qb, ndg, kp, ksum, cap, w->a0, w->b0, s, 0);
    if (w->b1 > w->a1)
        scores_run(qb, ndg, kp, ksum, cap, w->a1, w->b1, s, w->b0 - w->a0);
}

/* e split into bytes, e = 256 hi + lo (hi <= 128, lo <= 255), laid out in
 * ring-slot order from slot 4 * floor(a / 4): lo[i] belongs to slot
 * 4 * floor(a / 4) + i, zero outside [a, b). Then the 4 bytes of a group of
 * slots are one 32-bit word, which vpdpbusd broadcasts. */
static void split_e(const uint16_t *e, uint32_t a, uint32_t b, uint8_t *lo, uint8_t *hi)
{
    uint32_t n = b - a, off = a & 3, i = 0;
    memset(lo, 0, 4);
    memset(hi, 0, 4);
    for (; i + 32 <= n; i += 32) {
        __m512i v = _mm512_loadu_si512(e + i);
        _mm256_storeu_si256((__m256i *)(void *)(lo + off + i), _mm512_cvtepi16_epi8(_mm512_and_si512(v, _mm512_set1_epi16(255))));
        _mm256_storeu_si256((__m256i *)(void *)(hi + off + i), _mm512_cvtepi16_epi8(_mm512_srli_epi16(v, 8)));
    }
    for (; i < n; i++) {
        lo[off + i] = (uint8_t)(e[i] & 255);
        hi[off + i] = (uint8_t)(e[i] >> 8);
    }
    memset(lo + off + n, 0, 4);
    memset(hi + off + n, 0, 4);
}

static void vsum(const uint16_t *e, const int8_t *vp, uint32_t cap, uint32_t dh, const ozf_window *w, int32_t *acc)
{
    uint8_t lo[2][OZ_MAX_CTX + 16], hi[2][OZ_MAX_CTX + 16];
    uint32_t g0[2], ng[2], r, g, db, nr = 1;
    uint32_t ra[2] = {w->a0, w->a1}, rb[2] = {w->b0, w->b1}, jo[2] = {0, w->b0 - w->a0};
    (void)cap;
    if (w->b1 > w->a1)
        nr = 2;
    for (r = 0; r < nr; r++) {
        g0[r] = ra[r] / 4;
        ng[r] = (rb[r] + 3) / 4 - g0[r];
        split_e(e + jo[r], ra[r], rb[r], lo[r], hi[r]);
    }
    for (db = 0; db < dh; db += 16) {
        uint32_t lanes = dh - db < 16 ? dh - db : 16;
        __mmask16 m = (__mmask16)(((uint32_t)1 << lanes) - 1);
        __m512i l0 = _mm512_setzero_si512(), h0 = l0, l1 = l0, h1 = l0;
        for (r = 0; r < nr; r++) {
            const int8_t *src = vp + (size_t)g0[r] * dh * 4 + db * 4;
            const uint8_t *pl = lo[r], *ph = hi[r];
            int32_t wl, wh;
            /* two chains of accumulators to hide the dpbusd latency */
            for (g = 0; g + 2 <= ng[r]; g += 2, src += 8 * dh, pl += 8, ph += 8) {
                __m512i v0 = _mm512_maskz_loadu_epi32(m, src), v1 = _mm512_maskz_loadu_epi32(m, src + 4 * dh);
                int32_t wl1, wh1;
                memcpy(&wl, pl, 4);
                memcpy(&wh, ph, 4);
                memcpy(&wl1, pl + 4, 4);
                memcpy(&wh1, ph + 4, 4);
                l0 = _mm512_dpbusd_epi32(l0, _mm512_set1_epi32(wl), v0);
                h0 = _mm512_dpbusd_epi32(h0, _mm512_set1_epi32(wh), v0);
                l1 = _mm512_dpbusd_epi32(l1, _mm512_set1_epi32(wl1), v1);
                h1 = _mm512_dpbusd_epi32(h1, _mm512_set1_epi32(wh1), v1);
            }
            if (g < ng[r]) {
                __m512i v0 = _mm512_maskz_loadu_epi32(m, src);
                memcpy(&wl, pl, 4);
                memcpy(&wh, ph, 4);
                l0 = _mm512_dpbusd_epi32(l0, _mm512_set1_epi32(wl), v0);
                h0 = _mm512_dpbusd_epi32(h0, _mm512_set1_epi32(wh), v0);
            }
        }
        l0 = _mm512_add_epi32(l0, l1);
        h0 = _mm512_add_epi32(h0, h1);
        _mm512_mask_storeu_epi32(acc + db, m, _mm512_add_epi32(_mm512_slli_epi32(h0, 8), l0));
    }
}

static void rq_uniform(const int32_t *acc, uint32_t n, int32_t m, int32_t s, int32_t lo, int32_t hi, int32_t *out)
{
    const __m512i mm = _mm512_set1_epi64(m), rnd = _mm512_set1_epi64((int64_t)1 << (s - 1));
    const __m512i sh = _mm512_set1_epi64(s), vlo = _mm512_set1_epi64(lo), vhi = _mm512_set1_epi64(hi);
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i a = _mm512_cvtepi32_epi64(_mm256_loadu_si256((const __m256i *)(const void *)(acc + i)));
        __m512i p = _mm512_add_epi64(_mm512_mul_epi32(a, mm), rnd);
        p = _mm512_srav_epi64(p, sh); /* arithmetic: floor division by 2^s */
        p = _mm512_min_epi64(_mm512_max_epi64(p, vlo), vhi);
        _mm256_storeu_si256((__m256i *)(void *)(out + i), _mm512_cvtepi64_epi32(p));
    }
    for (; i < n; i++)
        out[i] = (int32_t)oz_clamp64(oz_rq(acc[i], m, s), lo, hi);
}

static void rq_rows(const int32_t *acc, uint32_t n, const int32_t *m, const int32_t *s, int32_t lo, int32_t hi,
                    int32_t *out)
{
    const __m512i one = _mm512_set1_epi64(1), vlo = _mm512_set1_epi64(lo), vhi = _mm512_set1_epi64(hi);
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i a = _mm512_cvtepi32_epi64(_mm256_loadu_si256((const __m256i *)(const void *)(acc + i)));
        __m512i mm = _mm512_cvtepi32_epi64(_mm256_loadu_si256((const __m256i *)(const void *)(m + i)));
        __m512i sh = _mm512_cvtepi32_epi64(_mm256_loadu_si256((const __m256i *)(const void *)(s + i)));
        __m512i rnd = _mm512_sllv_epi64(one, _mm512_sub_epi64(sh, one));
        __m512i p = _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(a, mm), rnd), sh);
        p = _mm512_min_epi64(_mm512_max_epi64(p, vlo), vhi);
        _mm256_storeu_si256((__m256i *)(void *)(out + i), _mm512_cvtepi64_epi32(p));
    }
    for (; i < n; i++)
        out[i] = (int32_t)oz_clamp64(oz_rq(acc[i], m[i], s[i]), lo, hi);
}

static void exp2q15(const int32_t *t, uint32_t n, uint16_t *e)
{
    const __m512i m255 = _mm512_set1_epi32(255);
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i tv = _mm512_loadu_si512(t + i);
        __m512i v = _mm512_i32gather_epi32(_mm512_and_si512(tv, m255), (const void *)ozf_exp2_u32, 4);
        v = _mm512_srlv_epi32(v, _mm512_srli_epi32(tv, 8)); /* shift counts >= 32 give 0 */
        _mm256_storeu_si256((__m256i *)(void *)(e + i), _mm512_cvtepi32_epi16(v));
    }
    for (; i < n; i++)
        e[i] = (uint16_t)oz_exp2q15(t[i]);
}

#include "forward_impl.h"

const ozf_kernels ozf_kernels_avx512 = {"avx512", pack_bytes, pack, gemm, scores, vsum, rq_uniform, rq_rows, exp2q15, forward};
