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
#include <stdlib.h>
#include <string.h>

#include "../../core/oz_int.h"
#include "../../core/oz_ops.h"
#include "ozf.h"

extern uint32_t ozf_exp2_u32[256];

#define KG(k) ((k) / 4)

/* acc + the four-byte dot products of a (unsigned bytes) and w (signed
 * bytes) per int32 lane: vpdpbusd, as _mm512_dpbusd_epi32; and vpdpwssd
 * (int16 pairs), as _mm512_dpwssd_epi32. In inline asm for gcc, whose
 * register allocation of those intrinsics (gcc 12) copies the accumulator
 * into another register before each instruction and back after it, and
 * spills some to the stack (seen: 577 zmm register moves in gemm for its
 * 168 vpdpbusd, 273 in the lanes attention for 160); the asm names the
 * accumulator as the instruction's in-out operand, so it stays put. The
 * same instruction, so the same integers. */
static inline __attribute__((always_inline)) __m512i dpbusd(__m512i acc, __m512i a, __m512i w)
{
#if defined(__GNUC__) && !defined(__clang__)
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "vm"(w));
    return acc;
#else
    return _mm512_dpbusd_epi32(acc, a, w);
#endif
}

static inline __attribute__((always_inline)) __m512i dpwssd(__m512i acc, __m512i a, __m512i b)
{
#if defined(__GNUC__) && !defined(__clang__)
    __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "vm"(b));
    return acc;
#else
    return _mm512_dpwssd_epi32(acc, a, b);
#endif
}

/* (rows, k) -> [rows/16][k/4][16][4], then the row sums (int32, rows), then
 * 1024 bytes of zeros: the AMX product reads its weight tiles 16 groups of
 * four columns at a time and may read up to 15 groups (960 bytes) past the
 * last row block when k is not a multiple of 64 (multiplied by activation
 * columns that are 0; see gemm_amx) */
#define OZF_AMX_PAD 1024
static size_t pack_bytes(uint32_t rows, uint32_t k) { return (size_t)rows * k + 4 * (size_t)rows + OZF_AMX_PAD; }

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
    memset(rs + rows, 0, OZF_AMX_PAD);
}

static inline __m512i bcast_u8(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_xor_si512(_mm512_set1_epi32(v), _mm512_set1_epi32((int)0x80808080));
}

/* NRB row blocks (16 rows each) x NB batch rows; a is already unsigned
 * (a + 128), so each group of four activation bytes is one broadcast load.
 * SPLIT (for NB <= 4, a decode batch): the even and the odd groups of four
 * columns go to separate accumulators, so that 4 NB independent vpdpbusd
 * chains (12 for the batch of 3 at W = 512, against 6) cover the
 * instruction's latency; the two halves are added at the end (an exact
 * int32 sum, docs/integer-model.md "Matrix products"). */
static inline __attribute__((always_inline)) void micro(const int8_t *w, uint32_t k, uint32_t rb0, int nrb,
                                                        const uint8_t *a, uint32_t lda, uint32_t b0, int nb,
                                                        const int32_t *rs, int32_t *c, uint32_t ldc, const int SPLIT)
{
    __m512i acc[2][8], acc2[2][8];
    uint32_t kg = 0, nkg = KG(k);
    int i, b;
    for (i = 0; i < 2; i++)
        for (b = 0; b < 8; b++)
            acc[i][b] = acc2[i][b] = _mm512_setzero_si512();
    if (SPLIT)
        for (; kg + 2 <= nkg; kg += 2) {
            const int8_t *p0 = w + ((size_t)rb0 * nkg + kg) * 64, *p1 = w + ((size_t)(rb0 + 1) * nkg + kg) * 64;
            __m512i w0 = _mm512_load_si512(p0), v0 = _mm512_load_si512(p0 + 64);
            __m512i w1 = nrb > 1 ? _mm512_load_si512(p1) : w0, v1 = nrb > 1 ? _mm512_load_si512(p1 + 64) : v0;
            for (b = 0; b < nb; b++) {
                int32_t x, y;
                __m512i ax, ay;
                memcpy(&x, a + (size_t)(b0 + b) * lda + kg * 4, 4);
                memcpy(&y, a + (size_t)(b0 + b) * lda + kg * 4 + 4, 4);
                ax = _mm512_set1_epi32(x);
                ay = _mm512_set1_epi32(y);
                acc[0][b] = dpbusd(acc[0][b], ax, w0);
                acc2[0][b] = dpbusd(acc2[0][b], ay, v0);
                if (nrb > 1) {
                    acc[1][b] = dpbusd(acc[1][b], ax, w1);
                    acc2[1][b] = dpbusd(acc2[1][b], ay, v1);
                }
            }
        }
    for (; kg < nkg; kg++) { /* every group, or after SPLIT the odd one left */
        __m512i w0 = _mm512_load_si512(w + (((size_t)rb0 * nkg + kg) * 64));
        __m512i w1 = nrb > 1 ? _mm512_load_si512(w + (((size_t)(rb0 + 1) * nkg + kg) * 64)) : w0;
        for (b = 0; b < nb; b++) {
            int32_t v;
            __m512i av;
            memcpy(&v, a + (size_t)(b0 + b) * lda + kg * 4, 4);
            av = _mm512_set1_epi32(v);
            acc[0][b] = dpbusd(acc[0][b], av, w0);
            if (nrb > 1)
                acc[1][b] = dpbusd(acc[1][b], av, w1);
        }
    }
    for (i = 0; i < nrb; i++) {
        __m512i corr = _mm512_slli_epi32(_mm512_loadu_si512(rs + (rb0 + i) * 16), 7);
        for (b = 0; b < nb; b++)
            _mm512_storeu_si512(c + (size_t)(b0 + b) * ldc + (rb0 + i) * 16,
                                _mm512_sub_epi32(SPLIT ? _mm512_add_epi32(acc[i][b], acc2[i][b]) : acc[i][b], corr));
    }
}

/* a + 128 for every activation, into a per-thread buffer (NULL if out of memory) */
static const uint8_t *to_unsigned(const int8_t *a, uint32_t lda, uint32_t k, uint32_t nb)
{
    uint8_t *buf = (uint8_t *)ozf_thread_buf(OZF_TBUF_AVX512_U8, (size_t)nb * k);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    size_t i, n;
    uint32_t b;
    if (!buf)
        return NULL;
    /* rows that follow each other (lda = k: every call of the layer loop)
     * as one run of nb k bytes; else row by row. The tail by a mask, not
     * byte by byte (k = 16 at the smallest shapes) */
    for (b = 0; b < nb; b += lda == k ? nb : 1) {
        const int8_t *src = a + (size_t)b * lda;
        uint8_t *dst = buf + (size_t)b * k;
        n = lda == k ? (size_t)nb * k : k;
        for (i = 0; i + 64 <= n; i += 64)
            _mm512_storeu_si512(dst + i, _mm512_xor_si512(_mm512_loadu_si512(src + i), flip));
        if (i < n) {
            __mmask64 m = ((__mmask64)1 << (n - i)) - 1;
            _mm512_mask_storeu_epi8(dst + i, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src + i), flip));
        }
    }
    return buf;
}

static void gemm(const void *wp, uint32_t rows, uint32_t k, const int8_t *a_signed, uint32_t lda, uint32_t nb,
                 int32_t *c, uint32_t ldc)
{
    const int8_t *w = (const int8_t *)wp;
    const int32_t *rs = (const int32_t *)(const void *)(w + (size_t)rows * k);
    const uint8_t *a = to_unsigned(a_signed, lda, k, nb);
    uint32_t nrb = rows / 16, rb, b;
    if (!a) { /* out of memory for the conversion: the plain loop (same result) */
        for (b = 0; b < nb; b++)
            for (rb = 0; rb < rows; rb++) {
                int32_t acc = 0;
                uint32_t kk;
                for (kk = 0; kk < k; kk++)
                    acc += (int32_t)a_signed[(size_t)b * lda + kk] *
                           w[(((size_t)(rb / 16) * KG(k) + kk / 4) * 16 + rb % 16) * 4 + kk % 4];
                c[(size_t)b * ldc + rb] = acc;
            }
        return;
    }
    for (rb = 0; rb < nrb; rb += 2) {
        int two = rb + 1 < nrb;
        for (b = 0; b < nb; b += 8) {
            uint32_t left = nb - b;
            /* the row count a constant in each call, so that micro() is
             * unrolled for it: a decode batch of 3 reads each weight once,
             * not 3 times */
#define OZF_MICRO(NB, SPLIT)                                                                                     \
    (two ? micro(w, k, rb, 2, a, k, b, NB, rs, c, ldc, SPLIT) : micro(w, k, rb, 1, a, k, b, NB, rs, c, ldc, SPLIT))
            switch (left >= 8 ? 8 : left) {
            case 8: OZF_MICRO(8, 0); break;
            case 7: OZF_MICRO(7, 0); break;
            case 6: OZF_MICRO(6, 0); break;
            case 5: OZF_MICRO(5, 0); break;
            case 4: OZF_MICRO(4, 1); break;
            case 3: OZF_MICRO(3, 1); break;
            case 2: OZF_MICRO(2, 1); break;
            default: OZF_MICRO(1, 1); break;
            }
#undef OZF_MICRO
        }
    }
}

/* ---- the matrix products on AMX (Advanced Matrix Extensions, INT8) ----
 * Used in encode (16 activation rows or more) where the CPU has AMX-INT8 and
 * the kernel allows it (ozf_amx_available; ozf_model.amx). tdpbssd is a
 * tile product of signed bytes: C[m][n] += sum over k of A[m][k] B[k][n],
 * four products per step added into int32 lanes without saturation, so the
 * int8 dot products are exact (docs/integer-model.md, "Matrix products"). A
 * weight tile (16 groups of four columns x 16 rows) is 16 consecutive
 * 64-byte groups of the packed layout as it is. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("amx-tile,amx-int8"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("amx-tile,amx-int8")
#endif

/* the activations (signed, as they are) in rows of kp = k rounded up to 64
 * bytes, zero past k, and zero rows up to nbp (a multiple of 16), into a
 * per-thread buffer (NULL if out of memory) */
static const int8_t *pad_amx(const int8_t *a, uint32_t lda, uint32_t k, uint32_t nb, uint32_t kp, uint32_t nbp)
{
    int8_t *buf = (int8_t *)ozf_thread_buf(OZF_TBUF_AMX_PAD, (size_t)nbp * kp);
    uint32_t b, i;
    if (!buf)
        return NULL;
    for (b = 0; b < nbp; b++) {
        const int8_t *src = a + (size_t)b * lda;
        int8_t *dst = buf + (size_t)b * kp;
        for (i = 0; i < kp; i += 64) {
            uint32_t left = b < nb && k > i ? k - i : 0;
            __mmask64 m = left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
            /* the activation bytes where they are, 0 past k (and in the padding rows) */
            _mm512_store_si512(dst + i, _mm512_maskz_loadu_epi8(m, src + i));
        }
    }
    return buf;
}

typedef struct amx_cfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_cfg;

/* One tile configuration for every AMX kernel: the 8 tiles of 16 rows of 64
 * bytes. forward() loads it once for a pass of 16 rows or more and releases
 * it at the end (ldtilecfg costs about as much as a few tile products); the
 * kernels exposed alone (ozf_kernels.gemm_amx) load it themselves. */
static void amx_begin(void)
{
    /* a constant in memory: gcc 12's _tile_loadconfig tells the compiler it
     * reads 8 bytes, so stores that fill a local configuration may be
     * dropped as dead (seen: the tiles were left unconfigured) */
    static const amx_cfg cfg __attribute__((aligned(64))) = {
        1, 0, {0}, {64, 64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0}, {16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0}};
    _tile_loadconfig(&cfg);
}

static void amx_end(void) { _tile_release(); }

/* gemm on tiles; the configuration is loaded; nb >= 16. tdpbssd takes
 * signed bytes on both sides, so the activations go in as they are and
 * the products need no correction: whole blocks of 16 rows are stored
 * from the tiles straight into c. */
static void gemm_amx_run(const void *wp, uint32_t rows, uint32_t k, const int8_t *a, uint32_t nb, int32_t *c,
                         uint32_t ldc)
{
    const int8_t *w = (const int8_t *)wp;
    uint32_t kp = (k + 63) & ~63u, nmb = (nb + 15) / 16, nkg = KG(k), nkc = kp / 64, nrb = rows / 16;
    uint32_t mb, rb, kc, r;
    int32_t tile[256] __attribute__((aligned(64)));
    /* tiles 0-3: C (16 x 16 int32), 4-5: A (16 rows x 64 bytes), 6-7: B
     * (16 groups x 64 bytes); two blocks of 16 activation rows times two
     * blocks of 16 weight rows at a time (an odd last block is computed
     * twice and stored once) */
    for (mb = 0; mb < nmb; mb += 2) {
        uint32_t mb1 = mb + 1 < nmb ? mb + 1 : mb;
        for (rb = 0; rb < nrb; rb += 2) {
            uint32_t rb1 = rb + 1 < nrb ? rb + 1 : rb;
            const uint32_t tm[4] = {mb, mb, mb1, mb1}, tr[4] = {rb, rb1, rb, rb1};
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (kc = 0; kc < nkc; kc++) {
                /* groups past k (k not a multiple of 64) meet activation columns of 0 */
                _tile_loadd(4, a + (size_t)mb * 16 * kp + kc * 64, kp);
                _tile_loadd(5, a + (size_t)mb1 * 16 * kp + kc * 64, kp);
                _tile_loadd(6, w + ((size_t)rb * nkg + kc * 16) * 64, 64);
                _tile_loadd(7, w + ((size_t)rb1 * nkg + kc * 16) * 64, 64);
                _tile_dpbssd(0, 4, 6);
                _tile_dpbssd(1, 4, 7);
                _tile_dpbssd(2, 5, 6);
                _tile_dpbssd(3, 5, 7);
            }
            /* a tile's 16 rows straight into c where all are rows of the
             * batch; the last, partial block through a buffer */
#define OZF_TSTORE(T)                                                                                            \
    do {                                                                                                         \
        if (!(((T) & 1 && rb1 == rb) || ((T) & 2 && mb1 == mb))) {                                               \
            int32_t *dst = c + (size_t)tm[T] * 16 * ldc + tr[T] * 16;                                            \
            if (tm[T] * 16 + 16 <= nb)                                                                           \
                _tile_stored(T, dst, (size_t)ldc * 4);                                                           \
            else {                                                                                               \
                _tile_stored(T, tile, 64);                                                                       \
                for (r = 0; tm[T] * 16 + r < nb; r++)                                                            \
                    _mm512_storeu_si512(dst + (size_t)r * ldc, _mm512_load_si512(tile + 16 * r));                \
            }                                                                                                    \
        }                                                                                                        \
    } while (0)
            OZF_TSTORE(0);
            OZF_TSTORE(1);
            OZF_TSTORE(2);
            OZF_TSTORE(3);
#undef OZF_TSTORE
        }
    }
}

/* the forward pass's gemm when the model uses AMX: on tiles (configured by
 * forward) for 16 rows or more, else as gemm */
static void gemm_amx_in(const void *wp, uint32_t rows, uint32_t k, const int8_t *a_signed, uint32_t lda, uint32_t nb,
                        int32_t *c, uint32_t ldc)
{
    uint32_t kp = (k + 63) & ~63u;
    const int8_t *a = nb >= 16 ? pad_amx(a_signed, lda, k, nb, kp, (nb + 15) & ~15u) : NULL;
    if (!a)
        gemm(wp, rows, k, a_signed, lda, nb, c, ldc);
    else
        gemm_amx_run(wp, rows, k, a, nb, c, ldc);
}

/* ozf_kernels.gemm_amx: the same, on its own */
static void gemm_amx(const void *wp, uint32_t rows, uint32_t k, const int8_t *a_signed, uint32_t lda, uint32_t nb,
                     int32_t *c, uint32_t ldc)
{
    if (nb < 16) {
        gemm(wp, rows, k, a_signed, lda, nb, c, ldc);
        return;
    }
    amx_begin();
    gemm_amx_in(wp, rows, k, a_signed, lda, nb, c, ldc);
    amx_end();
}

/* The value sums of 16 rows with the rows in the lanes (b16_blk): C'[d][r]
 * += sum over keys k of a block of 64 of A'[d][k] B'[k / 4][4 r + k % 4],
 * with A' the values transposed (b16_vt: row d = dimension d of the 64 keys,
 * signed) and B' the weights' bytes of 4 keys per row (unsigned; low bytes
 * at bb + 128 g, high bytes at bb + 128 g + 64 for group g), by tdpbsud;
 * out[d][r] = sum(lo v) + 256 sum(hi v) (docs/integer-model.md). The
 * configuration is loaded (forward). Blocks alternate between two sets of
 * accumulators (tiles 0, 1 and 2, 3). */
static void b16_vsum_amx(const int8_t *vt, const uint8_t *bb, uint32_t nblk, int32_t out[16][16])
{
    int32_t part[3][16][16] __attribute__((aligned(64)));
    uint32_t k, d;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (k = 0; k < nblk; k += 2) {
        _tile_loadd(4, vt + (size_t)k * 1024, 64);
        _tile_loadd(5, bb + (size_t)k * 2048, 128);
        _tile_loadd(6, bb + (size_t)k * 2048 + 64, 128);
        _tile_dpbsud(0, 4, 5);
        _tile_dpbsud(1, 4, 6);
        if (k + 1 < nblk) {
            _tile_loadd(7, vt + (size_t)(k + 1) * 1024, 64);
            _tile_loadd(5, bb + (size_t)(k + 1) * 2048, 128);
            _tile_loadd(6, bb + (size_t)(k + 1) * 2048 + 64, 128);
            _tile_dpbsud(2, 7, 5);
            _tile_dpbsud(3, 7, 6);
        }
    }
    _tile_stored(0, out, 64);
    _tile_stored(1, part[0], 64);
    _tile_stored(2, part[1], 64);
    _tile_stored(3, part[2], 64);
    for (d = 0; d < 16; d++)
        _mm512_store_si512(out[d], _mm512_add_epi32(_mm512_slli_epi32(_mm512_add_epi32(_mm512_load_si512(part[0][d]),
                                                                                       _mm512_load_si512(part[2][d])),
                                                                      8),
                                                    _mm512_add_epi32(_mm512_load_si512(out[d]), _mm512_load_si512(part[1][d]))));
}

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

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
            acc = dpbusd(acc, qb[dg], _mm512_load_si512(kp + ((size_t)dg * cap + blk) * 4));
        acc = _mm512_sub_epi32(acc, _mm512_load_si512(ksum + blk));
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

/* acc[d] = sum over the slots of runs r < nr ([ra[r], rb[r])) of e v_d, from
 * e split as split_e lays it out (lo[r], hi[r]): vpdpbusd of the broadcast
 * byte words against the values, acc = 256 sum(hi v) + sum(lo v). */
static inline __attribute__((always_inline)) void vsum_bytes(const uint8_t *const lo[2], const uint8_t *const hi[2],
                                                             const int8_t *vp, uint32_t dh, const uint32_t ra[2],
                                                             const uint32_t rb[2], uint32_t nr, int32_t *acc)
{
    uint32_t r, g, db, u;
    for (db = 0; db < dh; db += 16) {
        uint32_t lanes = dh - db < 16 ? dh - db : 16;
        __mmask16 m = (__mmask16)(((uint32_t)1 << lanes) - 1);
        /* eight chains of accumulators (four for the low bytes, four for the
         * high), enough to cover the vpdpbusd latency at two per cycle */
        __m512i L[4], Hh[4];
        for (u = 0; u < 4; u++)
            L[u] = Hh[u] = _mm512_setzero_si512();
        for (r = 0; r < nr; r++) {
            uint32_t g0 = ra[r] / 4, ng = (rb[r] + 3) / 4 - g0;
            const int8_t *src = vp + (size_t)g0 * dh * 4 + db * 4;
            const uint8_t *pl = lo[r], *ph = hi[r];
            int32_t wl, wh;
            for (g = 0; g + 4 <= ng; g += 4, src += 16 * dh, pl += 16, ph += 16) {
                /* 16 slots whose weights are all 0 add nothing (attention is
                 * often 0 far back: e = 0 from 16 bits below the maximum) */
                __m128i any = _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)pl),
                                           _mm_loadu_si128((const __m128i *)(const void *)ph));
                if (_mm_testz_si128(any, any))
                    continue;
                for (u = 0; u < 4; u++) {
                    __m512i v = _mm512_maskz_loadu_epi32(m, src + 4 * u * dh);
                    memcpy(&wl, pl + 4 * u, 4);
                    memcpy(&wh, ph + 4 * u, 4);
                    L[u] = dpbusd(L[u], _mm512_set1_epi32(wl), v);
                    Hh[u] = dpbusd(Hh[u], _mm512_set1_epi32(wh), v);
                }
            }
            /* the last 0 to 3 groups, into the first chains: a constant
             * index keeps the accumulators in registers (indexed by the
             * loop counter, gcc kept all eight on the stack) */
            for (; g < ng; g++, src += 4 * dh, pl += 4, ph += 4) {
                __m512i v = _mm512_maskz_loadu_epi32(m, src);
                memcpy(&wl, pl, 4);
                memcpy(&wh, ph, 4);
                L[0] = dpbusd(L[0], _mm512_set1_epi32(wl), v);
                Hh[0] = dpbusd(Hh[0], _mm512_set1_epi32(wh), v);
            }
        }
        _mm512_mask_storeu_epi32(
            acc + db, m,
            _mm512_add_epi32(_mm512_slli_epi32(_mm512_add_epi32(_mm512_add_epi32(Hh[0], Hh[1]), _mm512_add_epi32(Hh[2], Hh[3])), 8),
                             _mm512_add_epi32(_mm512_add_epi32(L[0], L[1]), _mm512_add_epi32(L[2], L[3]))));
    }
}

static void vsum(const uint16_t *e, const int8_t *vp, uint32_t cap, uint32_t dh, const ozf_window *w, int32_t *acc)
{
    uint8_t lo[2][OZ_MAX_CTX + 16], hi[2][OZ_MAX_CTX + 16];
    const uint8_t *const pl[2] = {lo[0], lo[1]}, *const ph[2] = {hi[0], hi[1]};
    uint32_t r, nr = w->b1 > w->a1 ? 2 : 1;
    uint32_t ra[2] = {w->a0, w->a1}, rb[2] = {w->b0, w->b1}, jo[2] = {0, w->b0 - w->a0};
    (void)cap;
    for (r = 0; r < nr; r++)
        split_e(e + jo[r], ra[r], rb[r], lo[r], hi[r]);
    vsum_bytes(pl, ph, vp, dh, ra, rb, nr, acc);
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
    const __m512i lo32 = _mm512_set1_epi64(0xFFFFFFFFll), c32 = _mm512_set1_epi32(32), c33 = _mm512_set1_epi32(33);
    const __m512i one32 = _mm512_set1_epi32(1);
    const __m512i vlo32 = _mm512_set1_epi32(lo), vhi32 = _mm512_set1_epi32(hi);
    uint32_t i = 0;
    /* 16 lanes at a time where all 16 shifts are >= 32 (docs/integer-model.md,
     * "Requantisation of scores and rows"): P = acc m + 2^(s-1) exactly in
     * 64-bit lanes, its high half is floor(P / 2^32), and an arithmetic
     * shift by s - 32 gives floor(P / 2^s); the clamp is done on int32 */
    for (; i + 16 <= n; i += 16) {
        __m512i a = _mm512_loadu_si512(acc + i), mm = _mm512_loadu_si512(m + i), sh = _mm512_loadu_si512(s + i);
        __m512i se, so, pe, po, r;
        if (!_mm512_cmplt_epi32_mask(sh, c33)) {
            /* all shifts >= 33: from the high halves H of the products
             * alone, (H + 2^(s-33)) >> (s-32) (as rq16_hi, docs/integer-model.md
             * "Scores from the high halves"; |acc m| < 2^62, |H| < 2^30) */
            pe = _mm512_srli_epi64(_mm512_mul_epi32(a, mm), 32);
            po = _mm512_mul_epi32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(mm, 32));
            r = _mm512_add_epi32(_mm512_mask_blend_epi32((__mmask16)0xAAAA, pe, po),
                                 _mm512_sllv_epi32(one32, _mm512_sub_epi32(sh, c33)));
            r = _mm512_srav_epi32(r, _mm512_sub_epi32(sh, c32));
            _mm512_storeu_si512(out + i, _mm512_min_epi32(_mm512_max_epi32(r, vlo32), vhi32));
            continue;
        }
        if (_mm512_cmplt_epi32_mask(sh, c32))
            break;
        se = _mm512_and_si512(sh, lo32);     /* the even lanes' shifts, as 64-bit counts */
        so = _mm512_srli_epi64(sh, 32);      /* the odd lanes' */
        pe = _mm512_add_epi64(_mm512_mul_epi32(a, mm), _mm512_sllv_epi64(one, _mm512_sub_epi64(se, one)));
        po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(mm, 32)),
                              _mm512_sllv_epi64(one, _mm512_sub_epi64(so, one)));
        /* high halves: the even lanes' moved down, the odd lanes' in place */
        r = _mm512_mask_blend_epi32((__mmask16)0xAAAA, _mm512_srli_epi64(pe, 32), po);
        r = _mm512_srav_epi32(r, _mm512_sub_epi32(sh, c32));
        _mm512_storeu_si512(out + i, _mm512_min_epi32(_mm512_max_epi32(r, vlo32), vhi32));
    }
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

/* rq_rows for a prepared matrix (ozf_rq, docs/integer-model.md,
 * "Requantisation of scores and rows"): the constants read from q instead
 * of made from s. OZF_RQ_HI: (H + 2^(s-33)) >> (s-32) from the products'
 * high halves H (|H| < 2^30, H + c < 2^31); OZF_RQ_LO: the high half of
 * (a 2^(32-s)) m + 2^31 (a 2^(32-s) exact: |a| < 2^(s-1)). */
#define OZF_HAVE_RQ_Q 1
static inline __attribute__((always_inline)) __m512i rq16_qc(__m512i a, __m512i m, __m512i mo, __m512i sh, __m512i c,
                                                             const int MODE)
{
    __m512i pe, po, r;
    if (MODE == OZF_RQ_LO)
        a = _mm512_sllv_epi32(a, sh);
    pe = _mm512_mul_epi32(a, m);
    /* the odd lanes' a against mo = the odd lanes' m, both in the even places */
    po = _mm512_mul_epi32(_mm512_shuffle_epi32(a, _MM_PERM_DDBB), mo);
    if (MODE == OZF_RQ_LO) {
        const __m512i half = _mm512_set1_epi64((int64_t)1 << 31);
        pe = _mm512_add_epi64(pe, half);
        po = _mm512_add_epi64(po, half);
    }
    /* high halves: pe's moved down to the even lanes, po's in place in the odd ones */
    r = _mm512_mask_blend_epi32((__mmask16)0xAAAA, _mm512_shuffle_epi32(pe, _MM_PERM_DDBB), po);
    if (MODE == OZF_RQ_HI)
        r = _mm512_srav_epi32(_mm512_add_epi32(r, c), sh);
    return r;
}

/* rq_rows_q of nrows rows of n (rows n apart in acc and out; out may be
 * acc): a column block's constants loaded once for all rows; the columns
 * past the last whole block by core's expression */
static void rq_rows_qn(const int32_t *acc, uint32_t nrows, uint32_t n, const ozf_rq *q, int32_t lo, int32_t hi,
                       int32_t *out)
{
    const __m512i vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi);
    uint32_t i, r;
    for (i = 0; i + 16 <= n; i += 16) {
        const __m512i m = _mm512_loadu_si512(q->m + i), mo = _mm512_loadu_si512(q->mo + i);
        const __m512i sh = _mm512_loadu_si512(q->sh + i), c = _mm512_loadu_si512(q->c + i);
        if (q->mode == OZF_RQ_HI)
            for (r = 0; r < nrows; r++)
                _mm512_storeu_si512(out + (size_t)r * n + i,
                                    _mm512_min_epi32(_mm512_max_epi32(rq16_qc(_mm512_loadu_si512(acc + (size_t)r * n + i), m, mo, sh, c, OZF_RQ_HI), vlo), vhi));
        else
            for (r = 0; r < nrows; r++)
                _mm512_storeu_si512(out + (size_t)r * n + i,
                                    _mm512_min_epi32(_mm512_max_epi32(rq16_qc(_mm512_loadu_si512(acc + (size_t)r * n + i), m, mo, sh, c, OZF_RQ_LO), vlo), vhi));
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

/* ---- the whole attention of one head, fused (used by forward_impl.h) ----
 * The same integers as attend() in core: raw scores, requantised and shifted
 * by the ALiBi slope, their maximum, e = exp2q15(zmax - z) by an in-register
 * table lookup (the 256 entries of core's table in 8 zmm registers, vpermt2w
 * picks 64 at a time), the sum E, the value sums and the final division.
 * docs/integer-model.md ("The fast CPU engine computes the same integers")
 * proves each step. */
#define OZF_FUSED_ATTEND 1
extern uint16_t ozf_exp2_u16[256];

static inline __m512i iota16(void) { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }

/* exp2q15 of 32 values t (uint16; t >= 4096 gives 0, as in core) */
static inline __m512i exp2_t16(__m512i t, const __m512i *T)
{
    __m512i sh = _mm512_min_epu16(_mm512_srli_epi16(t, 8), _mm512_set1_epi16(16));
    __mmask32 b6 = _mm512_test_epi16_mask(t, _mm512_set1_epi16(64));
    __mmask32 b7 = _mm512_test_epi16_mask(t, _mm512_set1_epi16(128));
    /* vpermt2w reads the low 6 bits of each index: t mod 64 within T[2i], T[2i+1] */
    __m512i r0 = _mm512_permutex2var_epi16(T[0], t, T[1]), r1 = _mm512_permutex2var_epi16(T[2], t, T[3]);
    __m512i r2 = _mm512_permutex2var_epi16(T[4], t, T[5]), r3 = _mm512_permutex2var_epi16(T[6], t, T[7]);
    __m512i v = _mm512_mask_blend_epi16(b7, _mm512_mask_blend_epi16(b6, r0, r1), _mm512_mask_blend_epi16(b6, r2, r3));
    return _mm512_srlv_epi16(v, sh); /* shift counts of 16 give 0, as oz_exp2q15 does from t = 4096 */
}

/* exp2q15 of 32 values t (>= 0, two halves of 16 int32) as 32 uint16 */
static inline __m512i exp2_32(__m512i t0, __m512i t1, const __m512i *T)
{
    /* unsigned saturation to 65535 keeps every t >= 4096 at or above 4096 */
    return exp2_t16(_mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtusepi32_epi16(t0)), _mm512_cvtusepi32_epi16(t1), 1),
                    T);
}

/* clamp(rq(s, m, as), +-2^24) of 16 lanes, with 64-bit lanes throughout */
static inline __m512i rq16_wide(__m512i s, __m512i m64, __m512i rnd, __m128i sh, __m512i lo, __m512i hi)
{
    __m512i a = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(s));
    __m512i b = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(s, 1));
    a = _mm512_min_epi64(_mm512_max_epi64(_mm512_sra_epi64(_mm512_add_epi64(_mm512_mul_epi32(a, m64), rnd), sh), lo), hi);
    b = _mm512_min_epi64(_mm512_max_epi64(_mm512_sra_epi64(_mm512_add_epi64(_mm512_mul_epi32(b, m64), rnd), sh), lo), hi);
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(a)), _mm512_cvtepi64_epi32(b), 1);
}

/* rq(s, m, as) of 16 lanes, unclamped, when every result is known to fit in
 * int32 (the caller checks the bound): the 64-bit products of the even and
 * of the odd lanes, shifted right by as, hold the results in their low
 * halves, which one vpermt2d interleaves. */
static inline __m512i rq16_narrow(__m512i s, __m512i m64, __m512i rnd, __m128i sh)
{
    const __m512i idx = _mm512_setr_epi32(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
    __m512i e = _mm512_sra_epi64(_mm512_add_epi64(_mm512_mul_epi32(s, m64), rnd), sh);
    __m512i o = _mm512_sra_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_shuffle_epi32(s, _MM_PERM_DDBB), m64), rnd), sh);
    return _mm512_permutex2var_epi32(e, idx, o);
}

/* rq(s, m, as) of 16 lanes for as >= 33, unclamped (every result is then
 * within +-2^20): from the high halves H = floor(P / 2^32) of the 64-bit
 * products P = s m alone, as floor((H + 2^(as-33)) / 2^(as-32)), which
 * equals floor((P + 2^(as-1)) / 2^as) (docs/integer-model.md, "Scores from
 * the high halves"); |H| <= 2^21 and 2^(as-33) <= 2^30, so the 32-bit sum
 * does not overflow. The
 * even lanes' H are moved down from the odd dwords, the odd lanes' products
 * leave theirs in place: one blend, no 64-bit adds or shifts. */
static inline __m512i rq16_hi(__m512i s, __m512i m64, __m512i rnd32, __m128i sh32)
{
    __m512i e = _mm512_srli_epi64(_mm512_mul_epi32(s, m64), 32);
    __m512i o = _mm512_mul_epi32(_mm512_srli_epi64(s, 32), m64);
    return _mm512_sra_epi32(_mm512_add_epi32(_mm512_mask_blend_epi32((__mmask16)0xAAAA, e, o), rnd32), sh32);
}

/* The requantisations of scores: in 64-bit lanes; in 32-bit lanes when every
 * result fits int32; in 32-bit lanes without the clamp when every result is
 * within +-2^24 already; from the products' high halves when as >= 33
 * (rq_mode picks the one that applies). */
enum { RQ_WIDE = 0, RQ_NARROW = 1, RQ_NOCLAMP = 2, RQ_HI = 3 };

/* clamp(rq(s0)) of 16 raw scores by MODE (rnd, sh: for RQ_HI 2^(as-33) and
 * as - 32 in 32-bit lanes, else 2^(as-1) in 64-bit lanes and as) */
static inline __attribute__((always_inline)) __m512i rq16_mode(__m512i s0, const int MODE, __m512i m64, __m512i rnd,
                                                               __m128i sh)
{
    if (MODE == RQ_HI)
        return rq16_hi(s0, m64, rnd, sh);
    if (MODE == RQ_NOCLAMP)
        return rq16_narrow(s0, m64, rnd, sh);
    if (MODE == RQ_NARROW)
        return _mm512_min_epi32(_mm512_max_epi32(rq16_narrow(s0, m64, rnd, sh), _mm512_set1_epi32(-OZ_Z_MAX)),
                                _mm512_set1_epi32(OZ_Z_MAX));
    return rq16_wide(s0, m64, rnd, sh, _mm512_set1_epi64(-OZ_Z_MAX), _mm512_set1_epi64(OZ_Z_MAX));
}

/* the requantised scores (before ALiBi) of the 16 slots from blk; NDG groups
 * of 4 head dimensions, MODE one of RQ_* (constants in each instance) */
static inline __attribute__((always_inline)) __m512i score_block(const __m512i *qb, const uint32_t NDG, const int MODE,
                                                                 const int8_t *kp, const int32_t *ksum, uint32_t cap,
                                                                 uint32_t blk, __m512i m64, __m512i rnd, __m128i sh)
{
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    uint32_t dg;
    for (dg = 0; dg + 1 < NDG; dg += 2) {
        s0 = dpbusd(s0, qb[dg], _mm512_load_si512(kp + ((size_t)dg * cap + blk) * 4));
        s1 = dpbusd(s1, qb[dg + 1], _mm512_load_si512(kp + ((size_t)(dg + 1) * cap + blk) * 4));
    }
    if (dg < NDG)
        s0 = dpbusd(s0, qb[dg], _mm512_load_si512(kp + ((size_t)dg * cap + blk) * 4));
    s0 = _mm512_sub_epi32(_mm512_add_epi32(s0, s1), _mm512_load_si512(ksum + blk));
    return rq16_mode(s0, MODE, m64, rnd, sh);
}

/* pass 1 over one run of slots [a, b): z of each into zbuf + jo, running
 * maximum in vmax. Slot blk + i is at window index jo + blk + i - a, distance
 * n - 1 - that; the bias slope * distance (<= 2^16 * 526 < 2^25) drops by
 * 16 slope from one block to the next. */
static inline __attribute__((always_inline)) __m512i scores_z(const __m512i *qb, const uint32_t NDG, const int MODE,
                                                              const int8_t *kp, const int32_t *ksum, uint32_t cap,
                                                              uint32_t a, uint32_t b, uint32_t jo, uint32_t n,
                                                              int32_t am, int32_t as, int32_t slope, int32_t *zbuf,
                                                              __m512i vmax)
{
    const __m512i m64 = _mm512_set1_epi64(am);
    const __m512i rnd = MODE == RQ_HI ? _mm512_set1_epi32((int32_t)1 << (as - 33)) : _mm512_set1_epi64((int64_t)1 << (as - 1));
    const __m128i sh = _mm_cvtsi32_si128(MODE == RQ_HI ? as - 32 : as);
    const __m512i step = _mm512_set1_epi32(16 * slope);
    uint32_t blk = a & ~15u;
    __m512i bias = _mm512_mullo_epi32(_mm512_set1_epi32(slope),
                                      _mm512_sub_epi32(_mm512_set1_epi32((int32_t)(n - 1 - jo - blk + a)), iota16()));
    if (blk < a) { /* a first block that starts before a: its lanes from a on, packed to the front */
        uint32_t l1 = blk + 16 < b ? blk + 16 : b;
        __mmask16 m = (__mmask16)((((uint32_t)1 << (l1 - blk)) - 1) & ~(((uint32_t)1 << (a - blk)) - 1));
        __m512i z = _mm512_sub_epi32(score_block(qb, NDG, MODE, kp, ksum, cap, blk, m64, rnd, sh), bias);
        vmax = _mm512_mask_max_epi32(vmax, m, vmax, z);
        _mm512_mask_compressstoreu_epi32(zbuf + jo, m, z);
        blk += 16;
        bias = _mm512_sub_epi32(bias, step);
    }
    for (; blk + 16 <= b; blk += 16, bias = _mm512_sub_epi32(bias, step)) {
        __m512i z = _mm512_sub_epi32(score_block(qb, NDG, MODE, kp, ksum, cap, blk, m64, rnd, sh), bias);
        vmax = _mm512_max_epi32(vmax, z);
        _mm512_storeu_si512(zbuf + jo + (blk - a), z);
    }
    if (blk < b) { /* a last block that ends before blk + 16 */
        __mmask16 m = (__mmask16)(((uint32_t)1 << (b - blk)) - 1);
        __m512i z = _mm512_sub_epi32(score_block(qb, NDG, MODE, kp, ksum, cap, blk, m64, rnd, sh), bias);
        vmax = _mm512_mask_max_epi32(vmax, m, vmax, z);
        _mm512_mask_storeu_epi32(zbuf + jo + (blk - a), m, z);
    }
    return vmax;
}

/* scores_z with the head width and requantisation made constants */
static __m512i scores_any(const __m512i *qb, uint32_t ndg, int mode, const int8_t *kp, const int32_t *ksum,
                          uint32_t cap, uint32_t a, uint32_t b, uint32_t jo, uint32_t n, int32_t am, int32_t as,
                          int32_t slope, int32_t *zbuf, __m512i vmax)
{
#define OZF_SZ(NDG, MODE) scores_z(qb, NDG, MODE, kp, ksum, cap, a, b, jo, n, am, as, slope, zbuf, vmax)
    if (ndg == 4)
        return mode == RQ_HI        ? OZF_SZ(4, RQ_HI)
               : mode == RQ_NOCLAMP ? OZF_SZ(4, RQ_NOCLAMP)
               : mode == RQ_NARROW  ? OZF_SZ(4, RQ_NARROW)
                                    : OZF_SZ(4, RQ_WIDE);
    if (ndg == 2)
        return mode == RQ_HI        ? OZF_SZ(2, RQ_HI)
               : mode == RQ_NOCLAMP ? OZF_SZ(2, RQ_NOCLAMP)
               : mode == RQ_NARROW  ? OZF_SZ(2, RQ_NARROW)
                                    : OZF_SZ(2, RQ_WIDE);
    return mode == RQ_HI        ? OZF_SZ(ndg, RQ_HI)
           : mode == RQ_NOCLAMP ? OZF_SZ(ndg, RQ_NOCLAMP)
           : mode == RQ_NARROW  ? OZF_SZ(ndg, RQ_NARROW)
                                : OZF_SZ(ndg, RQ_WIDE);
#undef OZF_SZ
}

/* Which requantisation of scores applies to a head of width dh (RQ_*):
 * |s| = |q.k| <= dh 127^2 =: smax, and with big = smax m + 2^as,
 *   big < 2^(as+24): every result is within +-2^24, the clamp does nothing;
 *   big < 2^(as+31): every result fits int32.
 * (big < 2^22 2^31 + 2^62 never overflows.) From as = 33 on
 * |s m| / 2^as < 2^53 / 2^33 = 2^20: RQ_HI, unclamped, checked first. */
static inline int rq_mode(uint32_t dh, int32_t am, int32_t as)
{
    uint64_t big = (uint64_t)dh * 127 * 127 * (uint64_t)am + ((uint64_t)1 << as);
    if (as >= 33) /* |s m| < 2^22 2^31: every result within +-(2^20 + 1) */
        return RQ_HI;
    if ((big >> (as + 24)) == 0)
        return RQ_NOCLAMP;
    return (big >> (as + 31)) == 0 ? RQ_NARROW : RQ_WIDE;
}

/* ---- 16 rows of encode with the rows in the lanes (Dh = 16): the parts
 * of OZF_ATT_NAME##_rows16 (attend_avx512.h) that do not look up exp2 ----
 * forward_impl.h hands a head's 16 consecutive rows of one ring to
 * OZF_ATTEND16_FOR: key u is ring slot (base + u) mod cap (base, cap
 * multiples of 64: u and its slot agree mod 4); row r's window is keys u0[r]
 * .. u0[r] + n_r - 1, its own key last. One row per 32-bit lane, over the
 * union of the 16 windows (from the lowest u0 rounded down to a multiple of
 * 4 to the last row's key rounded up to one below a multiple of 4):
 *   pass 1 (b16_p1): z = clamp(rq(q_r . k_u)) - slope (uself_r - u) in lane
 *     r (the one-row kernel's score and requantisation, lane by lane), or
 *     B16_NEG where u lies outside row r's window; the maximum per lane;
 *   pass 2 (in attend_avx512.h): t = zmax_r - z of keys u, u + 1 (u even) as
 *     the two halves of a 32-bit lane, e = exp2q15(t) by the 16-bit lookup,
 *     e - 2^15 kept as the pair, E_r from the pairs by vpdpwssd;
 *   pass 3 (b16_vsum_out): acc_r,d = sum vpdpwssd(pair, (v_u,d, v_u+1,d)) +
 *     2^15 C_d, C_d = sum v_u,d over the block's keys (each key adds (e -
 *     2^15) v + 2^15 v = e v; outside a row's window e = 0), and core's
 *     division per row.
 * docs/integer-model.md, "16 rows of encode with the rows in the lanes". */
#define B16_NEG (-(1 << 30))

typedef struct b16_blk {
    const int8_t *kp;
    const int32_t *ksum;
    uint32_t cap, base;
    uint32_t ue, uend;   /* the keys: [ue, uend], ue % 4 == 0, uend % 4 == 3 */
    uint32_t ulo, uhi;   /* the keys some row's window holds */
    uint32_t umlo, umhi; /* the keys every row's window holds (empty if umlo > umhi) */
    __m512i qb[4], lo1, hi1, bias0;
    __m512i *zb;
} b16_blk;

static inline __m512i bcast_k4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* pass 1: z of keys [ue, uend] into zb; returns the maximum per lane */
static inline __attribute__((always_inline)) __m512i b16_p1(const b16_blk *b, int32_t am, int32_t as, int32_t slope,
                                                            const int MODE)
{
    const __m512i m64 = _mm512_set1_epi64(am);
    const __m512i rnd = MODE == RQ_HI ? _mm512_set1_epi32(1 << (as - 33)) : _mm512_set1_epi64((int64_t)1 << (as - 1));
    const __m128i sh = _mm_cvtsi32_si128(MODE == RQ_HI ? as - 32 : as);
    const __m512i vs = _mm512_set1_epi32(slope), neg = _mm512_set1_epi32(B16_NEG);
    const int8_t *kp = b->kp;
    const int32_t *ksum = b->ksum;
    __m512i vmax = neg, bias = b->bias0, *zb = b->zb - b->ue;
    uint32_t u, cap = b->cap, slot = (b->base + b->ulo) % cap;
    for (u = b->ue; u < b->ulo; u++)
        zb[u] = neg;
    for (; u <= b->uhi; u++) {
        __m512i s0 = dpbusd(_mm512_setzero_si512(), b->qb[0], bcast_k4(kp + (size_t)slot * 4));
        __m512i s1 = dpbusd(_mm512_setzero_si512(), b->qb[1], bcast_k4(kp + ((size_t)cap + slot) * 4)), z;
        s0 = dpbusd(s0, b->qb[2], bcast_k4(kp + ((size_t)2 * cap + slot) * 4));
        s1 = dpbusd(s1, b->qb[3], bcast_k4(kp + ((size_t)3 * cap + slot) * 4));
        s0 = _mm512_sub_epi32(_mm512_add_epi32(s0, s1), _mm512_set1_epi32(ksum[slot]));
        z = _mm512_sub_epi32(rq16_mode(s0, MODE, m64, rnd, sh), bias);
        bias = _mm512_sub_epi32(bias, vs);
        if (u < b->umlo || u > b->umhi) { /* some row's window leaves u out */
            __m512i U = _mm512_set1_epi32((int32_t)u);
            z = _mm512_mask_mov_epi32(neg, _mm512_cmpgt_epi32_mask(U, b->lo1) & _mm512_cmpgt_epi32_mask(b->hi1, U), z);
        }
        vmax = _mm512_max_epi32(vmax, z);
        _mm512_store_si512(zb + u, z);
        if (++slot == cap)
            slot = 0;
    }
    for (; u <= b->uend; u++)
        zb[u] = neg;
    return vmax;
}

/* The values of keys ue .. uend (whole blocks of 64) transposed for the AMX
 * value sums: block k's 16 groups (group g: dword d = the four slots' values
 * of dimension d) become 16 rows of 64 bytes at vt + 1024 (k - ue / 64), row
 * d = dword d of groups 0..15, i.e. dimension d of the 64 keys in order. A
 * 16 x 16 transpose of dwords: 32-bit and 64-bit interleaves within 128-bit
 * lanes, then two rounds of 128-bit lane shuffles. */
static void b16_vt(const int8_t *vp, uint32_t ng, uint32_t base, uint32_t ue, uint32_t uend, int8_t *vt)
{
    uint32_t k, g, i, jj, sg = (base / 4 + ue / 4) % ng;
    for (k = ue / 64; k <= uend / 64; k++, vt += 1024) {
        __m512i r[16], a[16], b[16];
        for (g = 0; g < 16; g++) {
            r[g] = _mm512_loadu_si512(vp + (size_t)sg * 64);
            if (++sg == ng)
                sg = 0;
        }
        for (i = 0; i < 8; i++) {
            a[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
            a[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
        }
        /* b[4 i + jj], 128-bit lane L: dword 4 L + jj of rows 4 i .. 4 i + 3 */
        for (i = 0; i < 4; i++) {
            b[4 * i] = _mm512_unpacklo_epi64(a[4 * i], a[4 * i + 2]);
            b[4 * i + 1] = _mm512_unpackhi_epi64(a[4 * i], a[4 * i + 2]);
            b[4 * i + 2] = _mm512_unpacklo_epi64(a[4 * i + 1], a[4 * i + 3]);
            b[4 * i + 3] = _mm512_unpackhi_epi64(a[4 * i + 1], a[4 * i + 3]);
        }
        for (jj = 0; jj < 4; jj++) {
            __m512i c0 = _mm512_shuffle_i32x4(b[jj], b[4 + jj], 0x44), c1 = _mm512_shuffle_i32x4(b[jj], b[4 + jj], 0xEE);
            __m512i c2 = _mm512_shuffle_i32x4(b[8 + jj], b[12 + jj], 0x44), c3 = _mm512_shuffle_i32x4(b[8 + jj], b[12 + jj], 0xEE);
            _mm512_store_si512(vt + 64 * jj, _mm512_shuffle_i32x4(c0, c2, 0x88));
            _mm512_store_si512(vt + 64 * (4 + jj), _mm512_shuffle_i32x4(c0, c2, 0xDD));
            _mm512_store_si512(vt + 64 * (8 + jj), _mm512_shuffle_i32x4(c1, c3, 0x88));
            _mm512_store_si512(vt + 64 * (12 + jj), _mm512_shuffle_i32x4(c1, c3, 0xDD));
        }
    }
}

/* the block of the 16 rows, their queries (q + 128) and bounds; the values
 * of its groups widened to int16 into vw (group u / 4 at vw + 64 (u / 4), in
 * the ring's order within a group) */
static void b16_setup(const ozf_att_job *j, const uint32_t *u0, uint32_t base, int16_t *vw, ozf_scratch *scr,
                      b16_blk *b, int amx)
{
    int32_t lo1[16], hi1[16], bs[16], q4[4][16];
    uint32_t r, d, g, sg, uself[16], ng = j[0].cap / 4;
    int32_t slope = j[0].slope;
    b->ulo = b->umlo = u0[0];
    for (r = 0; r < 16; r++) {
        uself[r] = u0[r] + j[r].n - 1;
        b->ulo = u0[r] < b->ulo ? u0[r] : b->ulo;
        b->umlo = u0[r] > b->umlo ? u0[r] : b->umlo;
    }
    b->uhi = uself[15], b->umhi = uself[0];
    b->ue = b->ulo & ~3u, b->uend = b->uhi | 3u;
    if (amx) /* whole tiles of 64 keys (u < nu, a multiple of 64) */
        b->ue = b->ulo & ~63u, b->uend = b->uhi | 63u;
    for (r = 0; r < 16; r++) {
        lo1[r] = (int32_t)u0[r] - 1, hi1[r] = (int32_t)uself[r] + 1;
        bs[r] = slope * (int32_t)(uself[r] - b->ulo); /* <= 2^16 (W + 15) */
        for (d = 0; d < 4; d++)
            memcpy(&q4[d][r], j[r].q + 4 * d, 4);
    }
    b->lo1 = _mm512_loadu_si512(lo1);
    b->hi1 = _mm512_loadu_si512(hi1);
    b->bias0 = _mm512_loadu_si512(bs);
    for (d = 0; d < 4; d++) /* q + 128 as unsigned bytes */
        b->qb[d] = _mm512_xor_si512(_mm512_loadu_si512(q4[d]), _mm512_set1_epi32((int)0x80808080));
    b->kp = j[0].kp, b->ksum = j[0].ksum, b->cap = j[0].cap, b->base = base;
    b->zb = (__m512i *)(void *)scr->ew;
    if (amx) {
        b16_vt(j[0].vp, ng, base, b->ue, b->uend, (int8_t *)(void *)vw);
        return;
    }
    for (g = b->ue / 4, sg = (base / 4 + g) % ng; g <= b->uend / 4; g++) {
        const int8_t *src = j[0].vp + (size_t)sg * 64;
        _mm512_store_si512(vw + (size_t)g * 64, _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)src)));
        _mm512_store_si512(vw + (size_t)g * 64 + 32,
                           _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(src + 32))));
        if (++sg == ng)
            sg = 0;
    }
}

/* core's division per row: o_r,d = oz_att_out(out[d][r] + 2^15 C[d],
 * oz_att_recip(E[r])) (C NULL: 0) */
static void b16_out(const ozf_att_job *j, int32_t out[16][16], const int32_t *C, const int32_t *E)
{
    uint32_t r, d;
    for (r = 0; r < 16; r++) {
        int64_t R = oz_att_recip((uint32_t)E[r]);
        for (d = 0; d < 16; d++)
            j[r].o[d] = oz_att_out((int32_t)((uint32_t)out[d][r] + (C ? (uint32_t)C[d] << 15 : 0)), R); /* wrapping; the true sum fits */
    }
}

/* pass 3: the value sums of the np pairs in b->zb (pass 2's), the sums of
 * values C_d, and the division by E[r] per row */
static void b16_vsum_out(const ozf_att_job *j, const b16_blk *b, const int16_t *vw, uint32_t np, const int32_t *E)
{
    const int32_t *vw32 = (const int32_t *)(const void *)vw;
    const __m512i *pb = b->zb;
    int32_t out[16][16] __attribute__((aligned(64))), C[16], t[16];
    uint32_t i, d, g;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    __m512i a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0, c0 = a0, c1 = a0;
    for (i = 0; i < np; i++) {
        uint32_t u = b->ue + 2 * i;
        const int32_t *vb = vw32 + (size_t)(u >> 2) * 32 + ((u >> 1) & 1);
        __m512i p = pb[i];
#define B16_D(k) a##k = dpwssd(a##k, p, _mm512_set1_epi32(vb[2 * k]))
        B16_D(0); B16_D(1); B16_D(2); B16_D(3); B16_D(4); B16_D(5); B16_D(6); B16_D(7);
        B16_D(8); B16_D(9); B16_D(10); B16_D(11); B16_D(12); B16_D(13); B16_D(14); B16_D(15);
#undef B16_D
    }
#define B16_S(k) _mm512_store_si512(out[k], a##k)
    B16_S(0); B16_S(1); B16_S(2); B16_S(3); B16_S(4); B16_S(5); B16_S(6); B16_S(7);
    B16_S(8); B16_S(9); B16_S(10); B16_S(11); B16_S(12); B16_S(13); B16_S(14); B16_S(15);
#undef B16_S
    /* C_d: lane 2 i + h of c0 (c1) sums dimension i (8 + i), slots 2h, 2h + 1 */
    for (g = b->ue / 4; g <= b->uend / 4; g++) {
        c0 = _mm512_add_epi32(c0, _mm512_madd_epi16(_mm512_load_si512(vw + (size_t)g * 64), _mm512_set1_epi16(1)));
        c1 = _mm512_add_epi32(c1, _mm512_madd_epi16(_mm512_load_si512(vw + (size_t)g * 64 + 32), _mm512_set1_epi16(1)));
    }
    _mm512_storeu_si512(t, c0);
    for (d = 0; d < 8; d++)
        C[d] = t[2 * d] + t[2 * d + 1];
    _mm512_storeu_si512(t, c1);
    for (d = 0; d < 8; d++)
        C[8 + d] = t[2 * d] + t[2 * d + 1]; /* |C| <= 2^7 (W + 22) */
    b16_out(j, out, C, E);
}

/* ---- decode: up to 16 streams of a batch in the lanes (the parts of
 * OZF_ATT_NAME##_lanes16, attend_avx512.h, that do not look up exp2) ----
 * In decode every row of a pass is another stream at the same position
 * (ozf_decode_batch advances its streams in lock step), so a head's window
 * is the same ring slots at the same distances in every row's ring; rows
 * differ in their query and their keys and values. ozf_decode_batch keeps
 * a copy of up to 16 streams' keys and values side by side (ozf_lanes,
 * ozf.h): for a slot and a group of 4 dimensions, the 16 streams' 4 key
 * bytes (as k + 128) in 64 bytes; for a group of 4 slots and a dimension,
 * the 16 streams' 4 values in 64 bytes. One row per 32-bit lane (its
 * stream's lane of the copy), one slot at a time for all rows. The keys
 * taken are the distances 0 .. nmax - 1, nmax the longest window of the
 * rows (attend_keep trims each row's own); a row whose trimmed window is
 * shorter takes the keys it left out as well: they are in core's window,
 * and their weight is 0 (the trim's proof), so its result is core's. The
 * slots go group of 4 by group of 4 (the value layout's unit), each group
 * once, in any order (every sum is of integers):
 *   pass 1 (l16_p1): s = vpdpbusd(k + 128, q) - 128 sum q = q . k lane by
 *     lane, z = clamp(rq(s)) - slope dist; slots of a visited group outside
 *     the window get L16_NEG in every lane; the maximum per lane;
 *   pass 2 (attend_avx512.h): e = exp2q15(zmax_r - z) two keys per lookup,
 *     E_r, and e split into bytes as the AMX rows16 kernel splits them: per
 *     group one dword of the four keys' low bytes and one of their high
 *     bytes per lane;
 *   pass 3 (l16_vsum_out): acc_r,d = sum vpdpbusd(lo, v) + 256 sum
 *     vpdpbusd(hi, v), v the group's four values of dimension d in lane r,
 *     then core's division per row.
 * docs/integer-model.md, "Decode with the streams in the lanes". */
#define L16_NEG (-(1 << 30))

typedef struct l16_blk {
    __m512i qb[4], qsum, oidx; /* oidx: each lane's output offset from o0 */
    __mmask16 lanes;           /* the lanes with a row */
    int8_t *o0;
    const int8_t *lk, *lv;
    uint32_t cap, dh, ps, nmax, g0, ngrp;
    __m512i *zb; /* z of the visited groups' slots, 4 per group */
    __m512i *eb; /* the weights' low and high bytes, 2 per group */
} l16_blk;

/* attend_keep's num = zub - zself + 4096 + slope - 1 for each lane's row
 * (forward_impl.h): zself = the logit of the row's own key (distance 0: the
 * copy's slot ps, as pass 1 scores it), zub = the logit of 127 |q|_1
 * (|q|_1 by vpdpbusd of |q| against bytes of 1); both requantised as pass
 * 1 does (127 |q|_1 <= 127 * 127 * dh is within the mode's bound, as a score
 * is), and 0 <= zub - zself < 2^25 */
static inline __attribute__((always_inline)) __m512i l16_num(const l16_blk *b, int32_t am, int32_t as, int32_t slope,
                                                             const int MODE)
{
    const __m512i m64 = _mm512_set1_epi64(am);
    const __m512i rnd = MODE == RQ_HI ? _mm512_set1_epi32(1 << (as - 33)) : _mm512_set1_epi64((int64_t)1 << (as - 1));
    const __m128i sh = _mm_cvtsi32_si128(MODE == RQ_HI ? as - 32 : as);
    const int8_t *kp = b->lk + (size_t)b->ps * 64;
    __m512i dot = _mm512_sub_epi32(_mm512_setzero_si512(), b->qsum), l1 = _mm512_setzero_si512(), zself, zub;
    uint32_t dg;
    for (dg = 0; dg < b->dh / 4; dg++) {
        dot = dpbusd(dot, _mm512_load_si512(kp + (size_t)dg * b->cap * 64), b->qb[dg]);
        l1 = dpbusd(l1, _mm512_abs_epi8(b->qb[dg]), _mm512_set1_epi8(1));
    }
    zself = rq16_mode(dot, MODE, m64, rnd, sh);
    zub = rq16_mode(_mm512_sub_epi32(_mm512_slli_epi32(l1, 7), l1), MODE, m64, rnd, sh);
    return _mm512_add_epi32(_mm512_sub_epi32(zub, zself), _mm512_set1_epi32(4096 + slope - 1));
}

/* the lanes' queries (row r in lane lane[r]; 0 in the others, whose
 * results are never stored) by gathers at each row's offset from row 0's,
 * 128 sum q (vpdpbusd of 128 against q), the rows' output offsets, and the
 * groups of the window */
static void l16_setup(const ozf_att_job *j, const uint32_t *lane, uint32_t nr, uint32_t ps, const int8_t *lk,
                      const int8_t *lv, ozf_scratch *scr, l16_blk *b)
{
    int32_t qo[16], oo[16];
    uint32_t r, d, cap = j[0].cap, dh = j[0].dh, oldest, cnt, ng = cap / 4;
    __mmask16 m = 0;
    b->nmax = 0;
    memset(qo, 0, sizeof qo);
    memset(oo, 0, sizeof oo);
    for (r = 0; r < nr; r++) {
        uint32_t L = lane[r] & 15;
        m |= (__mmask16)(1u << L);
        qo[L] = (int32_t)(j[r].q - j[0].q); /* rows of one scratch */
        oo[L] = (int32_t)(j[r].o - j[0].o);
        b->nmax = j[r].n > b->nmax ? j[r].n : b->nmax;
    }
    b->lanes = m;
    b->oidx = _mm512_loadu_si512(oo);
    b->o0 = j[0].o;
    b->qsum = _mm512_setzero_si512();
    for (d = 0; d < 4; d++) {
        b->qb[d] = d < dh / 4 ? _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, _mm512_loadu_si512(qo), j[0].q + 4 * d, 1)
                              : _mm512_setzero_si512();
        b->qsum = dpbusd(b->qsum, _mm512_set1_epi8((char)0x80), b->qb[d]);
    }
    b->lk = lk, b->lv = lv, b->cap = cap, b->dh = dh, b->ps = ps;
    if (j[0].rcp) {
        /* the window trimmed as attend_keep trims it, for all rows at once:
         * the rows take nmax keys, the longest of their trimmed windows,
         * and keep(num) is non-decreasing in num (floor(num rcp / 2^32)
         * below n slope, n from there on, and the first is <= n), so nmax
         * = keep(the largest num); n = b->nmax is every row's whole window */
        int32_t am = j[0].am, as = j[0].as, slope = j[0].slope;
        int mode = rq_mode(dh, am, as);
        __m512i num = mode == RQ_HI        ? l16_num(b, am, as, slope, RQ_HI)
                      : mode == RQ_NOCLAMP ? l16_num(b, am, as, slope, RQ_NOCLAMP)
                      : mode == RQ_NARROW  ? l16_num(b, am, as, slope, RQ_NARROW)
                                           : l16_num(b, am, as, slope, RQ_WIDE);
        uint32_t numax = _mm512_mask_reduce_max_epu32(m, num), n = b->nmax;
        uint32_t keep = (uint64_t)numax >= (uint64_t)n * (uint32_t)slope ? n : (uint32_t)(((uint64_t)numax * j[0].rcp) >> 32);
        scr->trimmed += (uint64_t)nr * (n - keep);
        b->nmax = keep;
    }
    /* the groups from the oldest key's to the newest's, or all of them */
    oldest = (ps + cap - (b->nmax - 1)) % cap;
    cnt = (oldest % 4 + b->nmax - 1) / 4 + 1;
    b->g0 = cnt >= ng ? 0 : oldest / 4;
    b->ngrp = cnt >= ng ? ng : cnt;
    b->zb = (__m512i *)(void *)scr->ew;
    b->eb = (__m512i *)(void *)(scr->ew + 64 * (size_t)scr->ew_ld);
}

/* pass 1 (see above): z of the visited groups' slots into zb; returns the
 * maximum per lane */
static inline __attribute__((always_inline)) __m512i l16_p1(const l16_blk *b, int32_t am, int32_t as, int32_t slope,
                                                            const uint32_t NDG, const int MODE)
{
    const __m512i m64 = _mm512_set1_epi64(am);
    const __m512i rnd = MODE == RQ_HI ? _mm512_set1_epi32(1 << (as - 33)) : _mm512_set1_epi64((int64_t)1 << (as - 1));
    const __m128i sh = _mm_cvtsi32_si128(MODE == RQ_HI ? as - 32 : as);
    const __m512i neg = _mm512_set1_epi32(L16_NEG);
    const __m512i nqs = _mm512_sub_epi32(_mm512_setzero_si512(), b->qsum);
    __m512i vmax = neg;
    uint32_t i, k, cap = b->cap, ng = cap / 4, g = b->g0;
    uint32_t d0 = (b->ps + cap - 4 * g) % cap; /* the distance of the group's first slot */
    for (i = 0; i < b->ngrp; i++) {
        for (k = 0; k < 4; k++) {
            uint32_t slot = 4 * g + k, dist = d0 >= k ? d0 - k : d0 + cap - k, dg;
            const int8_t *kp = b->lk + (size_t)slot * 64;
            __m512i s0 = nqs, s1 = _mm512_setzero_si512(), z;
            if (dist >= b->nmax) {
                b->zb[4 * i + k] = neg;
                continue;
            }
            for (dg = 0; dg < NDG; dg++) {
                __m512i kv = _mm512_load_si512(kp + (size_t)dg * cap * 64);
                if (dg & 1)
                    s1 = dpbusd(s1, kv, b->qb[dg]);
                else
                    s0 = dpbusd(s0, kv, b->qb[dg]);
            }
            /* -128 sum q + sum (k + 128) q = q . k */
            s0 = _mm512_add_epi32(s0, s1);
            z = _mm512_sub_epi32(rq16_mode(s0, MODE, m64, rnd, sh), _mm512_set1_epi32(slope * (int32_t)dist));
            vmax = _mm512_max_epi32(vmax, z);
            b->zb[4 * i + k] = z;
        }
        if (++g == ng)
            g = 0;
        d0 = d0 >= 4 ? d0 - 4 : d0 + cap - 4;
    }
    return vmax;
}
/* l16_p1 with the head width (4 to 16) and the requantisation as constants */
static __m512i l16_p1_any(const l16_blk *b, int32_t am, int32_t as, int32_t slope)
{
    int mode = rq_mode(b->dh, am, as);
#define L16_P1(NDG)                                                                                                    \
    (mode == RQ_HI        ? l16_p1(b, am, as, slope, NDG, RQ_HI)                                                     \
     : mode == RQ_NOCLAMP ? l16_p1(b, am, as, slope, NDG, RQ_NOCLAMP)                                                \
     : mode == RQ_NARROW  ? l16_p1(b, am, as, slope, NDG, RQ_NARROW)                                                 \
                          : l16_p1(b, am, as, slope, NDG, RQ_WIDE))
    switch (b->dh / 4) {
    case 1: return L16_P1(1);
    case 2: return L16_P1(2);
    case 3: return L16_P1(3);
    default: return L16_P1(4);
    }
#undef L16_P1
}

/* the value sums of ND (4 or 8) dimensions from db, the division, and the
 * outputs: dimensions db + 4i .. db + 4i + 3 of each lane's row as one dword,
 * scattered to the rows' outputs */
static inline __attribute__((always_inline)) void l16_vsum_dims(const l16_blk *b, uint32_t db, const __m512i R[2],
                                                                const uint32_t ND)
{
    __m512i lo[8], hi[8], w = _mm512_setzero_si512();
    uint32_t i, d, ng = b->cap / 4, g = b->g0;
    for (d = 0; d < ND; d++)
        lo[d] = hi[d] = _mm512_setzero_si512();
    for (i = 0; i < b->ngrp; i++) {
        __m512i el = b->eb[2 * i], eh = b->eb[2 * i + 1];
        if (_mm512_test_epi32_mask(_mm512_or_si512(el, eh), _mm512_set1_epi32(-1))) { /* else every e is 0 */
            const int8_t *vp = b->lv + ((size_t)g * b->dh + db) * 64;
            for (d = 0; d < ND; d++) {
                __m512i v = _mm512_load_si512(vp + 64 * d);
                lo[d] = dpbusd(lo[d], el, v);
                hi[d] = dpbusd(hi[d], eh, v);
            }
        }
        if (++g == ng)
            g = 0;
    }
    for (d = 0; d < ND; d++) {
        /* acc = lo + 256 hi, wrapping (the true sum fits); then oz_att_out */
        __m512i acc = _mm512_add_epi32(lo[d], _mm512_slli_epi32(hi[d], 8)), x0, x1, o;
        x0 = _mm512_mullo_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc)), R[0]);
        x1 = _mm512_mullo_epi64(_mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(acc, 1)), R[1]);
        x0 = _mm512_srai_epi64(_mm512_add_epi64(x0, _mm512_set1_epi64((int64_t)1 << 45)), 46);
        x1 = _mm512_srai_epi64(_mm512_add_epi64(x1, _mm512_set1_epi64((int64_t)1 << 45)), 46);
        x0 = _mm512_min_epi64(_mm512_max_epi64(x0, _mm512_set1_epi64(-OZ_ACT_MAX)), _mm512_set1_epi64(OZ_ACT_MAX));
        x1 = _mm512_min_epi64(_mm512_max_epi64(x1, _mm512_set1_epi64(-OZ_ACT_MAX)), _mm512_set1_epi64(OZ_ACT_MAX));
        o = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(x0)), _mm512_cvtepi64_epi32(x1), 1);
        /* byte d % 4 of the lane's dword */
        w = _mm512_or_si512(w, _mm512_slli_epi32(_mm512_and_si512(o, _mm512_set1_epi32(255)), 8 * (d % 4)));
        if (d % 4 == 3) {
            _mm512_mask_i32scatter_epi32(b->o0 + db + d - 3, b->lanes, b->oidx, w, 1);
            w = _mm512_setzero_si512();
        }
    }
}

/* pass 3 and core's division: o_r,d = oz_att_out(acc_r,d, oz_att_recip(E_r))
 * for the rows (E per lane) */
static void l16_vsum_out(const uint32_t *lane, uint32_t nr, const l16_blk *b, const int32_t *E)
{
    int64_t Rs[16];
    __m512i R[2];
    uint32_t r, db;
    memset(Rs, 0, sizeof Rs);
    for (r = 0; r < nr; r++)
        Rs[lane[r] & 15] = oz_att_recip((uint32_t)E[lane[r] & 15]);
    R[0] = _mm512_loadu_si512(Rs), R[1] = _mm512_loadu_si512(Rs + 8);
    for (db = 0; db < b->dh; db += 8) {
        if (b->dh - db >= 8)
            l16_vsum_dims(b, db, R, 8);
        else
            l16_vsum_dims(b, db, R, 4);
    }
}

#define OZF_ATT_NAME attend
#define OZF_ATT_TABLE ozf_exp2_u16
#define OZF_ATT_EXP2 exp2_t16
#include "attend_avx512.h"
#undef OZF_ATT_NAME
#undef OZF_ATT_TABLE
#undef OZF_ATT_EXP2

/* The VBMI variant: everything from here to pop_options is compiled for
 * AVX-512 VBMI as well, and runs only where the CPU has it (ozf_model.vbmi). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512vbmi"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512vbmi")
#endif
/* core's table as bytes: the low bytes of the 256 entries, then the high */
extern uint8_t ozf_exp2_b8[512];

/* exp2q15 of 32 values t (uint16), as exp2_t16, by byte lookups: the low
 * byte of t indexes two 256-byte tables (the low and the high bytes of the
 * entries), each two vpermt2b over 128 entries and a blend on bit 7 of the
 * index; the high bytes are moved up and merged into the words. */
static inline __m512i exp2_t16_vbmi(__m512i t, const __m512i *T)
{
    __m512i sh = _mm512_min_epu16(_mm512_srli_epi16(t, 8), _mm512_set1_epi16(16));
    /* bit 7 of each word's low byte (the high bytes test 0: their lookups are discarded) */
    __mmask64 b7 = _mm512_test_epi8_mask(t, _mm512_set1_epi16(0x0080));
    __m512i lo = _mm512_mask_blend_epi8(b7, _mm512_permutex2var_epi8(T[0], t, T[1]), _mm512_permutex2var_epi8(T[2], t, T[3]));
    __m512i hi = _mm512_mask_blend_epi8(b7, _mm512_permutex2var_epi8(T[4], t, T[5]), _mm512_permutex2var_epi8(T[6], t, T[7]));
    __m512i v = _mm512_mask_blend_epi8((__mmask64)0xAAAAAAAAAAAAAAAAull, lo, _mm512_slli_epi16(hi, 8));
    return _mm512_srlv_epi16(v, sh); /* shift counts of 16 give 0, as oz_exp2q15 does from t = 4096 */
}

#define OZF_ATT_NAME attend_vbmi
#define OZF_ATT_TABLE ozf_exp2_b8
#define OZF_ATT_EXP2 exp2_t16_vbmi
#include "attend_avx512.h"
#undef OZF_ATT_NAME
#undef OZF_ATT_TABLE
#undef OZF_ATT_EXP2
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

/* forward_impl.h calls the variant the model was prepared for */
#define OZF_ATTEND_FOR(fm) ((fm)->vbmi ? attend_vbmi : attend)
#define OZF_GEMM_FOR(fm) ((fm)->amx ? gemm_amx_in : gemm)
/* forward loads the tile configuration for passes of 16 rows or more */
#define OZF_AMX_BEGIN(fm, nrows) ((fm)->amx && (nrows) >= 16)
#define OZF_AMX_BEGIN_FN amx_begin
#define OZF_AMX_END_FN amx_end
#define OZF_ATTEND2_FOR(fm) ((fm)->vbmi ? attend_vbmi2 : attend2)
/* 16 rows of encode with the value sums on AMX (forward_impl.h, attend_all) */
#define OZF_ATTEND16_OK(fm, s, dh) ((dh) == 16 && (s)->ew)
#define OZF_ATTEND16_FOR(fm)                                                                                           \
    ((fm)->amx ? ((fm)->vbmi ? attend_vbmi_rows16_amx : attend_rows16_amx) : ((fm)->vbmi ? attend_vbmi_rows16 : attend_rows16))
/* decode's rows of up to 16 streams at one position in the lanes (forward_impl.h, attend_all) */
#define OZF_LANES 16
/* the lanes kernel takes every head and any number of rows from 1 (a
 * pass costs about the same for 1 row as for 16, but a copy's rows fall
 * below 16 only where a batch's streams leave it early): decode's joined
 * rings are read through their copies only, and not written
 * (forward_impl.h, lanes_only) */
#define OZF_LANES_ALL 1
#define OZF_ATTEND_LANES_OK(fm, s, dh) ((dh) % 4 == 0 && (dh) <= 16 && (s)->ew)
#define OZF_ATTEND_LANES_FOR(fm) ((fm)->vbmi ? attend_vbmi_lanes16 : attend_lanes16)

/* 1 + floor(e R / 2^32) of 16 lanes e <= 2^15 (R = 2^32 rhi + rlo: e rhi
 * 2^32 is a multiple of 2^32; e rlo < 2^47 by vpmuludq) */
static inline __m512i freq16(__m512i e, __m512i rhi, __m512i rlo)
{
    __m512i pe = _mm512_srli_epi64(_mm512_mul_epu32(e, rlo), 32);
    __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(e, 32), rlo);
    return _mm512_add_epi32(_mm512_add_epi32(_mm512_set1_epi32(1), _mm512_mullo_epi32(e, rhi)),
                            _mm512_mask_blend_epi32(0xAAAA, pe, po));
}

/* oz_freq_cum's frequencies with 16 lanes (docs/integer-model.md,
 * "Frequencies"): f[s / 16] lane s % 16 = the frequency of symbol s, the
 * rest of 2^20 included. e_s * R / 2^32 with R < 2^37 is computed as
 * e_s * Rhi + (e_s * Rlo) / 2^32 (R = Rhi 2^32 + Rlo), exact because
 * e_s * Rhi * 2^32 is a multiple of 2^32. */
static inline __attribute__((always_inline)) void freq_vecs(const int32_t *z, __m512i f[16])
{
    __m512i T[8], vmax = _mm512_set1_epi32(INT32_MIN), vE = _mm512_setzero_si512(), vz;
    uint16_t e[256];
    uint32_t s, best = 256, sum;
    int32_t zmax;
    uint64_t E, R;
    for (s = 0; s < 8; s++)
        T[s] = _mm512_loadu_si512(ozf_exp2_u16 + 32 * s);
    for (s = 0; s < 256; s += 16)
        vmax = _mm512_max_epi32(vmax, _mm512_loadu_si512(z + s));
    zmax = _mm512_reduce_max_epi32(vmax);
    vz = _mm512_set1_epi32(zmax);
    for (s = 0; s < 256 && best == 256; s += 16) {
        __mmask16 m = _mm512_cmpeq_epi32_mask(_mm512_loadu_si512(z + s), vz);
        if (m)
            best = s + (uint32_t)__builtin_ctz((unsigned)m);
    }
    for (s = 0; s < 256; s += 32) {
        __m512i ev = exp2_32(_mm512_sub_epi32(vz, _mm512_loadu_si512(z + s)),
                             _mm512_sub_epi32(vz, _mm512_loadu_si512(z + s + 16)), T);
        _mm512_storeu_si512(e + s, ev);
        vE = _mm512_add_epi32(vE, _mm512_add_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(ev)),
                                                   _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(ev, 1))));
    }
    E = (uint64_t)(uint32_t)_mm512_reduce_add_epi32(vE);
    R = ((((uint64_t)1 << OZ_PROB_BITS) - 256) << 32) / E;
    {
        const __m512i rhi = _mm512_set1_epi32((int32_t)(R >> 32)), rlo = _mm512_set1_epi64((int64_t)(uint32_t)R);
        __m512i vs = _mm512_setzero_si512();
        for (s = 0; s < 16; s++) {
            f[s] = freq16(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(e + 16 * s))), rhi, rlo);
            vs = _mm512_add_epi32(vs, f[s]);
        }
        sum = (uint32_t)_mm512_reduce_add_epi32(vs);
    }
    /* the rest of 2^20 to the first most likely byte */
    f[best / 16] = _mm512_mask_add_epi32(f[best / 16], (__mmask16)(1u << (best % 16)), f[best / 16],
                                         _mm512_set1_epi32((int32_t)(((uint32_t)1 << OZ_PROB_BITS) - sum)));
}

/* the running sums of a vector's 16 lanes (shifts by 1, 2, 4, 8 lanes) */
static inline __m512i prefix16(__m512i v)
{
    const __m512i i16 = iota16();
    v = _mm512_add_epi32(v, _mm512_maskz_permutexvar_epi32(0xFFFE, _mm512_sub_epi32(i16, _mm512_set1_epi32(1)), v));
    v = _mm512_add_epi32(v, _mm512_maskz_permutexvar_epi32(0xFFFC, _mm512_sub_epi32(i16, _mm512_set1_epi32(2)), v));
    v = _mm512_add_epi32(v, _mm512_maskz_permutexvar_epi32(0xFFF0, _mm512_sub_epi32(i16, _mm512_set1_epi32(4)), v));
    return _mm512_add_epi32(v, _mm512_maskz_permutexvar_epi32(0xFF00, _mm512_sub_epi32(i16, _mm512_set1_epi32(8)), v));
}

/* the running sums of lanes 0..7 (shifts by 1, 2, 4 lanes; lanes 8..15
 * left with partial sums) */
static inline __m512i prefix8(__m512i v)
{
    const __m512i i16 = iota16();
    v = _mm512_add_epi32(v, _mm512_maskz_permutexvar_epi32(0xFFFE, _mm512_sub_epi32(i16, _mm512_set1_epi32(1)), v));
    v = _mm512_add_epi32(v, _mm512_maskz_permutexvar_epi32(0xFFFC, _mm512_sub_epi32(i16, _mm512_set1_epi32(2)), v));
    return _mm512_add_epi32(v, _mm512_maskz_permutexvar_epi32(0xFFF0, _mm512_sub_epi32(i16, _mm512_set1_epi32(4)), v));
}

/* oz_freq_cum: the frequencies, then the running sum: each block of 16
 * summed within its lanes (independent of the other blocks), then the
 * blocks' carries added in order, the carry kept in a register (lane 15
 * broadcast) */
static void freq_cum(const int32_t *z, uint32_t *cum)
{
    const __m512i last = _mm512_set1_epi32(15);
    __m512i f[16], carry = _mm512_setzero_si512();
    uint32_t s;
    freq_vecs(z, f);
    for (s = 0; s < 16; s++)
        f[s] = prefix16(f[s]);
    cum[0] = 0;
    for (s = 0; s < 16; s++) {
        __m512i v = _mm512_add_epi32(f[s], carry);
        _mm512_storeu_si512(cum + 1 + 16 * s, v);
        carry = _mm512_permutexvar_epi32(last, v);
    }
}

/* ---- decoding's and encoding's question without the whole table
 * (docs/integer-model.md, "Frequencies by blocks of 32") ----
 * The 256 symbols in 8 blocks of 32. Pass 1: zmax, e_s (32 per vector, as
 * uint16 in the order vpackusdw leaves them: a block's sum does not depend on
 * the order), best (the first s with e_s = 2^15, i.e. z_s = zmax), E. Pass 2:
 * each block's total of f_s = 1 + floor(e_s R / 2^32) without multiplying
 * 64-bit: with R = r2 2^32 + r1 2^16 + r0 (r2 < 32, r1, r0 < 2^16),
 *   floor(e R / 2^32) = e r2 + hi(e r1) + c,  c = (lo(e r1) + hi(e r0)) >> 16,
 * hi and lo the 16-bit halves of the 32-bit products (vpmulhuw, vpmullw);
 * c in {0, 1} is the carry of the 16-bit sum. e r2 and hi(e r1) + c are
 * summed per block by vpdpwssd on e - 2^15 and m - 2^15 (int16), whose
 * 2^15 offsets come back in one constant per block. The running sums of the
 * totals with the rest of 2^20 at best's block find the block; the exact f
 * of that block alone (freq16, as freq_vecs) its 33 cumulative values. */
typedef struct fq_blocks {
    __m512i cum; /* lanes 0..7: cum[32 (i + 1)], the rest included */
    uint64_t R;
    uint32_t best, rest;
} fq_blocks;

/* The passes are inlined into their callers (freq_find, freq_sym: over
 * many rows, each pass for every row before the next pass, so that the
 * rows' long chains of latency (the maximum, the reduction of E, the
 * division, the running sums) overlap each other: one row's chain alone
 * left the vector units idle most of the time). Pass 1 of a row: zmax,
 * the blocks' e into P[0..7] (kept for the exact frequencies of the block
 * found), best, and E - 256 2^15 (*esum, the 2^15 offsets not yet added
 * back). */
static inline __attribute__((always_inline)) void fq_pass1(const int32_t *z, const __m512i *T, __m512i *P,
                                                           uint32_t *best_out, uint32_t *esum)
{
    const __m512i flip = _mm512_set1_epi16((short)0x8000), ones = _mm512_set1_epi16(1);
    __m512i vz, vE = _mm512_setzero_si512(), vE1 = _mm512_setzero_si512(), m0, m1, m2, m3;
    uint32_t i, best, mk[8], any = 0;
    m0 = _mm512_max_epi32(_mm512_loadu_si512(z), _mm512_loadu_si512(z + 16));
    m1 = _mm512_max_epi32(_mm512_loadu_si512(z + 32), _mm512_loadu_si512(z + 48));
    m2 = _mm512_max_epi32(_mm512_loadu_si512(z + 64), _mm512_loadu_si512(z + 80));
    m3 = _mm512_max_epi32(_mm512_loadu_si512(z + 96), _mm512_loadu_si512(z + 112));
    for (i = 128; i < 256; i += 64) {
        m0 = _mm512_max_epi32(m0, _mm512_loadu_si512(z + i));
        m1 = _mm512_max_epi32(m1, _mm512_loadu_si512(z + i + 16));
        m2 = _mm512_max_epi32(m2, _mm512_loadu_si512(z + i + 32));
        m3 = _mm512_max_epi32(m3, _mm512_loadu_si512(z + i + 48));
    }
    vz = _mm512_set1_epi32(_mm512_reduce_max_epi32(_mm512_max_epi32(_mm512_max_epi32(m0, m1), _mm512_max_epi32(m2, m3))));
    /* unrolled, so that the 8 blocks' e stay in registers; best's block
     * (the first with a t = 0) and its position are found after the loop
     * from the blocks' masks; E in two sums (even and odd blocks) */
#pragma GCC unroll 8
    for (i = 0; i < 8; i++) {
        /* t = zmax - z >= 0 saturated to uint16 (t >= 4096 stays >= 4096):
         * 128-bit lane L holds symbols 32i + 4L .. 4L + 3, then 32i + 16 + 4L .. 4L + 3 */
        __m512i t = _mm512_packus_epi32(_mm512_sub_epi32(vz, _mm512_loadu_si512(z + 32 * i)),
                                        _mm512_sub_epi32(vz, _mm512_loadu_si512(z + 32 * i + 16)));
        mk[i] = (uint32_t)_mm512_cmpeq_epi16_mask(t, _mm512_setzero_si512());
        any |= (mk[i] != 0) << i;
        P[i] = exp2_t16(t, T);
        if (i & 1)
            vE1 = dpwssd(vE1, _mm512_xor_si512(P[i], flip), ones); /* e - 2^15, in pairs */
        else
            vE = dpwssd(vE, _mm512_xor_si512(P[i], flip), ones);
    }
    {
        /* word j = 8L + w of block i: symbol 32i + 4L + w (w < 4), 32i + 16 +
         * 4L + w - 4 (w >= 4); the first of the low group, else of the high
         * group (any != 0: some z is zmax) */
        uint32_t bi = (uint32_t)__builtin_ctz(any), m = mk[bi], jl, jh;
        jl = (uint32_t)__builtin_ctzll((uint64_t)(m & 0x0F0F0F0Fu) | (1ull << 32));
        jh = (uint32_t)__builtin_ctzll((uint64_t)(m & 0xF0F0F0F0u) | (1ull << 32));
        best = jl < 32 ? 32 * bi + 4 * (jl >> 3) + (jl & 7) : 32 * bi + 12 + 4 * (jh >> 3) + (jh & 7);
    }
    *best_out = best;
    *esum = (uint32_t)_mm512_reduce_add_epi32(_mm512_add_epi32(vE, vE1));
}

/* Pass 2 of a row: R, each block's total of f, their running sums with the
 * rest at best's block (bk->cum) */
static inline __attribute__((always_inline)) void fq_pass2(const __m512i *P, uint32_t best, uint32_t esum, fq_blocks *bk)
{
    const __m512i flip = _mm512_set1_epi16((short)0x8000), ones = _mm512_set1_epi16(1);
    __m512i C[8], s2[4], t4[2], x, y, restv;
    uint32_t i, r2;
    uint64_t R;
    R = oz_freq_recip((uint64_t)(uint32_t)(esum + (1 << 23))); /* + 256 2^15 */
    r2 = (uint32_t)(R >> 32);
    {
        const __m512i vr1 = _mm512_set1_epi16((short)(R >> 16)), vr0 = _mm512_set1_epi16((short)R);
        const __m512i vr2 = _mm512_set1_epi16((short)r2);
        for (i = 0; i < 8; i++) {
            __m512i h1 = _mm512_mulhi_epu16(P[i], vr1), l1 = _mm512_mullo_epi16(P[i], vr1);
            __m512i s = _mm512_add_epi16(l1, _mm512_mulhi_epu16(P[i], vr0));
            /* m = hi(e r1) + c <= 2^15 */
            __m512i m = _mm512_mask_sub_epi16(h1, _mm512_cmplt_epu16_mask(s, l1), h1, _mm512_set1_epi16(-1));
            C[i] = dpwssd(dpwssd(_mm512_setzero_si512(), _mm512_xor_si512(P[i], flip), vr2),
                                       _mm512_xor_si512(m, flip), ones);
        }
    }
    /* the 8 blocks' sums: pairs of blocks interleaved, then fours, then
     * across the 128-bit lanes (as freq_find's block totals) */
    for (i = 0; i < 4; i++)
        s2[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(C[2 * i], C[2 * i + 1]), _mm512_unpackhi_epi32(C[2 * i], C[2 * i + 1]));
    for (i = 0; i < 2; i++)
        t4[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(s2[2 * i], s2[2 * i + 1]), _mm512_unpackhi_epi64(s2[2 * i], s2[2 * i + 1]));
    x = _mm512_add_epi32(_mm512_shuffle_i32x4(t4[0], t4[1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_i32x4(t4[0], t4[1], _MM_SHUFFLE(3, 2, 3, 2)));
    y = _mm512_add_epi32(x, _mm512_shuffle_i32x4(x, x, _MM_SHUFFLE(2, 3, 0, 1))); /* blocks 0..3 in lanes 0..3, 4..7 in 8..11 */
    /* each block's f: the sums above + 32 (the ones) + 32 2^15 r2 + 32 2^15
     * (the offsets of e and m); wrapping adds of a true total < 2^21 */
    y = _mm512_maskz_add_epi32(0xFF, _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 1, 2, 3, 8, 9, 10, 11, 0, 0, 0, 0, 0, 0, 0, 0), y),
                               _mm512_set1_epi32((int32_t)(32 + ((r2 + 1) << 20))));
    y = prefix8(y); /* lane 7: the sum of all f, <= 2^20 (lanes 8..15 unused) */
    restv = _mm512_sub_epi32(_mm512_set1_epi32(1 << OZ_PROB_BITS), _mm512_permutexvar_epi32(_mm512_set1_epi32(7), y));
    y = _mm512_mask_add_epi32(y, (__mmask16)(0xFFFFu << (best / 32)), y, restv);
    bk->cum = y;
    bk->R = R;
    bk->best = best;
    bk->rest = (uint32_t)_mm_cvtsi128_si32(_mm512_castsi512_si128(restv));
}

static inline __attribute__((always_inline)) void fq_tables(__m512i *T)
{
    int i;
    for (i = 0; i < 8; i++)
        T[i] = _mm512_loadu_si512(ozf_exp2_u16 + 32 * i);
}

/* cum[32 b + j], j = 0..32: block b's exact frequencies, the rest at best.
 * P is block b's e as pass 1 left them (the vpackusdw order: word 8L + w
 * holds symbol 4L + w for w < 4, 16 + 4L + w - 4 for w >= 4); one vpermw
 * puts symbol 2l in the low half of 32-bit lane l and 2l + 1 in the high
 * half, so that the pairs' sums need one running sum of 16 lanes:
 * *base = cum[32 b], (*od)[l] = cum[32 b + 2l + 1], (*ev)[l] = cum[32 b +
 * 2l + 2]. */
static inline __attribute__((always_inline)) void fq_block_cum(__m512i P, const fq_blocks *bk, uint32_t b,
                                                               uint32_t *base_out, __m512i *od_out, __m512i *ev_out)
{
    static const uint16_t pair[32] __attribute__((aligned(64))) = {0, 1,  2,  3,  8,  9,  10, 11, 16, 17, 18,
                                                                    19, 24, 25, 26, 27, 4,  5,  6,  7,  12, 13,
                                                                    14, 15, 20, 21, 22, 23, 28, 29, 30, 31};
    const __m512i c65535 = _mm512_set1_epi32(65535), rhi = _mm512_set1_epi32((int32_t)(bk->R >> 32));
    const __m512i rlo = _mm512_set1_epi64((int64_t)(uint32_t)bk->R);
    __m512i e, f0, f1, ev;
    uint32_t base = b ? (uint32_t)_mm_cvtsi128_si32(_mm512_castsi512_si128(
                            _mm512_permutexvar_epi32(_mm512_set1_epi32((int32_t)b - 1), bk->cum)))
                      : 0;
    e = _mm512_permutexvar_epi16(_mm512_load_si512(pair), P);
    f0 = freq16(_mm512_and_si512(e, c65535), rhi, rlo); /* symbols 32 b + 2l */
    f1 = freq16(_mm512_srli_epi32(e, 16), rhi, rlo);    /* symbols 32 b + 2l + 1 */
    if (bk->best / 32 == b) {
        uint32_t j = bk->best % 32;
        __mmask16 lm = (__mmask16)(1u << (j / 2));
        if (j & 1)
            f1 = _mm512_mask_add_epi32(f1, lm, f1, _mm512_set1_epi32((int32_t)bk->rest));
        else
            f0 = _mm512_mask_add_epi32(f0, lm, f0, _mm512_set1_epi32((int32_t)bk->rest));
    }
    ev = _mm512_add_epi32(prefix16(_mm512_add_epi32(f0, f1)), _mm512_set1_epi32((int32_t)base));
    *base_out = base;
    *od_out = _mm512_sub_epi32(ev, f1);
    *ev_out = ev;
}

/* cum[32 b + j] for 1 <= j <= 32 from fq_block_cum's od, ev: j odd in od's
 * lane (j - 1) / 2, j even in ev's lane j / 2 - 1 */
static inline uint32_t fq_lane(__m512i od, __m512i ev, uint32_t j)
{
    int32_t i = (int32_t)((((j - 1) & 1) << 4) | ((j - 1) >> 1));
    return (uint32_t)_mm_cvtsi128_si32(_mm512_castsi512_si128(_mm512_permutex2var_epi32(od, _mm512_set1_epi32(i), ev)));
}

/* decoding's question for nrows rows (z rows 256 apart): the symbol s
 * with cum[s] <= slot < cum[s + 1] of oz_freq_cum (slot < 2^20), start =
 * cum[s], freq = cum[s + 1] - cum[s]. Every f >= 1, so cum is strictly
 * increasing: the block is the count of block ends <= slot (the last is
 * 2^20 > slot), the symbol within it the count of its cumulative values <=
 * slot. Up to 16 rows at a time, pass by pass (fq_pass1). */
#define FQ_ROWS 16

/* passes 1 and 2 for n <= FQ_ROWS rows: each pass for every row before the
 * next pass */
static inline __attribute__((always_inline)) void fq_rows(const int32_t *z, uint32_t n, const __m512i *T,
                                                          __m512i (*P)[8], fq_blocks *bk)
{
    uint32_t best[FQ_ROWS], esum[FQ_ROWS], r;
    for (r = 0; r < n; r++)
        fq_pass1(z + (size_t)r * 256, T, P[r], &best[r], &esum[r]);
    for (r = 0; r < n; r++)
        fq_pass2(P[r], best[r], esum[r], &bk[r]);
}

static void freq_find(const int32_t *z, uint32_t nrows, const uint32_t *slot, uint32_t *sym, uint32_t *start,
                      uint32_t *freq)
{
    __m512i T[8], P[FQ_ROWS][8];
    fq_blocks bk[FQ_ROWS];
    uint32_t r0, r, n;
    fq_tables(T);
    for (r0 = 0; r0 < nrows; r0 += n) {
        n = nrows - r0 < FQ_ROWS ? nrows - r0 : FQ_ROWS;
        fq_rows(z + (size_t)r0 * 256, n, T, P, bk);
        for (r = 0; r < n; r++) {
            const __m512i vslot = _mm512_set1_epi32((int32_t)slot[r0 + r]);
            uint32_t b = (uint32_t)__builtin_popcount(_mm512_mask_cmple_epu32_mask(0xFF, bk[r].cum, vslot)); /* <= 7 */
            uint32_t k, base, lo;
            __m512i od, ev;
            fq_block_cum(P[r][b], &bk[r], b, &base, &od, &ev);
            k = (uint32_t)__builtin_popcount(_mm512_cmple_epu32_mask(od, vslot)) +
                (uint32_t)__builtin_popcount(_mm512_cmple_epu32_mask(ev, vslot)); /* <= 31 */
            lo = k ? fq_lane(od, ev, k) : base;
            sym[r0 + r] = 32 * b + k;
            start[r0 + r] = lo;
            freq[r0 + r] = fq_lane(od, ev, k + 1) - lo;
        }
    }
}

/* encoding's question for nrows rows: sf[2 r] = cum[sym[r]], sf[2 r + 1]
 * = f[sym[r]] of oz_freq_cum of row r, pass by pass as freq_find */
static void freq_sym(const int32_t *z, uint32_t nrows, const uint8_t *sym, uint32_t *sf)
{
    __m512i T[8], P[FQ_ROWS][8];
    fq_blocks bk[FQ_ROWS];
    uint32_t r0, r, n;
    fq_tables(T);
    for (r0 = 0; r0 < nrows; r0 += n) {
        n = nrows - r0 < FQ_ROWS ? nrows - r0 : FQ_ROWS;
        fq_rows(z + (size_t)r0 * 256, n, T, P, bk);
        for (r = 0; r < n; r++) {
            uint32_t s = sym[r0 + r], j = s % 32, base, lo;
            __m512i od, ev;
            fq_block_cum(P[r][s / 32], &bk[r], s / 32, &base, &od, &ev);
            lo = j ? fq_lane(od, ev, j) : base;
            sf[2 * (r0 + r)] = lo;
            sf[2 * (r0 + r) + 1] = fq_lane(od, ev, j + 1) - lo;
        }
    }
}

/* ---- the layer glue in AVX-512 (used by forward_impl.h; the same
 * results as its portable forms) ---- */
#define OZF_HAVE_RING_PUT 1
#define OZF_HAVE_KEEP_STATS 1
#define OZF_HAVE_ACT 1

/* ring_put: for each head, the key's groups of 4 bytes go to their group
 * rows (4-byte stores); the value's byte d goes to byte 4 d + slot % 4 of
 * the slot group's Dh * 4 bytes: widened to 32-bit lanes, shifted left by
 * 8 (slot % 4) bits and stored under a byte mask. ksum = 128 x the key's sum. */
static void ring_put(ozf_ring *r, const oz_config *c, uint32_t l, uint32_t slot, const int8_t *k, const int8_t *v)
{
    uint32_t D = c->d_model, H = c->n_head, Dh = D / H, cap = r->cap, h, d, g;
    int8_t *K = r->k + (size_t)l * D * cap, *V = r->v + (size_t)l * D * cap;
    int32_t *ks = r->ksum + (size_t)l * H * cap;
    const __m128i sh = _mm_cvtsi32_si128((int)(8 * (slot % 4)));
    const __mmask64 lanes = 0x1111111111111111ull << (slot % 4);
    for (h = 0; h < H; h++) {
        int8_t *Kh = K + (size_t)h * Dh * cap + (size_t)slot * 4, *Vh = V + (size_t)h * Dh * cap + (size_t)(slot / 4) * Dh * 4;
        const int8_t *kh = k + h * Dh, *vh = v + h * Dh;
        __m512i sum = _mm512_setzero_si512();
        for (g = 0; g < Dh / 4; g++)
            memcpy(Kh + (size_t)g * cap * 4, kh + 4 * g, 4);
        for (d = 0; d < Dh; d += 16) {
            uint32_t nd = Dh - d < 16 ? Dh - d : 16; /* a multiple of 4 */
            __mmask16 m = (__mmask16)(((uint32_t)1 << nd) - 1);
            __mmask64 bm = nd == 16 ? lanes : lanes & (((uint64_t)1 << (4 * nd)) - 1);
            __m512i vv = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, vh + d));
            sum = _mm512_add_epi32(sum, _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, kh + d)));
            _mm512_mask_storeu_epi8(Vh + 4 * d, bm, _mm512_sll_epi32(vv, sh));
        }
        ks[(size_t)h * cap + slot] = 128 * _mm512_reduce_add_epi32(sum); /* |sum| <= 127 Dh */
    }
}

/* lanes_put_rows (forward_impl.h): the pass's keys and values into the
 * side-by-side copies of the rings that joined one. The rows of one copy at
 * one slot (consecutive rows: decode's passes) go together: for each head
 * and group of 4 dimensions, one gather takes the rows' 4 key bytes (xor
 * 0x80: k + 128) into their lanes and one store writes the slot's 64 bytes;
 * one gather takes the rows' 4 values, and for each of the 4 dimensions one
 * byte-masked store puts them at byte slot % 4 of their lanes' dwords. Lanes
 * without a row are left as they are. */
#define OZF_HAVE_LANES_PUT 1
static void lanes_put_rows(const oz_config *c, ozf_ring *const *rings, const uint32_t *slots, const int8_t *qkv,
                           uint32_t nrows, uint32_t l)
{
    uint32_t D = c->d_model, H = c->n_head, Dh = D / H, a0, a1, r, h, dg, i;
    for (a0 = 0; a0 < nrows; a0 = a1) {
        const ozf_lanes *b = rings[a0]->lb;
        int32_t idx[16];
        uint64_t bm = 0;
        __mmask16 m = 0;
        uint32_t slot = slots[a0], cap, n;
        size_t hs;
        __m512i vi;
        a1 = a0 + 1;
        if (!b)
            continue;
        cap = b->cap, n = b->n, hs = (size_t)Dh * cap * n;
        for (; a1 < nrows && a1 - a0 < 16 && rings[a1]->lb == b && slots[a1] == slot; a1++)
            ;
        memset(idx, 0, sizeof idx);
        for (r = a0; r < a1; r++) {
            uint32_t L = rings[r]->lane & 15;
            idx[L] = (int32_t)((r - a0) * 3 * D);
            m |= (__mmask16)(1u << L);
            bm |= (uint64_t)1 << (4 * L + slot % 4);
        }
        vi = _mm512_loadu_si512(idx);
        for (h = 0; h < H; h++) {
            const int8_t *kq = qkv + (size_t)a0 * 3 * D + D + h * Dh, *vq = kq + D;
            int8_t *Kl = b->k + ((size_t)l * H + h) * hs + (size_t)slot * n * 4;
            int8_t *Vl = b->v + ((size_t)l * H + h) * hs + (size_t)(slot / 4) * Dh * n * 4;
            for (dg = 0; dg < Dh / 4; dg++) {
                __m512i kk = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, vi, kq + 4 * dg, 1);
                __m512i vv = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, vi, vq + 4 * dg, 1);
                _mm512_mask_storeu_epi32(Kl + (size_t)dg * cap * n * 4, m, _mm512_xor_si512(kk, _mm512_set1_epi32((int)0x80808080)));
                for (i = 0; i < 4; i++) {
                    __m512i x = _mm512_and_si512(_mm512_srli_epi32(vv, 8 * i), _mm512_set1_epi32(255));
                    _mm512_mask_storeu_epi8(Vl + (size_t)(4 * dg + i) * n * 4, bm, _mm512_slli_epi32(x, 8 * (slot % 4)));
                }
            }
        }
    }
}

/* l1 = sum |q_d| and dot = q . k: int8 widened to int16, vpmaddwd pairs
 * (|products| <= 2^14, no saturation) */
static void keep_stats(const int8_t *q, const int8_t *k, uint32_t dh, int32_t *l1, int32_t *dot)
{
    __m512i a = _mm512_setzero_si512(), b = _mm512_setzero_si512();
    const __m512i one = _mm512_set1_epi16(1);
    uint32_t d;
    for (d = 0; d < dh; d += 32) {
        uint32_t nd = dh - d < 32 ? dh - d : 32;
        __mmask32 m = nd == 32 ? 0xFFFFFFFFu : (((uint32_t)1 << nd) - 1);
        __m512i qq = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, q + d));
        __m512i kk = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, k + d));
        a = _mm512_add_epi32(a, _mm512_madd_epi16(_mm512_abs_epi16(qq), one));
        b = _mm512_add_epi32(b, _mm512_madd_epi16(qq, kk));
    }
    *l1 = _mm512_reduce_add_epi32(a);
    *dot = _mm512_reduce_add_epi32(b);
}

/* the activation table by vpermt2b: index u = g + 128 = g xor 0x80; two
 * 128-entry lookups (the low 7 bits of u) and bit 7 of u picks one */
__attribute__((target("avx512vbmi"))) static void act_vbmi(const int8_t *table, int8_t *g, uint32_t n)
{
    const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
    const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
    uint32_t i;
    for (i = 0; i < n; i += 64) {
        __mmask64 m = n - i >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (n - i)) - 1);
        __m512i u = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, g + i), _mm512_set1_epi8((char)0x80));
        __m512i lo = _mm512_permutex2var_epi8(t0, u, t1), hi = _mm512_permutex2var_epi8(t2, u, t3);
        _mm512_mask_storeu_epi8(g + i, m, _mm512_mask_blend_epi8(_mm512_movepi8_mask(u), lo, hi));
    }
}

static void act_apply(int vbmi, const int8_t *table, int8_t *g, uint32_t n)
{
    uint32_t i;
    if (vbmi) {
        act_vbmi(table, g, n);
        return;
    }
    for (i = 0; i < n; i++)
        g[i] = table[g[i] + 128];
}

/* oz_embed1 for a row, eight elements in 64-bit lanes: e m (vpmuldq,
 * |e m| < 2^39) + 2^(s-1), arithmetic shift by s (1 <= s <= 62), clamp */
#define OZF_HAVE_EMBED 1
static void embed_row(const int8_t *e, uint32_t n, int32_t m, int32_t s, int32_t *x)
{
    const __m512i vm = _mm512_set1_epi64(m), rnd = _mm512_set1_epi64((int64_t)1 << (s - 1));
    const __m512i hi = _mm512_set1_epi64(OZ_RES_MAX), lo = _mm512_set1_epi64(-OZ_RES_MAX);
    const __m128i cnt = _mm_cvtsi32_si128(s);
    uint32_t i;
    for (i = 0; i < n; i += 8) {
        __mmask8 k = n - i >= 8 ? 0xFF : (__mmask8)((1u << (n - i)) - 1);
        __m512i a = _mm512_cvtepi8_epi64(_mm_maskz_loadu_epi8(k, e + i));
        __m512i p = _mm512_sra_epi64(_mm512_add_epi64(_mm512_mul_epi32(a, vm), rnd), cnt);
        _mm512_mask_cvtepi64_storeu_epi32(x + i, k, _mm512_min_epi64(_mm512_max_epi64(p, lo), hi));
    }
}

/* int32 values within +-127 to bytes (vpmovdb) */
#define OZF_HAVE_NARROW 1
static void narrow_i8(const int32_t *acc, uint32_t n, int8_t *out)
{
    uint32_t i;
    for (i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_cvtepi32_storeu_epi8(out + i, k, _mm512_maskz_loadu_epi32(k, acc + i));
    }
}

/* lane r (0..7) = the sum of a[r]'s eight 64-bit lanes (wrapping adds):
 * pairs of rows interleaved (unpack), then their 128-bit lanes folded
 * twice, so that 8 rows take 21 instructions instead of 8 reductions */
static inline __m512i hsum8x8_epi64(const __m512i *a)
{
    __m512i b[4], c0, c1;
    int i;
    for (i = 0; i < 4; i++) /* 128-bit lane j: rows 2i and 2i+1, their lanes 2j + 2j+1 */
        b[i] = _mm512_add_epi64(_mm512_unpacklo_epi64(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_epi64(a[2 * i], a[2 * i + 1]));
    /* 128-bit lanes: b[0] L0+L1, b[0] L2+L3, b[1] L0+L1, b[1] L2+L3 */
    c0 = _mm512_add_epi64(_mm512_shuffle_i64x2(b[0], b[1], 0x88), _mm512_shuffle_i64x2(b[0], b[1], 0xDD));
    c1 = _mm512_add_epi64(_mm512_shuffle_i64x2(b[2], b[3], 0x88), _mm512_shuffle_i64x2(b[2], b[3], 0xDD));
    /* 128-bit lane k: rows 2k and 2k+1, whole */
    return _mm512_add_epi64(_mm512_shuffle_i64x2(c0, c1, 0x88), _mm512_shuffle_i64x2(c0, c1, 0xDD));
}

/* RMS norms of nrows rows of n (oz_rmsnorm's integers, row by row;
 * docs/integer-model.md, "The fast CPU engine", RMS norm), 16 rows at a
 * time: each row's sum of squares in 64-bit lanes (vpmuldq of the even and
 * of the odd int32 lanes: |x| < 2^23, the sum < 2^56), the 16 sums brought
 * into two vectors, one row per lane (hsum8x8_epi64), floor(ss / n) (a
 * shift where n is a power of 2), then the square roots at once by core's
 * own digit-by-digit method (oz_isqrt64: the same steps, one lane per row,
 * from the highest bit pair any lane needs, which only skips steps where
 * every lane's bit is 0), the reciprocal floor(2^37 / rms) per row, and
 * y = sat8((x inv + 2^31) >> 32): where inv < 2^31, 16 lanes at a time
 * (vpmuldq of the even and of the odd lanes, |x inv| < 2^54), else in
 * 64-bit lanes by vpmullq (|x inv| < 2^60). */
#define OZF_HAVE_RMSNORM_ROWS 1
static void rmsnorm_rows(const int32_t *x, int8_t *y, uint32_t nrows, uint32_t n)
{
    const __m512i hi = _mm512_set1_epi64(OZ_ACT_MAX), lo = _mm512_set1_epi64(-OZ_ACT_MAX);
    const __m512i hi32 = _mm512_set1_epi32(OZ_ACT_MAX), lo32 = _mm512_set1_epi32(-OZ_ACT_MAX);
    const __m512i half = _mm512_set1_epi64((int64_t)1 << 31);
    const int pow2 = (n & (n - 1)) == 0;
    const unsigned lg = (unsigned)__builtin_ctz(n);
    uint32_t r0, r, i;
    for (r0 = 0; r0 < nrows; r0 += 16) {
        uint32_t nr = nrows - r0 < 16 ? nrows - r0 : 16;
        uint64_t v[16], vmax;
        int64_t inv[16];
        __m512i acc[16], va, vb;
        for (r = 0; r < 16; r++)
            acc[r] = _mm512_setzero_si512();
        for (r = 0; r < nr; r++) {
            const int32_t *xr = x + (size_t)(r0 + r) * n;
            for (i = 0; i < n; i += 16) {
                __mmask16 m = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1);
                __m512i a = _mm512_maskz_loadu_epi32(m, xr + i), b = _mm512_srli_epi64(a, 32);
                acc[r] = _mm512_add_epi64(acc[r], _mm512_add_epi64(_mm512_mul_epi32(a, a), _mm512_mul_epi32(b, b)));
            }
        }
        va = hsum8x8_epi64(acc);
        vb = hsum8x8_epi64(acc + 8);
        if (pow2) {
            va = _mm512_srli_epi64(va, lg);
            vb = _mm512_srli_epi64(vb, lg);
        } else {
            _mm512_storeu_si512(v, va);
            _mm512_storeu_si512(v + 8, vb);
            for (r = 0; r < 16; r++)
                v[r] /= n;
            va = _mm512_loadu_si512(v);
            vb = _mm512_loadu_si512(v + 8);
        }
        vmax = (uint64_t)_mm512_reduce_or_epi64(_mm512_or_si512(va, vb));
        /* oz_isqrt64 lane by lane: bit = the highest power of 4 <= max v.
         * Where every v < 2^32 (rms < 2^16), all 16 rows in 32-bit lanes:
         * bit <= 2^30, res < 2^31 and res + bit < 2^32, so the steps hold
         * the same values as core's 64-bit ones */
        if (vmax >> 32 == 0) {
            uint64_t vm = vmax;
            __m512i vv = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(va)), _mm512_cvtepi64_epi32(vb), 1);
            __m512i res = _mm512_setzero_si512(), bit;
            bit = _mm512_set1_epi32(vm ? (int32_t)(1u << ((63 - __builtin_clzll(vm)) & ~1)) : 0);
            while (vm) {
                __m512i t = _mm512_add_epi32(res, bit);
                __mmask16 fits = _mm512_cmpge_epu32_mask(vv, t);
                vv = _mm512_mask_sub_epi32(vv, fits, vv, t);
                res = _mm512_mask_add_epi32(_mm512_srli_epi32(res, 1), fits, _mm512_srli_epi32(res, 1), bit);
                bit = _mm512_srli_epi32(bit, 2);
                vm >>= 2;
            }
            _mm512_storeu_si512(v, _mm512_cvtepu32_epi64(_mm512_castsi512_si256(res)));
            _mm512_storeu_si512(v + 8, _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(res, 1)));
        } else {
            /* rows 0..7 and 8..15 as two independent chains in one loop */
            uint64_t vm = vmax;
            __m512i ra = _mm512_setzero_si512(), rb = _mm512_setzero_si512();
            __m512i bit = _mm512_set1_epi64((int64_t)1 << ((63 - __builtin_clzll(vm)) & ~1));
            while (vm) {
                __m512i ta = _mm512_add_epi64(ra, bit), tb = _mm512_add_epi64(rb, bit);
                __mmask8 fa = _mm512_cmpge_epu64_mask(va, ta), fb = _mm512_cmpge_epu64_mask(vb, tb);
                va = _mm512_mask_sub_epi64(va, fa, va, ta);
                vb = _mm512_mask_sub_epi64(vb, fb, vb, tb);
                ra = _mm512_mask_add_epi64(_mm512_srli_epi64(ra, 1), fa, _mm512_srli_epi64(ra, 1), bit);
                rb = _mm512_mask_add_epi64(_mm512_srli_epi64(rb, 1), fb, _mm512_srli_epi64(rb, 1), bit);
                bit = _mm512_srli_epi64(bit, 2);
                vm >>= 2;
            }
            _mm512_storeu_si512(v, ra);
            _mm512_storeu_si512(v + 8, rb);
        }
        for (r = 0; r < nr; r++)
            inv[r] = oz_inv_rms((uint32_t)v[r]);
        for (r = 0; r < nr; r++) {
            const int32_t *xr = x + (size_t)(r0 + r) * n;
            int8_t *yr = y + (size_t)(r0 + r) * n;
            const __m512i iv = _mm512_set1_epi64(inv[r]);
            if (inv[r] < ((int64_t)1 << 31)) {
                /* inv >= 0 is its own low half: the even lanes' products,
                 * and the odd lanes' (moved down), each (x inv + 2^31) >> 32
                 * in the low half of its 64-bit lane (|x inv| < 2^54), the
                 * odd ones moved back up, then the clamp in 32-bit lanes */
                for (i = 0; i < n; i += 16) {
                    __mmask16 m = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1);
                    __m512i a = _mm512_maskz_loadu_epi32(m, xr + i);
                    __m512i pe = _mm512_srai_epi64(_mm512_add_epi64(_mm512_mul_epi32(a, iv), half), 32);
                    __m512i po = _mm512_srai_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), iv), half), 32);
                    __m512i q = _mm512_mask_blend_epi32((__mmask16)0xAAAA, pe, _mm512_slli_epi64(po, 32));
                    __m128i b8 = _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(q, lo32), hi32));
                    if (m == 0xFFFF)
                        _mm_storeu_si128((__m128i *)(void *)(yr + i), b8);
                    else
                        _mm_mask_storeu_epi8(yr + i, m, b8);
                }
            } else
                for (i = 0; i < n; i += 8) {
                    __mmask8 m = n - i >= 8 ? 0xFF : (__mmask8)((1u << (n - i)) - 1);
                    __m512i a = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, xr + i));
                    __m512i p = _mm512_srai_epi64(_mm512_add_epi64(_mm512_mullo_epi64(a, iv), half), 32);
                    _mm512_mask_cvtepi64_storeu_epi8(yr + i, m, _mm512_min_epi64(_mm512_max_epi64(p, lo), hi));
                }
        }
    }
}

#include "forward_impl.h"

const ozf_kernels ozf_kernels_avx512 = {"avx512", pack_bytes, pack, gemm, scores, vsum, rq_uniform, rq_rows, attend, exp2q15, freq_cum, forward, ring_put, keep_stats, act_apply, attend_vbmi, attend2, attend_vbmi2, gemm_amx, rmsnorm_rows, freq_find, rq_rows_q, OZF_LANES, freq_sym, rq_rows_qn};
