/* kern_avx2.c - AVX2 kernels (compiled with -mavx2 -mfma; only called after a
 * CPUID check). No VNNI here, so the int8 products go through vpmaddubsw,
 * which multiplies unsigned by signed bytes and adds PAIRS into int16 WITH
 * saturation. It is exact only if a pair's sum stays within int16:
 *   matrix products: u8 = |w| <= 128, s8 = sign(w) * a with |a| <= 127:
 *                    pair <= 2 * 128 * 127 = 32512 < 32767;
 *   scores:          u8 = |q| <= 127, s8 = sign(q) * k with |k| <= 127:
 *                    pair <= 2 * 127 * 127 = 32258;
 *   matrix products with small weights (|w| <= 64, every matrix of a
 *                    wbits <= 7 model; gemm_u): u8 = a + 128 <= 255,
 *                    s8 = w: pair <= 2 * 255 * 64 = 32640, and nacc pairs
 *                    summed in int16 stay within nacc * 510 * max|w| <= 32767;
 *   value sums:      not vpmaddubsw: e - 2^15 and v as int16 through
 *                    vpmaddwd (see vsum below).
 * (vpsignb(x, y) negates x where y < 0 and zeroes it where y == 0; both
 * preserve the product.) vpmaddwd then adds pairs of int16 into int32
 * exactly. Activations, queries and keys are sat8 outputs (never -128);
 * weights may be -128 (|w| = 128 is fine as an unsigned byte). */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/oz_int.h"
#include "../../core/oz_ops.h"
#include "ozf.h"

extern uint32_t ozf_exp2_u32[256];

#define KG(k) ((k) / 4)

/* (rows, k) -> [rows/8][k/4][8][4], then the row sums (int32, rows), then
 * nacc (int32): how many vpmaddubsw results of unsigned activations may be
 * added in int16 (see gemm_u), 0 where some |w| > 64 */
static size_t pack_bytes(uint32_t rows, uint32_t k) { return (size_t)rows * k + 4 * (size_t)rows + 4; }

static void pack(const int8_t *w, uint32_t rows, uint32_t k, void *dst)
{
    int8_t *o = (int8_t *)dst;
    int32_t *rs = (int32_t *)(void *)(o + (size_t)rows * k), wmax = 1, nacc;
    uint32_t rb, kg, i, j;
    for (rb = 0; rb < rows / 8; rb++)
        for (kg = 0; kg < KG(k); kg++)
            for (i = 0; i < 8; i++)
                for (j = 0; j < 4; j++)
                    o[(((size_t)rb * KG(k) + kg) * 8 + i) * 4 + j] = w[(size_t)(rb * 8 + i) * k + kg * 4 + j];
    for (i = 0; i < rows; i++) {
        int32_t sum = 0;
        for (j = 0; j < k; j++) {
            int32_t v = w[(size_t)i * k + j];
            sum += v;
            wmax = v > wmax ? v : (-v > wmax ? -v : wmax);
        }
        rs[i] = sum;
    }
    nacc = wmax > 64 ? 0 : 32767 / (510 * wmax);
    rs[rows] = nacc > 16 ? 16 : nacc;
}

static inline __m256i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* sum of 4 byte products per int32 lane: u (unsigned bytes) x s (signed bytes) */
static inline __m256i dot4(__m256i u, __m256i s, __m256i ones16)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), ones16);
}

static inline __attribute__((always_inline)) void micro(const int8_t *w, uint32_t k, uint32_t rb0, int nrb,
                                                        const int8_t *a, uint32_t lda, uint32_t b0, int nb,
                                                        int32_t *c, uint32_t ldc)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[2][4];
    uint32_t kg, nkg = KG(k);
    int i, b;
    for (i = 0; i < 2; i++)
        for (b = 0; b < 4; b++)
            acc[i][b] = _mm256_setzero_si256();
    for (kg = 0; kg < nkg; kg++) {
        __m256i w0 = _mm256_load_si256((const __m256i *)(const void *)(w + ((size_t)rb0 * nkg + kg) * 32));
        __m256i w1 = nrb > 1 ? _mm256_load_si256((const __m256i *)(const void *)(w + ((size_t)(rb0 + 1) * nkg + kg) * 32)) : w0;
        __m256i u0 = _mm256_abs_epi8(w0), u1 = _mm256_abs_epi8(w1);
        for (b = 0; b < nb; b++) {
            __m256i av = bcast4(a + (size_t)(b0 + b) * lda + kg * 4);
            acc[0][b] = _mm256_add_epi32(acc[0][b], dot4(u0, _mm256_sign_epi8(av, w0), ones));
            if (nrb > 1)
                acc[1][b] = _mm256_add_epi32(acc[1][b], dot4(u1, _mm256_sign_epi8(av, w1), ones));
        }
    }
    for (i = 0; i < nrb; i++)
        for (b = 0; b < nb; b++)
            _mm256_storeu_si256((__m256i *)(void *)(c + (size_t)(b0 + b) * ldc + (rb0 + i) * 8), acc[i][b]);
}

/* Matrices whose weights are small, |w| <= 64 (every matrix of a model with
 * wbits <= 7; the default levels use wbits = 5, |w| <= 15): the activations
 * go in unsigned, u = a + 128 <= 255, against the signed weights, so a
 * vpmaddubsw pair is at most 2 * 255 * 64 = 32640 in magnitude, and nacc =
 * floor(32767 / (510 wmax)) of them (4 at |w| <= 15) add up in int16 without
 * wrapping before one vpmaddwd widens the sum; no vpsignb. The result is
 * sum u w - 128 sum w (the row sums kept by pack). 2.5 instructions per 32
 * products at |w| <= 15, against 4 in micro(). */
static inline __attribute__((always_inline)) void micro_u(const int8_t *w, uint32_t k, uint32_t rb, const int NRB,
                                                          const uint8_t *a, uint32_t b0, const int NB,
                                                          const int32_t *rs, const uint32_t nacc, int32_t *c,
                                                          uint32_t ldc)
{
    const __m256i ones = _mm256_set1_epi16(1);
    const int8_t *wr = w + (size_t)rb * KG(k) * 32;
    __m256i acc[2][3], s16[2][3];
    uint32_t kg = 0, nkg = KG(k), end;
    int b, i;
    for (i = 0; i < NRB; i++)
        for (b = 0; b < NB; b++)
            acc[i][b] = _mm256_setzero_si256();
    while (kg < nkg) {
        end = nkg - kg > nacc ? kg + nacc : nkg;
        for (i = 0; i < NRB; i++)
            for (b = 0; b < NB; b++)
                s16[i][b] = _mm256_setzero_si256();
        for (; kg < end; kg++) {
            __m256i w0 = _mm256_load_si256((const __m256i *)(const void *)(wr + (size_t)kg * 32));
            __m256i w1 = NRB > 1 ? _mm256_load_si256((const __m256i *)(const void *)(wr + ((size_t)nkg + kg) * 32)) : w0;
            for (b = 0; b < NB; b++) {
                __m256i av = bcast4((const int8_t *)(a + (size_t)(b0 + b) * k + kg * 4));
                s16[0][b] = _mm256_add_epi16(s16[0][b], _mm256_maddubs_epi16(av, w0));
                if (NRB > 1)
                    s16[1][b] = _mm256_add_epi16(s16[1][b], _mm256_maddubs_epi16(av, w1));
            }
        }
        for (i = 0; i < NRB; i++)
            for (b = 0; b < NB; b++)
                acc[i][b] = _mm256_add_epi32(acc[i][b], _mm256_madd_epi16(s16[i][b], ones));
    }
    for (i = 0; i < NRB; i++) {
        __m256i corr = _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(rs + (rb + i) * 8)), 7);
        for (b = 0; b < NB; b++)
            _mm256_storeu_si256((__m256i *)(void *)(c + (size_t)(b0 + b) * ldc + (rb + i) * 8),
                                _mm256_sub_epi32(acc[i][b], corr));
    }
}

/* gemm_u over every row block; a + 128 into a per-thread buffer first.
 * Returns 0 if that buffer cannot be had (the caller then takes micro()) */
static int gemm_u(const int8_t *w, uint32_t rows, uint32_t k, const int8_t *as, uint32_t lda, uint32_t nb,
                  int32_t *c, uint32_t ldc, const int32_t *rs, uint32_t nacc)
{
    uint8_t *a = (uint8_t *)ozf_thread_buf(OZF_TBUF_AVX2_U8, (size_t)nb * k);
    uint32_t rb, b, i;
    if (!a)
        return 0;
    for (b = 0; b < nb; b++) {
        const int8_t *src = as + (size_t)b * lda;
        uint8_t *dst = a + (size_t)b * k;
        for (i = 0; i + 32 <= k; i += 32)
            _mm256_storeu_si256((__m256i *)(void *)(dst + i),
                                _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(src + i)),
                                                 _mm256_set1_epi8((char)0x80)));
        for (; i < k; i++)
            dst[i] = (uint8_t)(src[i] ^ 0x80);
    }
    /* two row blocks and three activation rows at a time (12 of the 16
     * registers hold sums); nacc a constant in the common case (|w| <= 15) */
    for (rb = 0; rb < rows / 8; rb += 2) {
        int two = rb + 1 < rows / 8;
        for (b = 0; b < nb; b += 3) {
            int left = nb - b >= 3 ? 3 : (int)(nb - b);
#define OZF_MU(NRB, NB) (nacc == 4 ? micro_u(w, k, rb, NRB, a, b, NB, rs, 4, c, ldc) \
                                   : micro_u(w, k, rb, NRB, a, b, NB, rs, nacc, c, ldc))
            if (two)
                switch (left) {
                case 3: OZF_MU(2, 3); break;
                case 2: OZF_MU(2, 2); break;
                default: OZF_MU(2, 1); break;
                }
            else
                switch (left) {
                case 3: OZF_MU(1, 3); break;
                case 2: OZF_MU(1, 2); break;
                default: OZF_MU(1, 1); break;
                }
#undef OZF_MU
        }
    }
    return 1;
}

static void gemm(const void *wp, uint32_t rows, uint32_t k, const int8_t *a, uint32_t lda, uint32_t nb, int32_t *c,
                 uint32_t ldc)
{
    const int8_t *w = (const int8_t *)wp;
    const int32_t *rs = (const int32_t *)(const void *)(w + (size_t)rows * k);
    uint32_t nrb = rows / 8, rb, b;
    /* k >= 96: the unsigned path paid at W = 512 (D = 96: tools/ab.sh 1.09x
     * encode and decode; callgrind: 9% fewer instructions in gemm); at
     * k = 16 to 64 it ran more instructions than micro() (the copy and the
     * shorter runs of nacc per flush), so those keep micro() */
    if (rs[rows] && k >= 96 && gemm_u(w, rows, k, a, lda, nb, c, ldc, rs, (uint32_t)rs[rows]))
        return;
    for (rb = 0; rb < nrb; rb += 2) {
        int two = rb + 1 < nrb;
        for (b = 0; b < nb; b += 4) {
            uint32_t left = nb - b, j;
            if (left >= 4) {
                if (two)
                    micro(w, k, rb, 2, a, lda, b, 4, c, ldc);
                else
                    micro(w, k, rb, 1, a, lda, b, 4, c, ldc);
            } else {
                for (j = 0; j < left; j++) {
                    if (two)
                        micro(w, k, rb, 2, a, lda, b + j, 1, c, ldc);
                    else
                        micro(w, k, rb, 1, a, lda, b + j, 1, c, ldc);
                }
            }
        }
    }
}

static void scores_run(const __m256i *qa, const __m256i *qs, uint32_t ndg, const int8_t *kp, uint32_t cap,
                       uint32_t a, uint32_t b, int32_t *s, uint32_t joff)
{
    const __m256i ones = _mm256_set1_epi16(1);
    uint32_t blk, dg, i;
    for (blk = a & ~7u; blk < b; blk += 8) {
        __m256i acc = _mm256_setzero_si256();
        int32_t tmp[8];
        for (dg = 0; dg < ndg; dg++) {
            __m256i kv = _mm256_load_si256((const __m256i *)(const void *)(kp + ((size_t)dg * cap + blk) * 4));
            acc = _mm256_add_epi32(acc, dot4(qa[dg], _mm256_sign_epi8(kv, qs[dg]), ones));
        }
        if (blk >= a && blk + 8 <= b) {
            _mm256_storeu_si256((__m256i *)(void *)(s + joff + (blk - a)), acc);
        } else {
            _mm256_storeu_si256((__m256i *)(void *)tmp, acc);
            for (i = 0; i < 8; i++)
                if (blk + i >= a && blk + i < b)
                    s[joff + blk + i - a] = tmp[i];
        }
    }
}

static void scores(const int8_t *q, const int8_t *kp, const int32_t *ksum, uint32_t cap, uint32_t dh,
                   const ozf_window *w, int32_t *s)
{
    __m256i qa[OZ_MAX_DHEAD / 4], qs[OZ_MAX_DHEAD / 4];
    uint32_t dg, ndg = dh / 4;
    (void)ksum;
    for (dg = 0; dg < ndg; dg++) {
        qs[dg] = bcast4(q + 4 * dg);
        qa[dg] = _mm256_abs_epi8(qs[dg]);
    }
    scores_run(qa, qs, ndg, kp, cap, w->a0, w->b0, s, 0);
    if (w->b1 > w->a1)
        scores_run(qa, qs, ndg, kp, cap, w->a1, w->b1, s, w->b0 - w->a0);
}

/* Value sums with vpmaddwd (docs/integer-model.md, "Value sums"): the
 * weight e <= 2^15 does not fit int16, e' = e - 2^15 (e xor 0x8000) does, and
 *   sum e v = sum e' v + 2^15 sum v.
 * The values are sign-extended to int16 (vpmovsxbw), multiplied by e' in
 * pairs of slots (vpmaddwd: |e' v| <= 2^15 127, a pair < 2^23) and summed
 * in int32; sum v is kept in int16 lanes (one lane per dimension and slot of
 * a group: at most 130 groups of 127). Slots outside the window carry e = 0,
 * e' = -2^15, and add -2^15 v + 2^15 v = 0; so do skipped groups, which leave
 * out both terms.
 *
 * ep: e' of the run of slots [a, b) (window order from e[0]) in ring-slot
 * order from slot 4 * floor(a / 4), -2^15 outside [a, b), so that the e' of a
 * group of four slots are one 64-bit word. Room for b - a + 8 entries. */
static void prep_eprime(const uint16_t *e, uint32_t a, uint32_t b, int16_t *ep)
{
    const __m256i flip = _mm256_set1_epi16((short)0x8000);
    uint32_t n = b - a, off = a & 3, i = 0, k;
    for (k = 0; k < 4; k++)
        ep[k] = INT16_MIN;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(void *)(ep + off + i),
                            _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(e + i)), flip));
    for (; i < n; i++)
        ep[off + i] = (int16_t)(e[i] ^ 0x8000u);
    for (k = 0; k < 4; k++)
        ep[off + n + k] = INT16_MIN;
}

/* the sums of NSB (1..4) blocks of 4 dimensions from db, every group of the runs */
static inline __attribute__((always_inline)) void vsum_dims(const int16_t *const ep[2], const int8_t *vp, uint32_t dh,
                                                            uint32_t db, const uint32_t g0[2], const uint32_t ng[2],
                                                            uint32_t nr, const int NSB, int32_t *acc)
{
    const __m256i none = _mm256_set1_epi16(INT16_MIN), ones = _mm256_set1_epi16(1);
    __m256i sum[4], sv[4];
    uint32_t r, g;
    int k, i;
    for (k = 0; k < NSB; k++)
        sum[k] = sv[k] = _mm256_setzero_si256();
    for (r = 0; r < nr; r++) {
        const int16_t *e = ep[r];
        const int8_t *src = vp + (size_t)g0[r] * dh * 4 + db * 4;
        for (g = 0; g < ng[r]; g++, src += dh * 4, e += 4) {
            int64_t w;
            __m256i eb;
            if ((g & 3) == 0 && g + 4 <= ng[r] &&
                _mm256_movemask_epi8(_mm256_cmpeq_epi16(_mm256_loadu_si256((const __m256i *)(const void *)e), none)) == -1) {
                /* 16 slots whose weights are all 0 add nothing */
                g += 3, src += 3 * dh * 4, e += 12;
                continue;
            }
            memcpy(&w, e, 8);
            eb = _mm256_set1_epi64x(w);
            for (k = 0; k < NSB; k++) {
                __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(src + 16 * k)));
                sum[k] = _mm256_add_epi32(sum[k], _mm256_madd_epi16(x, eb));
                sv[k] = _mm256_add_epi16(sv[k], x);
            }
        }
    }
    for (k = 0; k < NSB; k++) {
        /* lanes 2i, 2i+1: dimension db + 4k + i (slots 0-1 and 2-3 of the groups) */
        uint32_t t[8];
        __m256i tot = _mm256_add_epi32(sum[k], _mm256_slli_epi32(_mm256_madd_epi16(sv[k], ones), 15));
        _mm256_storeu_si256((__m256i *)(void *)t, tot);
        for (i = 0; i < 4; i++)
            acc[db + 4 * k + i] = (int32_t)(t[2 * i] + t[2 * i + 1]); /* wrapping; the true sum fits */
    }
}

/* vsum_dims over every block of up to 16 dimensions (dh a multiple of 4) */
static void vsum_all(const int16_t *const ep[2], const int8_t *vp, uint32_t dh, const uint32_t g0[2],
                     const uint32_t ng[2], uint32_t nr, int32_t *acc)
{
    uint32_t db;
    for (db = 0; db < dh; db += 16) {
        switch (dh - db >= 16 ? 4 : (dh - db) / 4) {
        case 4: vsum_dims(ep, vp, dh, db, g0, ng, nr, 4, acc); break;
        case 3: vsum_dims(ep, vp, dh, db, g0, ng, nr, 3, acc); break;
        case 2: vsum_dims(ep, vp, dh, db, g0, ng, nr, 2, acc); break;
        default: vsum_dims(ep, vp, dh, db, g0, ng, nr, 1, acc); break;
        }
    }
}

static void vsum(const uint16_t *e, const int8_t *vp, uint32_t cap, uint32_t dh, const ozf_window *w, int32_t *acc)
{
    int16_t ep[2][OZ_MAX_CTX + 16];
    const int16_t *const epp[2] = {ep[0], ep[1]};
    uint32_t g0[2], ng[2], r, nr = 1;
    uint32_t ra[2] = {w->a0, w->a1}, rb[2] = {w->b0, w->b1}, jo[2] = {0, w->b0 - w->a0};
    (void)cap;
    if (w->b1 > w->a1)
        nr = 2;
    for (r = 0; r < nr; r++) {
        g0[r] = ra[r] / 4;
        ng[r] = (rb[r] + 3) / 4 - g0[r];
        prep_eprime(e + jo[r], ra[r], rb[r], ep[r]);
    }
    vsum_all(epp, vp, dh, g0, ng, nr, acc);
}

/* max |acc[i]| (|INT32_MIN| = 2^31, which vpabsd leaves as 0x80000000) */
static uint32_t max_abs(const int32_t *acc, uint32_t n)
{
    __m256i vmax = _mm256_setzero_si256();
    uint32_t amax = 0, i = 0, lanes[8], v;
    for (; i + 8 <= n; i += 8)
        vmax = _mm256_max_epu32(vmax, _mm256_abs_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(acc + i))));
    _mm256_storeu_si256((__m256i *)(void *)lanes, vmax);
    for (v = 0; v < 8; v++)
        amax = lanes[v] > amax ? lanes[v] : amax;
    for (; i < n; i++) {
        v = acc[i] < 0 ? 0u - (uint32_t)acc[i] : (uint32_t)acc[i];
        amax = v > amax ? v : amax;
    }
    return amax;
}

/* The same values on 8 int32 lanes, where they can be had from 32-bit halves
 * (docs/integer-model.md, "Requantisation of scores and rows"): P = acc m +
 * 2^(s-1) is exact in 64-bit lanes (|P| < 2^63). For s >= 32 the high half of
 * P is floor(P / 2^32) (it always fits int32), shifted right arithmetically
 * by s - 32; for s < 32, when every result fits int32 (max |acc| m + 2^s <=
 * 2^(s+31)), it is the low half of P shifted right logically by s. Returns 0
 * if neither applies. */
static int rq_uniform_narrow(const int32_t *acc, uint32_t n, int32_t m, int32_t s, int32_t lo, int32_t hi, int32_t *out)
{
    const __m256i mm = _mm256_set1_epi64x(m), rnd = _mm256_set1_epi64x((int64_t)1 << (s - 1));
    const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi);
    uint32_t i = 0;
    if (s >= 32) {
        const __m128i sh = _mm_cvtsi32_si128(s - 32);
        for (; i + 8 <= n; i += 8) {
            __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(acc + i));
            __m256i e = _mm256_add_epi64(_mm256_mul_epi32(a, mm), rnd);
            __m256i o = _mm256_add_epi64(_mm256_mul_epi32(_mm256_shuffle_epi32(a, 0xF5), mm), rnd);
            /* high halves: e's to the even lanes, o's stay in the odd ones */
            __m256i r = _mm256_blend_epi32(_mm256_shuffle_epi32(e, 0xF5), o, 0xAA);
            r = _mm256_sra_epi32(r, sh);
            _mm256_storeu_si256((__m256i *)(void *)(out + i), _mm256_min_epi32(_mm256_max_epi32(r, vlo), vhi));
        }
    } else if ((((uint64_t)max_abs(acc, n) * (uint64_t)m + ((uint64_t)1 << s)) >> (s + 31)) == 0) {
        const __m128i sh = _mm_cvtsi32_si128(s);
        for (; i + 8 <= n; i += 8) {
            __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(acc + i));
            __m256i e = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epi32(a, mm), rnd), sh);
            __m256i o = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epi32(_mm256_shuffle_epi32(a, 0xF5), mm), rnd), sh);
            /* low halves: o's to the odd lanes */
            __m256i r = _mm256_blend_epi32(e, _mm256_shuffle_epi32(o, 0xA0), 0xAA);
            _mm256_storeu_si256((__m256i *)(void *)(out + i), _mm256_min_epi32(_mm256_max_epi32(r, vlo), vhi));
        }
    } else {
        return 0;
    }
    for (; i < n; i++)
        out[i] = (int32_t)oz_clamp64(oz_rq(acc[i], m, s), lo, hi);
    return 1;
}

/* floor((acc * m + 2^(s-1)) / 2^s), 4 lanes of int64: AVX2 has no 64-bit
 * arithmetic shift, so shift x + 2^63 logically and subtract 2^(63-s). Where
 * the 32-bit form above applies it is used instead. */
static void rq_uniform(const int32_t *acc, uint32_t n, int32_t m, int32_t s, int32_t lo, int32_t hi, int32_t *out)
{
    const __m256i mm = _mm256_set1_epi64x(m), rnd = _mm256_set1_epi64x((int64_t)1 << (s - 1));
    const __m256i bias = _mm256_set1_epi64x((int64_t)((uint64_t)1 << 63));
    const __m256i unb = _mm256_set1_epi64x((int64_t)((uint64_t)1 << (63 - s)));
    const __m128i sh = _mm_cvtsi32_si128(s);
    const __m256i vlo = _mm256_set1_epi64x(lo), vhi = _mm256_set1_epi64x(hi);
    const __m256i pick = _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0);
    uint32_t i = 0;
    if (rq_uniform_narrow(acc, n, m, s, lo, hi, out))
        return;
    for (; i + 4 <= n; i += 4) {
        __m256i a = _mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)(const void *)(acc + i)));
        __m256i p = _mm256_add_epi64(_mm256_mul_epi32(a, mm), rnd);
        p = _mm256_sub_epi64(_mm256_srl_epi64(_mm256_xor_si256(p, bias), sh), unb);
        p = _mm256_blendv_epi8(p, vlo, _mm256_cmpgt_epi64(vlo, p));
        p = _mm256_blendv_epi8(p, vhi, _mm256_cmpgt_epi64(p, vhi));
        _mm_storeu_si128((__m128i *)(void *)(out + i), _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(p, pick)));
    }
    for (; i < n; i++)
        out[i] = (int32_t)oz_clamp64(oz_rq(acc[i], m, s), lo, hi);
}

/* per-channel multipliers: as rq_uniform, with per-lane shifts (vpsrlvq) */
static void rq_rows(const int32_t *acc, uint32_t n, const int32_t *m, const int32_t *s, int32_t lo, int32_t hi,
                    int32_t *out)
{
    const __m256i one = _mm256_set1_epi64x(1), bias = _mm256_set1_epi64x((int64_t)((uint64_t)1 << 63));
    const __m256i c63 = _mm256_set1_epi64x(63), vlo = _mm256_set1_epi64x(lo), vhi = _mm256_set1_epi64x(hi);
    const __m256i pick = _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0);
    const __m256i lo32 = _mm256_set1_epi64x(0xFFFFFFFFll), c32 = _mm256_set1_epi32(32);
    const __m256i vlo32 = _mm256_set1_epi32(lo), vhi32 = _mm256_set1_epi32(hi);
    uint32_t i = 0;
    /* 8 rows at a time where all 8 shifts are >= 32 (docs/integer-model.md,
     * "Requantisation of scores and rows"): P = acc m + 2^(s-1) exactly in
     * 64-bit lanes, its high half is floor(P / 2^32), and vpsravd by s - 32
     * gives floor(P / 2^s); the clamp is done on int32 */
    for (; i + 8 <= n; i += 8) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(acc + i));
        __m256i mm = _mm256_loadu_si256((const __m256i *)(const void *)(m + i));
        __m256i sh = _mm256_loadu_si256((const __m256i *)(const void *)(s + i)), se, so, pe, po, r;
        if (!_mm256_testz_si256(_mm256_cmpgt_epi32(c32, sh), _mm256_cmpgt_epi32(c32, sh)))
            break; /* some shift below 32 */
        se = _mm256_and_si256(sh, lo32); /* the even lanes' shifts, as 64-bit counts */
        so = _mm256_srli_epi64(sh, 32);  /* the odd lanes' */
        pe = _mm256_add_epi64(_mm256_mul_epi32(a, mm), _mm256_sllv_epi64(one, _mm256_sub_epi64(se, one)));
        po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(mm, 32)),
                              _mm256_sllv_epi64(one, _mm256_sub_epi64(so, one)));
        /* high halves: the even lanes' moved down, the odd lanes' in place */
        r = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
        r = _mm256_srav_epi32(r, _mm256_sub_epi32(sh, c32)); /* counts 0 .. 30 */
        _mm256_storeu_si256((__m256i *)(void *)(out + i), _mm256_min_epi32(_mm256_max_epi32(r, vlo32), vhi32));
    }
    for (; i + 4 <= n; i += 4) {
        __m256i a = _mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)(const void *)(acc + i)));
        __m256i mm = _mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)(const void *)(m + i)));
        __m256i sh = _mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)(const void *)(s + i)));
        __m256i p = _mm256_add_epi64(_mm256_mul_epi32(a, mm), _mm256_sllv_epi64(one, _mm256_sub_epi64(sh, one)));
        __m256i unb = _mm256_sllv_epi64(one, _mm256_sub_epi64(c63, sh));
        p = _mm256_sub_epi64(_mm256_srlv_epi64(_mm256_xor_si256(p, bias), sh), unb);
        p = _mm256_blendv_epi8(p, vlo, _mm256_cmpgt_epi64(vlo, p));
        p = _mm256_blendv_epi8(p, vhi, _mm256_cmpgt_epi64(p, vhi));
        _mm_storeu_si128((__m128i *)(void *)(out + i), _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(p, pick)));
    }
    for (; i < n; i++)
        out[i] = (int32_t)oz_clamp64(oz_rq(acc[i], m[i], s[i]), lo, hi);
}

/* rq_rows for a prepared matrix (ozf_rq), as in kern_avx512.c: the
 * constants read from q instead of made from s. OZF_RQ_HI: (H +
 * 2^(s-33)) >> (s-32) from the products' high halves H; OZF_RQ_LO: the
 * high half of (a 2^(32-s)) m + 2^31 (docs/integer-model.md,
 * "Requantisation of scores and rows") */
#define OZF_HAVE_RQ_Q 1
#define LDU(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
static inline __attribute__((always_inline)) __m256i rq8_qc(__m256i a, __m256i m, __m256i mo, __m256i sh, __m256i c,
                                                            const int MODE)
{
    __m256i pe, po, r;
    if (MODE == OZF_RQ_LO)
        a = _mm256_sllv_epi32(a, sh);
    pe = _mm256_mul_epi32(a, m);
    /* the odd lanes' a against mo = the odd lanes' m, both in the even places */
    po = _mm256_mul_epi32(_mm256_shuffle_epi32(a, 0xF5), mo);
    if (MODE == OZF_RQ_LO) {
        const __m256i half = _mm256_set1_epi64x((int64_t)1 << 31);
        pe = _mm256_add_epi64(pe, half);
        po = _mm256_add_epi64(po, half);
    }
    /* high halves: pe's moved down to the even lanes, po's in place in the odd ones */
    r = _mm256_blend_epi32(_mm256_shuffle_epi32(pe, 0xF5), po, 0xAA);
    if (MODE == OZF_RQ_HI)
        r = _mm256_srav_epi32(_mm256_add_epi32(r, c), sh);
    return r;
}

/* rq_rows_q of nrows rows of n (rows n apart in acc and out; out may be
 * acc): a column block's constants loaded once for all rows; the columns
 * past the last whole block by core's expression */
static void rq_rows_qn(const int32_t *acc, uint32_t nrows, uint32_t n, const ozf_rq *q, int32_t lo, int32_t hi,
                       int32_t *out)
{
    const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi);
    uint32_t i, r;
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256i m = LDU(q->m + i), mo = LDU(q->mo + i), sh = LDU(q->sh + i), c = LDU(q->c + i);
        if (q->mode == OZF_RQ_HI)
            for (r = 0; r < nrows; r++)
                _mm256_storeu_si256((__m256i *)(void *)(out + (size_t)r * n + i),
                                    _mm256_min_epi32(_mm256_max_epi32(rq8_qc(LDU(acc + (size_t)r * n + i), m, mo, sh, c, OZF_RQ_HI), vlo), vhi));
        else
            for (r = 0; r < nrows; r++)
                _mm256_storeu_si256((__m256i *)(void *)(out + (size_t)r * n + i),
                                    _mm256_min_epi32(_mm256_max_epi32(rq8_qc(LDU(acc + (size_t)r * n + i), m, mo, sh, c, OZF_RQ_LO), vlo), vhi));
    }
    for (r = 0; r < nrows && i < n; r++) {
        uint32_t j;
        for (j = i; j < n; j++)
            out[(size_t)r * n + j] = (int32_t)oz_clamp64(oz_rq(acc[(size_t)r * n + j], q->m[j], q->s[j]), lo, hi);
    }
}

static void rq_rows_q(const int32_t *acc, uint32_t n, const ozf_rq *q, int32_t lo, int32_t hi, int32_t *out)
{
    rq_rows_qn(acc, 1, n, q, lo, hi, out);
}
#undef LDU

static void exp2q15(const int32_t *t, uint32_t n, uint16_t *e)
{
    const __m256i m255 = _mm256_set1_epi32(255);
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i tv = _mm256_loadu_si256((const __m256i *)(const void *)(t + i));
        __m256i v = _mm256_i32gather_epi32((const int *)(const void *)ozf_exp2_u32, _mm256_and_si256(tv, m255), 4);
        v = _mm256_srlv_epi32(v, _mm256_srli_epi32(tv, 8)); /* counts >= 32 give 0 */
        /* 8 values <= 2^15 -> 8 uint16 (vpackusdw saturates nothing here) */
        _mm_storeu_si128((__m128i *)(void *)(e + i),
                         _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
    }
    for (; i < n; i++)
        e[i] = (uint16_t)oz_exp2q15(t[i]);
}

/* ---- the whole attention of one head in AVX2, fused (used by
 * forward_impl.h) ----
 * The same integers as attend() in core (docs/integer-model.md, "The fast
 * CPU engine computes the same integers"): the raw scores of the window
 * (scores()), then one pass that requantises them, subtracts the ALiBi term
 * and keeps the maximum, then one pass that turns each z into its weight
 * e = exp2q15(zmax - z) (a gather from the 32-bit table), adds it to E and
 * stores e' = e - 2^15 where vsum_dims() reads it, then the value sums and
 * the division. Core's separate loops each read and wrote the window once
 * more. */
#define OZF_FUSED_ATTEND 1

/* Which requantisation of scores (see rq_uniform_narrow and p1_z) holds for
 * every possible score |s| <= dh 127^2: 3 = the high halves alone (as >= 33),
 * 2 = the high half of the 64-bit product (as = 32), 1 = its low half (every
 * result fits int32), 0 = neither (the 64-bit form of rq_uniform). *clamp:
 * whether the clamp to +-2^24 can act (as rq_mode in kern_avx512.c; never
 * from as = 33 on). */
static int att_rq_kind(uint32_t dh, int32_t am, int32_t as, int *clamp)
{
    uint64_t big = (uint64_t)dh * 127 * 127 * (uint64_t)am + ((uint64_t)1 << as); /* < 2^22 2^31 + 2^62 */
    *clamp = as < 33 && (big >> (as + 24)) != 0;
    if (as >= 33)
        return 3;
    if (as == 32)
        return 2;
    return (big >> (as + 31)) == 0 ? 1 : 0;
}

/* What one attention carries from one phase to the next. The attention is
 * three phases, each waiting on the one before through a horizontal
 * reduction or a division (the scores and their maximum; the weights and E;
 * the value sums and the division); attend2 runs two independent attentions
 * phase by phase, so that one's chains of latency overlap the other's work. */
typedef struct att_state {
    const int8_t *vp;
    int8_t *o;
    int32_t *zs, zmax;
    uint32_t ra[2], rb[2], jo[2], g0[2], ng[2], nr, dh, E;
    int16_t ep[2][OZ_MAX_CTX + 16];
} att_state;

/* clamp(rq(a)) of 8 raw scores a with one (am, as) (KIND, CLAMP as p1_z
 * below; mm = am in 64-bit lanes, rnd and sh as p1_z sets them) */
static inline __attribute__((always_inline)) __m256i rq_z8(__m256i a, __m256i mm, __m256i rnd, __m128i sh,
                                                           const int KIND, const int CLAMP)
{
    __m256i pe = _mm256_mul_epi32(a, mm), po = _mm256_mul_epi32(_mm256_shuffle_epi32(a, 0xF5), mm), x;
    if (KIND == 3) { /* |H| < 2^22 2^31 / 2^32, plus at most 2^29 */
        x = _mm256_blend_epi32(_mm256_shuffle_epi32(pe, 0xF5), po, 0xAA);
        x = _mm256_sra_epi32(_mm256_add_epi32(x, rnd), sh);
    } else if (KIND == 2) { /* high halves: pe's to the even lanes, po's stay in the odd ones */
        pe = _mm256_add_epi64(pe, rnd), po = _mm256_add_epi64(po, rnd);
        x = _mm256_sra_epi32(_mm256_blend_epi32(_mm256_shuffle_epi32(pe, 0xF5), po, 0xAA), sh);
    } else { /* low halves of the logical shifts: po's to the odd lanes */
        pe = _mm256_add_epi64(pe, rnd), po = _mm256_add_epi64(po, rnd);
        x = _mm256_blend_epi32(_mm256_srl_epi64(pe, sh), _mm256_shuffle_epi32(_mm256_srl_epi64(po, sh), 0xA0), 0xAA);
    }
    if (CLAMP)
        x = _mm256_min_epi32(_mm256_max_epi32(x, _mm256_set1_epi32(-OZ_Z_MAX)), _mm256_set1_epi32(OZ_Z_MAX));
    return x;
}

/* rq_z8's constants for (am, as) and KIND: am in 64-bit lanes, the
 * rounding term and the shift count */
#define RQ_Z8_CONSTS(am, as, KIND)                                                                                     \
    const __m256i mm = _mm256_set1_epi64x(am);                                                                         \
    const __m256i rnd = (KIND) == 3 ? _mm256_set1_epi32(1 << ((as) - 33)) : _mm256_set1_epi64x((int64_t)1 << ((as) - 1)); \
    const __m128i sh = _mm_cvtsi32_si128((KIND) >= 2 ? (as) - 32 : (as))

/* CALL(KIND, CLAMP) with the two as constants, for att_rq_kind's kind 1-3 */
#define RQ_Z8_PICK(kind, clamp, CALL)                                                                                  \
    ((kind) == 3 ? CALL(3, 0) : (kind) == 2 ? ((clamp) ? CALL(2, 1) : CALL(2, 0)) : ((clamp) ? CALL(1, 1) : CALL(1, 0)))

/* z = clamp(rq(s)) - slope (n - 1 - j) for the whole groups of 8 of zs
 * (in place), their maximum into vmax, *j past them. KIND 1: the low
 * halves of the 64-bit P = s am + 2^(as-1) shifted logically (every result
 * fits int32); 2: the high halves of P (as >= 32); 3 (as >= 33): the high
 * halves H of s am alone, then (H + 2^(as-33)) >> (as - 32), which is
 * floor(P / 2^as) because 2^(as-1) is a multiple of 2^32 (as rq_rows,
 * docs/integer-model.md). CLAMP 0 where no result can pass +-2^24. The bias
 * (<= 2^16 * 527 < 2^26) drops by 8 slope from one group to the next. */
static inline __attribute__((always_inline)) __m256i p1_z(int32_t *zs, uint32_t n, int32_t am, int32_t as,
                                                          int32_t slope, const int KIND, const int CLAMP, __m256i vmax,
                                                          uint32_t *jp)
{
    RQ_Z8_CONSTS(am, as, KIND);
    const __m256i step = _mm256_set1_epi32(8 * slope);
    __m256i bias = _mm256_mullo_epi32(_mm256_set1_epi32(slope),
                                      _mm256_sub_epi32(_mm256_set1_epi32((int32_t)n - 1), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
    uint32_t j = 0;
    for (; j + 8 <= n; j += 8, bias = _mm256_sub_epi32(bias, step)) {
        __m256i x = rq_z8(_mm256_loadu_si256((const __m256i *)(const void *)(zs + j)), mm, rnd, sh, KIND, CLAMP);
        x = _mm256_sub_epi32(x, bias);
        vmax = _mm256_max_epi32(vmax, x);
        _mm256_storeu_si256((__m256i *)(void *)(zs + j), x);
    }
    *jp = j;
    return vmax;
}

/* phase 1: z for every window position into zs, and their maximum */
static inline __attribute__((always_inline)) void attend_p1(const ozf_att_job *aj, int32_t *restrict zs, att_state *st)
{
    const int8_t *q = aj->q, *kp = aj->kp;
    const int32_t *ksum = aj->ksum;
    const ozf_window *w = &aj->w;
    uint32_t cap = aj->cap, dh = aj->dh, n = aj->n, j;
    int32_t am = aj->am, as = aj->as, slope = aj->slope, zmax, lanes[8];
    int clamp, kind = att_rq_kind(dh, am, as, &clamp);
    __m256i vmax = _mm256_set1_epi32(INT32_MIN);
    st->vp = aj->vp, st->o = aj->o, st->zs = zs, st->dh = dh;
    st->ra[0] = w->a0, st->ra[1] = w->a1, st->rb[0] = w->b0, st->rb[1] = w->b1;
    st->jo[0] = 0, st->jo[1] = w->b0 - w->a0;
    st->nr = w->b1 > w->a1 ? 2 : 1;
    scores(q, kp, ksum, cap, dh, w, zs);
    /* z = clamp(rq(s)) - slope (n - 1 - j) and the maximum; the bias
     * (<= 2^16 * 527 < 2^26) drops by 8 slope from one group to the next */
    j = 0;
    if (kind) {
        if (kind == 3)
            vmax = p1_z(zs, n, am, as, slope, 3, 0, vmax, &j);
        else if (kind == 2)
            vmax = clamp ? p1_z(zs, n, am, as, slope, 2, 1, vmax, &j) : p1_z(zs, n, am, as, slope, 2, 0, vmax, &j);
        else
            vmax = clamp ? p1_z(zs, n, am, as, slope, 1, 1, vmax, &j) : p1_z(zs, n, am, as, slope, 1, 0, vmax, &j);
    } else { /* the 64-bit form, then the bias and the maximum */
        rq_uniform(zs, n, am, as, -OZ_Z_MAX, OZ_Z_MAX, zs);
        for (; j < n; j++) {
            zs[j] -= slope * (int32_t)(n - 1 - j);
            vmax = _mm256_max_epi32(vmax, _mm256_set1_epi32(zs[j]));
        }
    }
    for (; j < n; j++) {
        zs[j] = oz_att_logit(zs[j], am, as, slope, n - 1 - j);
        vmax = _mm256_max_epi32(vmax, _mm256_set1_epi32(zs[j]));
    }
    _mm256_storeu_si256((__m256i *)(void *)lanes, vmax);
    zmax = lanes[0];
    for (j = 1; j < 8; j++)
        zmax = lanes[j] > zmax ? lanes[j] : zmax;
    st->zmax = zmax;
}

/* phase 2: e, E and e' */
static inline __attribute__((always_inline)) void attend_p2(att_state *st)
{
    const int32_t *zs = st->zs;
    int32_t zmax = st->zmax, lanes[8];
    uint32_t r, j, nr = st->nr, E = 0;
    const uint32_t *ra = st->ra, *rb = st->rb, *jo = st->jo;
    uint32_t *g0 = st->g0, *ng = st->ng;
    int16_t (*ep)[OZ_MAX_CTX + 16] = st->ep;
    __m256i vE = _mm256_setzero_si256();
    /* e, E and e' = e - 2^15 (int16) in the layout prep_eprime() writes:
     * ring-slot order from slot 4 floor(a / 4), -2^15 outside the run */
    {
        const __m256i vz = _mm256_set1_epi32(zmax), m255 = _mm256_set1_epi32(255), c4096 = _mm256_set1_epi32(4096);
        const __m256i c32k = _mm256_set1_epi32(32768);
        for (r = 0; r < nr; r++) {
            uint32_t len = rb[r] - ra[r], off = ra[r] & 3, i = 0, k;
            const int32_t *zr = zs + jo[r];
            int16_t *er = ep[r] + off;
            for (k = 0; k < 4; k++)
                ep[r][k] = INT16_MIN;
            for (; i + 8 <= len; i += 8) {
                __m256i t = _mm256_sub_epi32(vz, _mm256_loadu_si256((const __m256i *)(const void *)(zr + i))), e;
                if (!_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(c4096, t)))) {
                    /* t >= 4096 in all 8: every e is 0, e' = -2^15 */
                    _mm_storeu_si128((__m128i *)(void *)(er + i), _mm_set1_epi16(INT16_MIN));
                    continue;
                }
                e = _mm256_i32gather_epi32((const int *)(const void *)ozf_exp2_u32, _mm256_and_si256(t, m255), 4);
                e = _mm256_srlv_epi32(e, _mm256_srli_epi32(t, 8)); /* counts >= 32 give 0 */
                vE = _mm256_add_epi32(vE, e);
                e = _mm256_sub_epi32(e, c32k); /* -2^15 .. 0: vpackssdw saturates nothing */
                _mm_storeu_si128((__m128i *)(void *)(er + i),
                                 _mm_packs_epi32(_mm256_castsi256_si128(e), _mm256_extracti128_si256(e, 1)));
            }
            for (; i < len; i++) {
                uint32_t e1 = oz_att_weight(zmax, zr[i]);
                E += e1;
                er[i] = (int16_t)(e1 ^ 0x8000u);
            }
            for (k = 0; k < 4; k++)
                er[len + k] = INT16_MIN;
            g0[r] = ra[r] / 4;
            ng[r] = (rb[r] + 3) / 4 - g0[r];
        }
        _mm256_storeu_si256((__m256i *)(void *)lanes, vE);
        for (j = 0; j < 8; j++)
            E += (uint32_t)lanes[j]; /* E <= 2^24 */
    }
    st->E = E;
}

/* phase 3: the value sums and the division */
static inline __attribute__((always_inline)) void attend_p3(att_state *st)
{
    const int16_t *const epp[2] = {st->ep[0], st->ep[1]};
    int32_t acc[OZ_MAX_DHEAD];
    uint32_t d;
    int64_t R;
    vsum_all(epp, st->vp, st->dh, st->g0, st->ng, st->nr, acc);
    R = oz_att_recip(st->E);
    for (d = 0; d < st->dh; d++)
        st->o[d] = oz_att_out(acc[d], R);
}

static void attend(const int8_t *q, const int8_t *kp, const int32_t *ksum, const int8_t *vp, uint32_t cap, uint32_t dh,
                   const ozf_window *w, uint32_t n, int32_t am, int32_t as, int32_t slope, ozf_scratch *scr, int8_t *o)
{
    att_state st;
    ozf_att_job a;
    a.q = q, a.kp = kp, a.ksum = ksum, a.vp = vp, a.cap = cap, a.dh = dh, a.w = *w, a.n = n;
    a.am = am, a.as = as, a.slope = slope, a.o = o;
    attend_p1(&a, scr->zs, &st);
    attend_p2(&st);
    attend_p3(&st);
}

/* two independent attentions (the logits of the first in zs, of the second
 * in tmp), phase by phase */
static void attend2(const ozf_att_job *a, const ozf_att_job *b, ozf_scratch *scr)
{
    att_state sa, sb;
    attend_p1(a, scr->zs, &sa);
    attend_p1(b, scr->tmp, &sb);
    attend_p2(&sa);
    attend_p2(&sb);
    attend_p3(&sa);
    attend_p3(&sb);
}
#define OZF_ATTEND2_FOR(fm) attend2

/* ---- 16 rows of encode with the rows in the lanes (Dh = 16) ----
 * forward_impl.h hands a head's 16 consecutive rows of one ring to
 * OZF_ATTEND16_FOR: key u (u < nu) is ring slot (base + u) mod cap, base and
 * cap multiples of 64, so u and its slot agree mod 4; row r's window is keys
 * u0[r] .. u0[r] + n_r - 1 (its own key last). attend16 takes them as two
 * blocks of 8 rows, one row per 32-bit lane, over the union of the block's
 * windows, so that the score of one key for 8 rows costs what the scores of
 * 8 keys for one row cost, and the value sums go through vpmaddwd with the
 * weights of 8 rows in one register against one broadcast pair of values
 * (16 products per instruction, where attend's vsum_dims makes 8): per
 * block,
 *   pass 1: for each key u of the union, z = clamp(rq(q_r . k_u)) -
 *     slope (uself_r - u) in lane r (rq_z8, the same integers as p1_z),
 *     or B8_NEG where u lies outside row r's window, and the running
 *     maximum per lane;
 *   pass 2: e = exp2q15(zmax_r - z) per lane (0 for B8_NEG: zmax_r - B8_NEG
 *     >= 2^30 - 2^26 > 4096), E_r = sum e, and the pairs (e_u - 2^15,
 *     e_(u+1) - 2^15) as int16 pairs (u even);
 *   pass 3: acc_r,d = sum over pairs of vpmaddwd(pair, (v_u,d, v_(u+1),d)),
 *     plus 2^15 C_d with C_d = sum v_u,d over the same keys: each key's
 *     term is (e - 2^15) v + 2^15 v = e v; keys outside a row's window (e =
 *     0) add -2^15 v + 2^15 v = 0. The int32 sums wrap, the true sum |sum e
 *     v| <= 128 E <= 2^31 fits (as vsum_dims);
 *   then o_r,d = oz_att_out(acc_r,d, oz_att_recip(E_r)).
 * The union runs from the block's lowest u0 rounded down to a multiple of 4
 * to its last row's key rounded up to one less than a multiple of 4 (whole
 * groups of 4 slots), keys outside every window carrying B8_NEG. The values
 * of every group of the call are widened to int16 once (b8_widen) in the
 * ring's own order within a group: int16 d * 4 + s of group g, so the pair
 * (2h, 2h + 1) of dimension d is int32 d * 2 + h.
 * docs/integer-model.md, "16 rows of encode with the rows in the lanes". */
#define B8_NEG (-(1 << 30))

typedef struct b8_blk {
    const int8_t *kp;
    uint32_t cap, base;
    uint32_t ue, uend;   /* the keys of the block: [ue, uend], ue % 4 == 0, uend % 4 == 3 */
    uint32_t ulo, uhi;   /* the keys some row's window holds */
    uint32_t umlo, umhi; /* the keys every row's window holds (empty if umlo > umhi) */
    __m256i qa[4], qs[4], lo1, hi1, bias0;
    __m256i *zb;
} b8_blk;

/* pass 1 (see above): z of keys [ue, uend] into zb, returns the maximum per lane */
static inline __attribute__((always_inline)) __m256i b8_p1(const b8_blk *b, int32_t am, int32_t as, int32_t slope,
                                                           const int KIND, const int CLAMP)
{
    RQ_Z8_CONSTS(am, as, KIND);
    const __m256i vs = _mm256_set1_epi32(slope), ones = _mm256_set1_epi16(1), neg = _mm256_set1_epi32(B8_NEG);
    const int8_t *kp = b->kp;
    __m256i vmax = neg, bias = b->bias0, *zb = b->zb - b->ue;
    uint32_t u, cap = b->cap, slot = (b->base + b->ulo) % cap;
    for (u = b->ue; u < b->ulo; u++)
        zb[u] = neg;
    for (; u <= b->uhi; u++) {
        __m256i acc = dot4(b->qa[0], _mm256_sign_epi8(bcast4(kp + (size_t)slot * 4), b->qs[0]), ones), z;
        acc = _mm256_add_epi32(acc, dot4(b->qa[1], _mm256_sign_epi8(bcast4(kp + ((size_t)cap + slot) * 4), b->qs[1]), ones));
        acc = _mm256_add_epi32(acc, dot4(b->qa[2], _mm256_sign_epi8(bcast4(kp + ((size_t)2 * cap + slot) * 4), b->qs[2]), ones));
        acc = _mm256_add_epi32(acc, dot4(b->qa[3], _mm256_sign_epi8(bcast4(kp + ((size_t)3 * cap + slot) * 4), b->qs[3]), ones));
        z = _mm256_sub_epi32(rq_z8(acc, mm, rnd, sh, KIND, CLAMP), bias);
        bias = _mm256_sub_epi32(bias, vs);
        if (u < b->umlo || u > b->umhi) { /* some row's window leaves u out */
            __m256i U = _mm256_set1_epi32((int32_t)u);
            z = _mm256_blendv_epi8(neg, z, _mm256_and_si256(_mm256_cmpgt_epi32(U, b->lo1), _mm256_cmpgt_epi32(b->hi1, U)));
        }
        vmax = _mm256_max_epi32(vmax, z);
        _mm256_store_si256(zb + u, z);
        if (++slot == cap)
            slot = 0;
    }
    for (; u <= b->uend; u++)
        zb[u] = neg;
    return vmax;
}

/* exp2q15(t) per lane for 0 <= t < 2^31 (as attend_p2), added to *vE */
static inline __attribute__((always_inline)) __m256i b8_exp(__m256i t, __m256i *vE)
{
    __m256i e;
    if (!_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(4096), t))))
        return _mm256_setzero_si256(); /* t >= 4096 in every lane */
    e = _mm256_i32gather_epi32((const int *)(const void *)ozf_exp2_u32, _mm256_and_si256(t, _mm256_set1_epi32(255)), 4);
    e = _mm256_srlv_epi32(e, _mm256_srli_epi32(t, 8)); /* counts >= 32 give 0 */
    *vE = _mm256_add_epi32(*vE, e);
    return e;
}

/* one block of 8 rows (see above); vw: the widened values of keys from u = 0 */
static void b8_block(const ozf_att_job *j, const uint32_t *u0, uint32_t base, const int16_t *vw, int kind, int clamp,
                     ozf_scratch *scr)
{
    b8_blk b;
    int32_t lo1[8], hi1[8], bs[8], q4[4][8], E[8], out[16][8], C[16];
    uint32_t r, d, g, i, np, uself[8];
    int32_t am = j[0].am, as = j[0].as, slope = j[0].slope;
    const int32_t *vw32 = (const int32_t *)(const void *)vw;
    __m256i vmax, vE = _mm256_setzero_si256(), *pb;
    b.ulo = b.umlo = u0[0];
    for (r = 0; r < 8; r++) {
        uself[r] = u0[r] + j[r].n - 1;
        b.ulo = u0[r] < b.ulo ? u0[r] : b.ulo;
        b.umlo = u0[r] > b.umlo ? u0[r] : b.umlo;
    }
    b.uhi = uself[7], b.umhi = uself[0];
    b.ue = b.ulo & ~3u, b.uend = b.uhi | 3u;
    for (r = 0; r < 8; r++) {
        lo1[r] = (int32_t)u0[r] - 1, hi1[r] = (int32_t)uself[r] + 1;
        bs[r] = slope * (int32_t)(uself[r] - b.ulo); /* <= 2^16 (W + 7) */
        for (d = 0; d < 4; d++)
            memcpy(&q4[d][r], j[r].q + 4 * d, 4);
    }
    b.lo1 = _mm256_loadu_si256((const __m256i *)(const void *)lo1);
    b.hi1 = _mm256_loadu_si256((const __m256i *)(const void *)hi1);
    b.bias0 = _mm256_loadu_si256((const __m256i *)(const void *)bs);
    for (d = 0; d < 4; d++) {
        b.qs[d] = _mm256_loadu_si256((const __m256i *)(const void *)q4[d]);
        b.qa[d] = _mm256_abs_epi8(b.qs[d]);
    }
    b.kp = j[0].kp, b.cap = j[0].cap, b.base = base;
    b.zb = (__m256i *)(void *)scr->ew;
#define B8P1(K, C) b8_p1(&b, am, as, slope, K, C)
    vmax = RQ_Z8_PICK(kind, clamp, B8P1);
#undef B8P1
    /* pass 2: the weights' pairs, in place over the logits (pair i is
     * written after keys 2i and 2i + 1 were read) */
    np = (b.uend + 1 - b.ue) / 2;
    pb = b.zb;
    {
        const __m256i c32k = _mm256_set1_epi32(32768);
        for (i = 0; i < np; i++) {
            __m256i e0 = b8_exp(_mm256_sub_epi32(vmax, b.zb[2 * i]), &vE);
            __m256i e1 = b8_exp(_mm256_sub_epi32(vmax, b.zb[2 * i + 1]), &vE);
            pb[i] = _mm256_blend_epi16(_mm256_sub_epi32(e0, c32k), _mm256_slli_epi32(_mm256_sub_epi32(e1, c32k), 16), 0xAA);
        }
    }
    _mm256_storeu_si256((__m256i *)(void *)E, vE);
    /* pass 3: the value sums, 8 dimensions at a time */
    for (d = 0; d < 16; d += 8) {
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (i = 0; i < np; i++) {
            uint32_t u = b.ue + 2 * i;
            const int32_t *vb = vw32 + (size_t)(u >> 2) * 32 + ((u >> 1) & 1) + 2 * d;
            __m256i p = pb[i];
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(p, _mm256_set1_epi32(vb[0])));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(p, _mm256_set1_epi32(vb[2])));
            a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(p, _mm256_set1_epi32(vb[4])));
            a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(p, _mm256_set1_epi32(vb[6])));
            a4 = _mm256_add_epi32(a4, _mm256_madd_epi16(p, _mm256_set1_epi32(vb[8])));
            a5 = _mm256_add_epi32(a5, _mm256_madd_epi16(p, _mm256_set1_epi32(vb[10])));
            a6 = _mm256_add_epi32(a6, _mm256_madd_epi16(p, _mm256_set1_epi32(vb[12])));
            a7 = _mm256_add_epi32(a7, _mm256_madd_epi16(p, _mm256_set1_epi32(vb[14])));
        }
        _mm256_storeu_si256((__m256i *)(void *)out[d], a0);
        _mm256_storeu_si256((__m256i *)(void *)out[d + 1], a1);
        _mm256_storeu_si256((__m256i *)(void *)out[d + 2], a2);
        _mm256_storeu_si256((__m256i *)(void *)out[d + 3], a3);
        _mm256_storeu_si256((__m256i *)(void *)out[d + 4], a4);
        _mm256_storeu_si256((__m256i *)(void *)out[d + 5], a5);
        _mm256_storeu_si256((__m256i *)(void *)out[d + 6], a6);
        _mm256_storeu_si256((__m256i *)(void *)out[d + 7], a7);
    }
    /* C_d over the block's groups: lane 2 i + h of cs[k] sums dimension
     * 4 k + i, slots 2h and 2h + 1 */
    {
        const __m256i ones = _mm256_set1_epi16(1);
        __m256i cs[4];
        int32_t t[8];
        int k;
        for (k = 0; k < 4; k++)
            cs[k] = _mm256_setzero_si256();
        for (g = b.ue / 4; g <= b.uend / 4; g++)
            for (k = 0; k < 4; k++)
                cs[k] = _mm256_add_epi32(cs[k], _mm256_madd_epi16(_mm256_load_si256((const __m256i *)(const void *)(vw + (size_t)g * 64 + 16 * k)), ones));
        for (k = 0; k < 4; k++) {
            _mm256_storeu_si256((__m256i *)(void *)t, cs[k]);
            for (i = 0; i < 4; i++)
                C[4 * k + i] = t[2 * i] + t[2 * i + 1]; /* |C| <= 2^7 (W + 22) */
        }
    }
    for (r = 0; r < 8; r++) {
        int64_t R = oz_att_recip((uint32_t)E[r]);
        for (d = 0; d < 16; d++)
            j[r].o[d] = oz_att_out((int32_t)((uint32_t)out[d][r] + ((uint32_t)C[d] << 15)), R); /* wrapping; the true sum fits */
    }
}

/* the values of the call's groups of 4 slots (keys lo .. hi, u = 0 at slot
 * base) widened to int16 into vw, group u / 4 at vw + 64 (u / 4) */
static void b8_widen(const int8_t *vp, uint32_t cap, uint32_t base, uint32_t lo, uint32_t hi, int16_t *vw)
{
    uint32_t g, sg, ng = cap / 4;
    for (g = lo / 4, sg = (base / 4 + g) % ng; g <= hi / 4; g++) {
        const int8_t *src = vp + (size_t)sg * 64;
        int k;
        for (k = 0; k < 4; k++)
            _mm256_store_si256((__m256i *)(void *)(vw + (size_t)g * 64 + 16 * k),
                               _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(src + 16 * k))));
        if (++sg == ng)
            sg = 0;
    }
}

/* OZF_ATTEND16_FOR: 16 rows of one head (Dh = 16; see above). The 64-bit
 * form of the score requantisation (att_rq_kind 0) goes to attend2. */
static void attend16(const ozf_att_job *j, const uint32_t *u0, uint32_t base, uint32_t nu, ozf_scratch *scr)
{
    int clamp, kind = att_rq_kind(16, j[0].am, j[0].as, &clamp);
    uint32_t r, lo = u0[0];
    int16_t *vw = (int16_t *)(void *)(scr->ew + 32 * (size_t)scr->ew_ld);
    (void)nu;
    if (!kind) {
        for (r = 0; r < 16; r += 2)
            attend2(&j[r], &j[r + 1], scr);
        return;
    }
    for (r = 1; r < 16; r++)
        lo = u0[r] < lo ? u0[r] : lo;
    b8_widen(j[0].vp, j[0].cap, base, lo, u0[15] + j[15].n - 1, vw);
    b8_block(j, u0, base, vw, kind, clamp, scr);
    b8_block(j + 8, u0 + 8, base, vw, kind, clamp, scr);
}
#define OZF_ATTEND16_OK(fm, s, dh) ((dh) == 16 && (s)->ew)
#define OZF_ATTEND16_FOR(fm) attend16

/* ---- decode: up to 8 streams of a batch in the lanes ----
 * As the AVX-512 kernel (kern_avx512.c, l16_*; docs/integer-model.md,
 * "Decode with the streams in the lanes"): the rows of a pass are streams at
 * one position, so a head's window is the same slots at the same distances
 * in every row's ring; ozf_decode_batch keeps a side-by-side copy of up to 8
 * streams' keys and values (ozf_lanes, the AVX2 form: for a slot and a group
 * of 4 dimensions the 8 streams' 4 key bytes in 32 bytes; for a pair of
 * slots and a dimension the 8 streams' 2 values as int16 in 32 bytes), and
 * a head's attention takes up to 8 rows with one row per 32-bit lane, over
 * the distances 0 .. nmax - 1 (nmax the longest trimmed window), the slots
 * pair by pair (the value layout's unit), each pair of the window once:
 *   pass 1: z = clamp(rq(q_r . k)) - slope dist lane by lane (the AVX2
 *     score: vpmaddwd(vpmaddubsw(|q|, sign(q) k), 1); rq_z8), B8_NEG for a
 *     visited slot outside the window, the maximum per lane;
 *   pass 2: e of the pair's two keys (b8_exp), E_r, the pair (e_u - 2^15,
 *     e_u+1 - 2^15) as int16 in each lane;
 *   pass 3: acc_r,d = sum vpmaddwd(pair, (v_u,d, v_u+1,d)) + 2^15 C_r,d with
 *     C_r,d = sum of lane r's values over the pairs visited (int16 sums:
 *     at most cap / 2 pairs of 128, so the ring holds at most 496 slots;
 *     longer rings go row by row), then core's division per row.
 * The 64-bit form of the score requantisation goes row by row too. */
typedef struct l8_blk {
    __m256i qa[4], qs[4];
    const int8_t *lk;
    const int16_t *lv;
    uint32_t cap, dh, ps, nmax, p0, npair;
    __m256i *zb; /* z of the visited slots, 2 per pair */
    __m256i *eb; /* the weights' pairs, 1 per pair */
} l8_blk;

/* pass 1 (see above); returns the maximum per lane */
static inline __attribute__((always_inline)) __m256i l8_p1(const l8_blk *b, int32_t am, int32_t as, int32_t slope,
                                                           const int KIND, const int CLAMP)
{
    RQ_Z8_CONSTS(am, as, KIND);
    const __m256i ones = _mm256_set1_epi16(1), neg = _mm256_set1_epi32(B8_NEG);
    __m256i vmax = neg;
    uint32_t i, k, dg, cap = b->cap, np = cap / 2, p = b->p0, ndg = b->dh / 4;
    uint32_t d0 = (b->ps + cap - 2 * p) % cap; /* the distance of the pair's first slot */
    for (i = 0; i < b->npair; i++) {
        for (k = 0; k < 2; k++) {
            uint32_t slot = 2 * p + k, dist = d0 >= k ? d0 - k : d0 + cap - k;
            __m256i acc = _mm256_setzero_si256(), z;
            if (dist >= b->nmax) {
                b->zb[2 * i + k] = neg;
                continue;
            }
            for (dg = 0; dg < ndg; dg++) {
                __m256i kv = _mm256_load_si256((const __m256i *)(const void *)(b->lk + ((size_t)dg * cap + slot) * 32));
                acc = _mm256_add_epi32(acc, dot4(b->qa[dg], _mm256_sign_epi8(kv, b->qs[dg]), ones));
            }
            z = _mm256_sub_epi32(rq_z8(acc, mm, rnd, sh, KIND, CLAMP), _mm256_set1_epi32(slope * (int32_t)dist));
            vmax = _mm256_max_epi32(vmax, z);
            b->zb[2 * i + k] = z;
        }
        if (++p == np)
            p = 0;
        d0 = d0 >= 2 ? d0 - 2 : d0 + cap - 2;
    }
    return vmax;
}

/* pass 3 for 4 dimensions from db and the division: o of each row */
static void l8_vsum_out(const ozf_att_job *j, const uint32_t *lane, uint32_t nr, const l8_blk *b, uint32_t db,
                        const int64_t *R)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, s0 = a0, s1 = a0, s2 = a0, s3 = a0;
    int32_t out[4][8];
    uint32_t i, r, d, np = b->cap / 2, p = b->p0;
    for (i = 0; i < b->npair; i++) {
        const int16_t *v = b->lv + ((size_t)p * b->dh + db) * 16;
        __m256i e = b->eb[i], v0 = _mm256_load_si256((const __m256i *)(const void *)v);
        __m256i v1 = _mm256_load_si256((const __m256i *)(const void *)(v + 16));
        __m256i v2 = _mm256_load_si256((const __m256i *)(const void *)(v + 32));
        __m256i v3 = _mm256_load_si256((const __m256i *)(const void *)(v + 48));
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(e, v0)), s0 = _mm256_add_epi16(s0, v0);
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(e, v1)), s1 = _mm256_add_epi16(s1, v1);
        a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(e, v2)), s2 = _mm256_add_epi16(s2, v2);
        a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(e, v3)), s3 = _mm256_add_epi16(s3, v3);
        if (++p == np)
            p = 0;
    }
    /* acc = sum e' v + 2^15 C, wrapping (the true sum fits) */
    _mm256_storeu_si256((__m256i *)(void *)out[0], _mm256_add_epi32(a0, _mm256_slli_epi32(_mm256_madd_epi16(s0, ones), 15)));
    _mm256_storeu_si256((__m256i *)(void *)out[1], _mm256_add_epi32(a1, _mm256_slli_epi32(_mm256_madd_epi16(s1, ones), 15)));
    _mm256_storeu_si256((__m256i *)(void *)out[2], _mm256_add_epi32(a2, _mm256_slli_epi32(_mm256_madd_epi16(s2, ones), 15)));
    _mm256_storeu_si256((__m256i *)(void *)out[3], _mm256_add_epi32(a3, _mm256_slli_epi32(_mm256_madd_epi16(s3, ones), 15)));
    for (r = 0; r < nr; r++)
        for (d = 0; d < 4; d++)
            j[r].o[db + d] = oz_att_out(out[d][lane[r] & 7], R[lane[r] & 7]);
}

/* OZF_ATTEND_LANES_FOR: up to 8 rows of one head (see above); -1 (nothing
 * computed) for the 64-bit score requantisation or a ring of more than 496
 * slots */
static int attend_lanes8(const ozf_att_job *j, const uint32_t *lane, uint32_t nr, uint32_t ps, const ozf_lanes *lb,
                         uint32_t lh, ozf_scratch *scr)
{
    l8_blk b;
    int32_t q4[4][8], E[8], am = j[0].am, as = j[0].as, slope = j[0].slope;
    int64_t R[8];
    uint32_t r, d, i, cap = j[0].cap, dh = j[0].dh, oldest, cnt, np = cap / 2;
    int clamp, kind = att_rq_kind(dh, am, as, &clamp);
    size_t head = (size_t)lh * dh * cap * lb->n;
    __m256i vmax, vE = _mm256_setzero_si256();
    if (!kind || cap > 496)
        return -1;
    memset(q4, 0, sizeof q4);
    b.nmax = 0;
    for (r = 0; r < nr; r++) {
        b.nmax = j[r].n > b.nmax ? j[r].n : b.nmax;
        for (d = 0; d < 4 && d < dh / 4; d++)
            memcpy(&q4[d][lane[r] & 7], j[r].q + 4 * d, 4);
    }
    for (d = 0; d < 4; d++) {
        b.qs[d] = _mm256_loadu_si256((const __m256i *)(const void *)q4[d]);
        b.qa[d] = _mm256_abs_epi8(b.qs[d]);
    }
    b.lk = lb->k + head, b.lv = (const int16_t *)(const void *)(lb->v + 2 * head);
    b.cap = cap, b.dh = dh, b.ps = ps;
    /* the pairs from the oldest key's to the newest's, or all of them */
    oldest = (ps + cap - (b.nmax - 1)) % cap;
    cnt = (oldest % 2 + b.nmax - 1) / 2 + 1;
    b.p0 = cnt >= np ? 0 : oldest / 2;
    b.npair = cnt >= np ? np : cnt;
    b.zb = (__m256i *)(void *)scr->ew;
    b.eb = (__m256i *)(void *)(scr->ew + 64 * (size_t)scr->ew_ld);
#define L8P1(K, C) l8_p1(&b, am, as, slope, K, C)
    vmax = RQ_Z8_PICK(kind, clamp, L8P1);
#undef L8P1
    {
        const __m256i c32k = _mm256_set1_epi32(32768);
        for (i = 0; i < b.npair; i++) {
            __m256i e0 = b8_exp(_mm256_sub_epi32(vmax, b.zb[2 * i]), &vE);
            __m256i e1 = b8_exp(_mm256_sub_epi32(vmax, b.zb[2 * i + 1]), &vE);
            b.eb[i] = _mm256_blend_epi16(_mm256_sub_epi32(e0, c32k), _mm256_slli_epi32(_mm256_sub_epi32(e1, c32k), 16), 0xAA);
        }
    }
    _mm256_storeu_si256((__m256i *)(void *)E, vE);
    for (r = 0; r < nr; r++)
        R[lane[r] & 7] = oz_att_recip((uint32_t)E[lane[r] & 7]);
    for (d = 0; d < dh; d += 4)
        l8_vsum_out(j, lane, nr, &b, d, R);
    return 0;
}
#define OZF_LANES 8
/* fewer rows of a copy than this go row by row */
#define OZF_LANES_MIN 4
#define OZF_ATTEND_LANES_OK(fm, s, dh) ((dh) % 4 == 0 && (dh) <= 16 && (s)->ew)
#define OZF_ATTEND_LANES_FOR(fm) attend_lanes8

/* lanes_put_rows (forward_impl.h): the pass's keys and values into the
 * side-by-side copies (the AVX2 form) of the rings that joined one. The
 * rows of one copy at one slot (consecutive rows) go together: for each
 * head and group of 4 dimensions, one gather takes the rows' 4 key bytes
 * into their lanes, stored under the lanes' mask; one gather takes their 4
 * values, and for each dimension the value, sign-extended, replaces the
 * slot's half (slot % 2) of the pair's int16 words in the rows' lanes (a
 * 32-byte read, blend and write). */
#define OZF_HAVE_LANES_PUT 1
static void lanes_put_rows(const oz_config *c, ozf_ring *const *rings, const uint32_t *slots, const int8_t *qkv,
                           uint32_t nrows, uint32_t l)
{
    uint32_t D = c->d_model, H = c->n_head, Dh = D / H, a0, a1, r, h, dg, i;
    for (a0 = 0; a0 < nrows; a0 = a1) {
        const ozf_lanes *b = rings[a0]->lb;
        int32_t idx[8], lm[8];
        uint32_t slot = slots[a0], cap, n;
        size_t hs;
        __m256i vi, m;
        a1 = a0 + 1;
        if (!b)
            continue;
        cap = b->cap, n = b->n, hs = (size_t)Dh * cap * n;
        for (; a1 < nrows && a1 - a0 < 8 && rings[a1]->lb == b && slots[a1] == slot; a1++)
            ;
        memset(idx, 0, sizeof idx);
        memset(lm, 0, sizeof lm);
        for (r = a0; r < a1; r++) {
            idx[rings[r]->lane & 7] = (int32_t)((r - a0) * 3 * D);
            lm[rings[r]->lane & 7] = -1;
        }
        vi = _mm256_loadu_si256((const __m256i *)(const void *)idx);
        m = _mm256_loadu_si256((const __m256i *)(const void *)lm);
        for (h = 0; h < H; h++) {
            const int8_t *kq = qkv + (size_t)a0 * 3 * D + D + h * Dh, *vq = kq + D;
            int8_t *Kl = b->k + ((size_t)l * H + h) * hs + (size_t)slot * n * 4;
            int16_t *Vl = (int16_t *)(void *)(b->v + 2 * ((size_t)l * H + h) * hs) + (size_t)(slot / 2) * Dh * n * 2;
            for (dg = 0; dg < Dh / 4; dg++) {
                __m256i kk = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)(const void *)(kq + 4 * dg), vi, m, 1);
                __m256i vv = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)(const void *)(vq + 4 * dg), vi, m, 1);
                _mm256_maskstore_epi32((int *)(void *)(Kl + (size_t)dg * cap * n * 4), m, kk);
                for (i = 0; i < 4; i++) {
                    __m256i *dst = (__m256i *)(void *)(Vl + (size_t)(4 * dg + i) * n * 2);
                    __m256i x = _mm256_srai_epi32(_mm256_sllv_epi32(vv, _mm256_set1_epi32(24 - 8 * (int)i)), 24);
                    __m256i old = _mm256_load_si256(dst), nw;
                    nw = slot % 2 ? _mm256_blend_epi16(old, _mm256_slli_epi32(x, 16), 0xAA) : _mm256_blend_epi16(old, x, 0x55);
                    _mm256_store_si256(dst, _mm256_blendv_epi8(old, nw, m));
                }
            }
        }
    }
}

/* ---- the layer glue in AVX2 (used by forward_impl.h; the same results
 * as its portable forms; the activation table keeps the portable one) ---- */
#define OZF_HAVE_RING_PUT 1
#define OZF_HAVE_KEEP_STATS 1

static inline int32_t hsum8(__m256i v)
{
    __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4E));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xB1));
    return _mm_cvtsi128_si32(x);
}

/* ring_put: the key's groups of 4 bytes go to their group rows (4-byte
 * stores); the value's byte d goes to byte 4 d + slot % 4 of the slot
 * group's Dh * 4 bytes: widened to 32-bit lanes, shifted left by 8 (slot % 4)
 * bits and blended into the bytes already there. ksum = 128 x the key's sum. */
static void ring_put(ozf_ring *r, const oz_config *c, uint32_t l, uint32_t slot, const int8_t *k, const int8_t *v)
{
    uint32_t D = c->d_model, H = c->n_head, Dh = D / H, cap = r->cap, h, d, g;
    int8_t *K = r->k + (size_t)l * D * cap, *V = r->v + (size_t)l * D * cap;
    int32_t *ks = r->ksum + (size_t)l * H * cap;
    const __m128i sh = _mm_cvtsi32_si128((int)(8 * (slot % 4)));
    const __m256i bm = _mm256_set1_epi32((int)(0xFFu << (8 * (slot % 4))));
    for (h = 0; h < H; h++) {
        int8_t *Kh = K + (size_t)h * Dh * cap + (size_t)slot * 4, *Vh = V + (size_t)h * Dh * cap + (size_t)(slot / 4) * Dh * 4;
        const int8_t *kh = k + h * Dh, *vh = v + h * Dh;
        __m256i sum = _mm256_setzero_si256();
        int32_t sum4 = 0;
        for (g = 0; g < Dh / 4; g++)
            memcpy(Kh + (size_t)g * cap * 4, kh + 4 * g, 4);
        for (d = 0; d + 8 <= Dh; d += 8) {
            __m256i vv = _mm256_sll_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(vh + d))), sh);
            __m256i *dst = (__m256i *)(void *)(Vh + 4 * d);
            sum = _mm256_add_epi32(sum, _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(kh + d))));
            _mm256_storeu_si256(dst, _mm256_blendv_epi8(_mm256_loadu_si256(dst), vv, bm));
        }
        if (d < Dh) { /* 4 dimensions left: Dh is a multiple of 4 */
            int32_t w4;
            __m128i vv, *dst = (__m128i *)(void *)(Vh + 4 * d);
            memcpy(&w4, vh + d, 4);
            vv = _mm_sll_epi32(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(w4)), sh);
            _mm_storeu_si128(dst, _mm_blendv_epi8(_mm_loadu_si128(dst), vv, _mm256_castsi256_si128(bm)));
            sum4 = kh[d] + kh[d + 1] + kh[d + 2] + kh[d + 3];
        }
        ks[(size_t)h * cap + slot] = 128 * (hsum8(sum) + sum4); /* |sum| <= 127 Dh */
    }
}

/* l1 = sum |q_d| and dot = q . k: int8 widened to int16, vpmaddwd pairs
 * (|products| <= 2^14, no saturation) */
static void keep_stats(const int8_t *q, const int8_t *k, uint32_t dh, int32_t *l1, int32_t *dot)
{
    __m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256();
    const __m256i one = _mm256_set1_epi16(1);
    int32_t ta = 0, tb = 0;
    uint32_t d;
    for (d = 0; d + 16 <= dh; d += 16) {
        __m256i qq = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(q + d)));
        __m256i kk = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(k + d)));
        a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_abs_epi16(qq), one));
        b = _mm256_add_epi32(b, _mm256_madd_epi16(qq, kk));
    }
    for (; d < dh; d++) {
        ta += q[d] < 0 ? -q[d] : q[d];
        tb += q[d] * k[d];
    }
    *l1 = hsum8(a) + ta;
    *dot = hsum8(b) + tb;
}

/* RMS norms of nrows rows of n (oz_rmsnorm's integers; as the AVX-512
 * rmsnorm_rows, docs/integer-model.md), four rows at a time: the sums of
 * squares in 64-bit lanes (vpmuldq), floor(ss / n), the four square roots
 * by core's digit-by-digit steps (v < 2^56 and res + bit < 2^57, so the
 * signed vpcmpgtq compares them as unsigned), floor(2^37 / rms) per row.
 * y: AVX2 has no 64-bit multiply or arithmetic shift, but where inv < 2^31
 * (rms > 64) x inv is one vpmuldq and floor(P / 2^32) is P's high half;
 * rows with a smaller rms, and tails of fewer than 8, take core's oz_norm. */
#define OZF_HAVE_RMSNORM_ROWS 1
static void rmsnorm_rows(const int32_t *x, int8_t *y, uint32_t nrows, uint32_t n)
{
    const __m256i half = _mm256_set1_epi64x((int64_t)1 << 31);
    const __m256i hi = _mm256_set1_epi32(OZ_ACT_MAX), lo = _mm256_set1_epi32(-OZ_ACT_MAX);
    const int pow2 = (n & (n - 1)) == 0;
    const unsigned lg = (unsigned)__builtin_ctz(n);
    uint32_t r0, r, i;
    for (r0 = 0; r0 < nrows; r0 += 4) {
        uint32_t nr = nrows - r0 < 4 ? nrows - r0 : 4;
        uint64_t v[4] = {0, 0, 0, 0}, vmax = 0;
        __m256i vv, res, bit;
        for (r = 0; r < nr; r++) {
            const int32_t *xr = x + (size_t)(r0 + r) * n;
            __m256i acc = _mm256_setzero_si256();
            uint64_t ss, q[4];
            for (i = 0; i + 4 <= n; i += 4) {
                __m256i a = _mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)(const void *)(xr + i)));
                acc = _mm256_add_epi64(acc, _mm256_mul_epi32(a, a));
            }
            _mm256_storeu_si256((__m256i *)(void *)q, acc);
            ss = q[0] + q[1] + q[2] + q[3];
            for (; i < n; i++)
                ss += oz_sq(xr[i]);
            v[r] = pow2 ? ss >> lg : ss / n;
            vmax |= v[r];
        }
        vv = _mm256_loadu_si256((const __m256i *)(const void *)v);
        res = _mm256_setzero_si256();
        bit = _mm256_set1_epi64x(vmax ? (int64_t)1 << ((63 - __builtin_clzll(vmax)) & ~1) : 0);
        while (vmax) {
            __m256i t = _mm256_add_epi64(res, bit);
            __m256i no = _mm256_cmpgt_epi64(t, vv); /* t > v: the bit does not fit */
            vv = _mm256_sub_epi64(vv, _mm256_andnot_si256(no, t));
            res = _mm256_add_epi64(_mm256_srli_epi64(res, 1), _mm256_andnot_si256(no, bit));
            bit = _mm256_srli_epi64(bit, 2);
            vmax >>= 2;
        }
        _mm256_storeu_si256((__m256i *)(void *)v, res);
        for (r = 0; r < nr; r++) {
            const int32_t *xr = x + (size_t)(r0 + r) * n;
            int8_t *yr = y + (size_t)(r0 + r) * n;
            int64_t inv = oz_inv_rms((uint32_t)v[r]);
            i = 0;
            if (inv < ((int64_t)1 << 31)) {
                const __m256i iv = _mm256_set1_epi64x(inv);
                for (; i + 8 <= n; i += 8) {
                    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(xr + i));
                    __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(a, iv), half);
                    __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), iv), half);
                    __m256i q = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
                    __m256i b;
                    q = _mm256_min_epi32(_mm256_max_epi32(q, lo), hi);
                    b = _mm256_packs_epi16(_mm256_packs_epi32(q, q), _mm256_setzero_si256());
                    _mm_storel_epi64((__m128i *)(void *)(yr + i),
                                     _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1)));
                }
            }
            for (; i < n; i++)
                yr[i] = oz_norm(xr[i], inv);
        }
    }
}

/* 1 + floor(e R / 2^32) of 8 lanes e <= 2^15 (R = 2^32 rhi + rlo: e rhi
 * 2^32 is a multiple of 2^32; e rlo < 2^47 by vpmuludq) */
static inline __m256i freq8(__m256i ev, __m256i rhi, __m256i rlo)
{
    __m256i pe = _mm256_srli_epi64(_mm256_mul_epu32(ev, rlo), 32);
    __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(ev, 32), rlo);
    return _mm256_add_epi32(_mm256_add_epi32(_mm256_set1_epi32(1), _mm256_mullo_epi32(ev, rhi)),
                            _mm256_blend_epi32(pe, po, 0xAA));
}

/* ---- decoding's and encoding's question without the whole table
 * (docs/integer-model.md, "Frequencies by blocks of 32"): kern_avx512.c's
 * method with 8 lanes. Pass 1: zmax, best, e_s by the 32-bit table (kept
 * for the block looked into), E. Pass 2: each block's total of f from e
 * packed to uint16 (vpackusdw: the order within a block does not matter),
 * floor(e R / 2^32) = e r2 + hi(e r1) + c with c the carry of lo(e r1) +
 * hi(e r0) (no unsigned 16-bit compare: no carry iff max(s, l1) = s), summed
 * per block by vpmaddwd on e - 2^15 and on m - 1 = hi(e r1) + c - 1. ---- */
typedef struct fq_blocks {
    uint64_t R;
    uint32_t best, rest;
    uint32_t cum[8];                         /* cum[32 (i + 1)], the rest included */
    uint32_t e[256] __attribute__((aligned(32))); /* e_s in symbol order */
} fq_blocks;

/* the running sums of 8 lanes */
static inline __m256i prefix8(__m256i x)
{
    x = _mm256_add_epi32(x, _mm256_slli_si256(x, 4));
    x = _mm256_add_epi32(x, _mm256_slli_si256(x, 8)); /* each 128-bit half summed */
    return _mm256_add_epi32(x, _mm256_shuffle_epi32(_mm256_permute2x128_si256(x, x, 0x08), 0xFF)); /* + lane 3 to the high half */
}

/* Pass 1 of a row: zmax, best (bk->best), e_s (bk->e; b8_exp: no gather
 * for 8 symbols whose e are all 0, t >= 4096) and E, returned */
static inline __attribute__((always_inline)) uint32_t fq_pass1(const int32_t *z, fq_blocks *bk)
{
    __m256i m0 = _mm256_loadu_si256((const __m256i *)(const void *)z), m1 = m0, m2 = m0, m3 = m0, vz, vE;
    uint32_t s, best = 256, c;
    int32_t lanes[8];
    for (s = 0; s < 256; s += 32) {
        m0 = _mm256_max_epi32(m0, _mm256_loadu_si256((const __m256i *)(const void *)(z + s)));
        m1 = _mm256_max_epi32(m1, _mm256_loadu_si256((const __m256i *)(const void *)(z + s + 8)));
        m2 = _mm256_max_epi32(m2, _mm256_loadu_si256((const __m256i *)(const void *)(z + s + 16)));
        m3 = _mm256_max_epi32(m3, _mm256_loadu_si256((const __m256i *)(const void *)(z + s + 24)));
    }
    m0 = _mm256_max_epi32(_mm256_max_epi32(m0, m1), _mm256_max_epi32(m2, m3));
    m0 = _mm256_max_epi32(m0, _mm256_permute2x128_si256(m0, m0, 0x01));
    m0 = _mm256_max_epi32(m0, _mm256_shuffle_epi32(m0, _MM_SHUFFLE(1, 0, 3, 2)));
    vz = _mm256_max_epi32(m0, _mm256_shuffle_epi32(m0, _MM_SHUFFLE(2, 3, 0, 1))); /* zmax in every lane */
    for (s = 0; s < 256 && best == 256; s += 8) {
        int m = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(z + s)), vz)));
        if (m)
            best = s + (uint32_t)__builtin_ctz((unsigned)m);
    }
    vE = _mm256_setzero_si256();
    for (s = 0; s < 256; s += 8)
        _mm256_store_si256((__m256i *)(void *)(bk->e + s),
                           b8_exp(_mm256_sub_epi32(vz, _mm256_loadu_si256((const __m256i *)(const void *)(z + s))), &vE));
    _mm256_storeu_si256((__m256i *)(void *)lanes, vE);
    for (c = 0, s = 0; s < 8; s++)
        c += (uint32_t)lanes[s]; /* E <= 2^23 */
    bk->best = best;
    return c;
}

/* oz_freq_cum with 8 lanes (docs/integer-model.md, "Frequencies"): pass 1
 * of the searches below (the maximum, the first symbol that has it, e_s and
 * E), R = oz_freq_recip(E), f_s = 1 + e_s R_hi + floor(e_s R_lo / 2^32) (R =
 * 2^32 R_hi + R_lo; e_s R_lo < 2^47 by vpmuludq), the rest to the best
 * symbol, then the running sums */
static void freq_cum(const int32_t *z, uint32_t *cum)
{
    fq_blocks bk;
    uint32_t f[256] __attribute__((aligned(32))), s, sum, c;
    int32_t lanes[8];
    uint64_t R = oz_freq_recip(fq_pass1(z, &bk));
    const __m256i rhi = _mm256_set1_epi32((int32_t)(R >> 32)), rlo = _mm256_set1_epi64x((int64_t)(uint32_t)R);
    __m256i vs = _mm256_setzero_si256();
    for (s = 0; s < 256; s += 8) {
        __m256i fv = freq8(_mm256_load_si256((const __m256i *)(const void *)(bk.e + s)), rhi, rlo);
        _mm256_store_si256((__m256i *)(void *)(f + s), fv);
        vs = _mm256_add_epi32(vs, fv);
    }
    _mm256_storeu_si256((__m256i *)(void *)lanes, vs);
    for (sum = 0, s = 0; s < 8; s++)
        sum += (uint32_t)lanes[s];
    f[bk.best] += oz_freq_rest(sum);
    for (c = 0, s = 0; s < 256; s++) {
        cum[s] = c;
        c += f[s];
    }
    cum[256] = c;
}

/* Pass 2 of a row: R = oz_freq_recip(E), each block's total of f, their
 * running sums with the rest at best's block (bk->cum) */
static inline __attribute__((always_inline)) void fq_pass2(uint32_t E, fq_blocks *bk)
{
    const __m256i flip = _mm256_set1_epi16((short)0x8000), ones = _mm256_set1_epi16(1);
    __m256i C[8], h[4], g0, g1, tot;
    uint32_t s, i, r2;
    uint64_t R = oz_freq_recip(E);
    r2 = (uint32_t)(R >> 32);
    {
        const __m256i vr1 = _mm256_set1_epi16((short)(R >> 16)), vr0 = _mm256_set1_epi16((short)R);
        const __m256i vr2 = _mm256_set1_epi16((short)r2);
        for (i = 0; i < 8; i++) {
            C[i] = _mm256_setzero_si256();
            for (s = 32 * i; s < 32 * i + 32; s += 16) {
                __m256i P = _mm256_packus_epi32(_mm256_load_si256((const __m256i *)(const void *)(bk->e + s)),
                                                _mm256_load_si256((const __m256i *)(const void *)(bk->e + s + 8)));
                __m256i h1 = _mm256_mulhi_epu16(P, vr1), l1 = _mm256_mullo_epi16(P, vr1);
                __m256i sm = _mm256_add_epi16(l1, _mm256_mulhi_epu16(P, vr0));
                __m256i mm1 = _mm256_add_epi16(h1, _mm256_cmpeq_epi16(_mm256_max_epu16(sm, l1), sm)); /* m - 1 */
                C[i] = _mm256_add_epi32(C[i], _mm256_add_epi32(_mm256_madd_epi16(_mm256_xor_si256(P, flip), vr2),
                                                               _mm256_madd_epi16(mm1, ones)));
            }
        }
    }
    /* the 8 blocks' sums: [blocks 0..3 | 4..7] */
    for (i = 0; i < 4; i++)
        h[i] = _mm256_hadd_epi32(C[2 * i], C[2 * i + 1]);
    g0 = _mm256_hadd_epi32(h[0], h[1]);
    g1 = _mm256_hadd_epi32(h[2], h[3]);
    tot = _mm256_add_epi32(_mm256_permute2x128_si256(g0, g1, 0x20), _mm256_permute2x128_si256(g0, g1, 0x31));
    /* + 32 (the ones) + 32 2^15 r2 (e's offset) + 32 (m's): a true total < 2^21 */
    tot = prefix8(_mm256_add_epi32(tot, _mm256_set1_epi32((int32_t)(64 + (r2 << 20)))));
    _mm256_storeu_si256((__m256i *)(void *)bk->cum, tot);
    bk->rest = oz_freq_rest(bk->cum[7]);
    for (i = bk->best / 32; i < 8; i++)
        bk->cum[i] += bk->rest;
    bk->R = R;
}

/* cq[j] = cum[32 b + j], j = 0..32 (block b's exact f, the rest at best) */
static void fq_block_cum(const fq_blocks *bk, uint32_t b, uint32_t *cq)
{
    const __m256i rhi = _mm256_set1_epi32((int32_t)(bk->R >> 32)), rlo = _mm256_set1_epi64x((int64_t)(uint32_t)bk->R);
    const __m256i last = _mm256_set1_epi32(7);
    __m256i carry = _mm256_set1_epi32((int32_t)(b ? bk->cum[b - 1] : 0));
    uint32_t j, f[32] __attribute__((aligned(32)));
    for (j = 0; j < 32; j += 8)
        _mm256_store_si256((__m256i *)(void *)(f + j),
                           freq8(_mm256_load_si256((const __m256i *)(const void *)(bk->e + 32 * b + j)), rhi, rlo));
    if (bk->best / 32 == b)
        f[bk->best % 32] += bk->rest;
    cq[0] = b ? bk->cum[b - 1] : 0;
    for (j = 0; j < 32; j += 8) {
        __m256i q = _mm256_add_epi32(prefix8(_mm256_load_si256((const __m256i *)(const void *)(f + j))), carry);
        _mm256_storeu_si256((__m256i *)(void *)(cq + 1 + j), q);
        carry = _mm256_permutevar8x32_epi32(q, last);
    }
}

/* passes 1 and 2 for n <= FQ_ROWS rows (z rows 256 apart), each pass for
 * every row before the next pass, as kern_avx512.c's fq_rows: the rows'
 * chains of latency (the maximum, E's reduction, the division, the running
 * sums) overlap each other */
#define FQ_ROWS 8
static void fq_rows(const int32_t *z, uint32_t n, fq_blocks *bk)
{
    uint32_t E[FQ_ROWS], r;
    for (r = 0; r < n; r++)
        E[r] = fq_pass1(z + (size_t)r * 256, &bk[r]);
    for (r = 0; r < n; r++)
        fq_pass2(E[r], &bk[r]);
}

/* ozf_kernels.freq_find (as kern_avx512.c's): the block is the count of
 * block ends <= slot (cum[7] = 2^20 > slot), the symbol the count of the
 * block's cumulative values <= slot */
static void freq_find(const int32_t *z, uint32_t nrows, const uint32_t *slot, uint32_t *sym, uint32_t *start,
                      uint32_t *freq)
{
    fq_blocks bk[FQ_ROWS];
    uint32_t cq[33], r0, r, n, b, k, i;
    for (r0 = 0; r0 < nrows; r0 += n) {
        n = nrows - r0 < FQ_ROWS ? nrows - r0 : FQ_ROWS;
        fq_rows(z + (size_t)r0 * 256, n, bk);
        for (r = 0; r < n; r++) {
            const __m256i vslot = _mm256_set1_epi32((int32_t)slot[r0 + r]);
            for (b = 0, i = 0; i < 7; i++)
                b += bk[r].cum[i] <= slot[r0 + r];
            fq_block_cum(&bk[r], b, cq);
            for (k = 0, i = 1; i < 33; i += 8) /* values <= 2^20: signed compares */
                k += (uint32_t)__builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(
                    _mm256_cmpgt_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(cq + i)), vslot))) ^ 0xFFu);
            sym[r0 + r] = 32 * b + k;
            start[r0 + r] = cq[k];
            freq[r0 + r] = cq[k + 1] - cq[k];
        }
    }
}

/* encoding's question: cum[sym] and f[sym] of oz_freq_cum, rows as freq_find */
static void freq_sym(const int32_t *z, uint32_t nrows, const uint8_t *sym, uint32_t *sf)
{
    fq_blocks bk[FQ_ROWS];
    uint32_t cq[33], r0, r, n;
    for (r0 = 0; r0 < nrows; r0 += n) {
        n = nrows - r0 < FQ_ROWS ? nrows - r0 : FQ_ROWS;
        fq_rows(z + (size_t)r0 * 256, n, bk);
        for (r = 0; r < n; r++) {
            uint32_t s = sym[r0 + r];
            fq_block_cum(&bk[r], s / 32, cq);
            sf[2 * (r0 + r)] = cq[s % 32];
            sf[2 * (r0 + r) + 1] = cq[s % 32 + 1] - cq[s % 32];
        }
    }
}

#include "forward_impl.h"

const ozf_kernels ozf_kernels_avx2 = {"avx2", pack_bytes, pack, gemm, scores, vsum, rq_uniform, rq_rows, attend, exp2q15, freq_cum, forward, ring_put, keep_stats, act_apply, NULL, attend2, NULL, NULL, rmsnorm_rows, freq_find, rq_rows_q, OZF_LANES, freq_sym, rq_rows_qn};
