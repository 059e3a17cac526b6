/* attend_avx512.h - the fused AVX-512 attention of one head, included twice
 * by kern_avx512.c: as attend() with the exp2 table looked up by vpermt2w,
 * and, compiled for AVX-512 VBMI, as attend_vbmi() with vpermt2b (fewer
 * instructions per key). OZF_ATT_NAME, OZF_ATT_TABLE (the 8 zmm of the
 * table) and OZF_ATT_EXP2 (t -> e, 32 lanes) pick the variant. The same
 * integers as attend() in core; docs/integer-model.md proves each step.
 *
 * The attention is three phases, each waiting on the one before through a
 * horizontal reduction or a division: the scores and their maximum, the
 * weights and their sum E, the value sums and the division by E. At short
 * windows those chains of latency are most of the time, so OZF_ATT_NAME##2
 * runs two independent attentions phase by phase (A1 B1 A2 B2 A3 B3): while
 * one waits on its reduction the core executes the other's work. */

#ifndef OZF_ATT_STATE
#define OZF_ATT_STATE
/* what one attention carries from one phase to the next */
typedef struct att_state {
    const int8_t *vp;
    int8_t *o;
    int32_t *zbuf;
    uint32_t ra[2], rb[2], jo[2], nr, dh, E;
    int32_t zmax;
    uint8_t lo[2][OZ_MAX_CTX + 80], hi[2][OZ_MAX_CTX + 80];
} att_state;
#define OZF_ATT_CAT_(a, b) a##b
#define OZF_ATT_CAT(a, b) OZF_ATT_CAT_(a, b)
#endif

/* phase 1: z for every window position into zbuf, and their maximum */
static inline __attribute__((always_inline)) void OZF_ATT_CAT(OZF_ATT_NAME, _p1)(const ozf_att_job *a, int32_t *zbuf,
                                                                                att_state *st)
{
    __m512i qb[OZ_MAX_DHEAD / 4];
    __m512i vmax = _mm512_set1_epi32(INT32_MIN);
    const ozf_window *w = &a->w;
    uint32_t dg, ndg = a->dh / 4, r;
    int mode = rq_mode(a->dh, a->am, a->as);
    st->vp = a->vp;
    st->o = a->o;
    st->zbuf = zbuf;
    st->dh = a->dh;
    st->ra[0] = w->a0, st->ra[1] = w->a1, st->rb[0] = w->b0, st->rb[1] = w->b1;
    st->jo[0] = 0, st->jo[1] = w->b0 - w->a0;
    st->nr = w->b1 > w->a1 ? 2 : 1;
    for (dg = 0; dg < ndg; dg++)
        qb[dg] = bcast_u8(a->q + 4 * dg);
    for (r = 0; r < st->nr; r++)
        vmax = scores_any(qb, ndg, mode, a->kp, a->ksum, a->cap, st->ra[r], st->rb[r], st->jo[r], a->n, a->am, a->as,
                          a->slope, zbuf, vmax);
    st->zmax = _mm512_reduce_max_epi32(vmax);
}

/* phase 2: e, their sum E, and e split into bytes in ring-slot order: into
 * st->lo and st->hi (from slot 4 floor(a / 4) of each run, zero around the
 * run) */
static inline __attribute__((always_inline)) void OZF_ATT_CAT(OZF_ATT_NAME, _p2)(att_state *st)
{
    __m512i T[8], vE = _mm512_setzero_si512();
    const __m512i perm_slots = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m512i zfill = _mm512_set1_epi32(-(1 << 29));
    /* in each 128-bit lane: the low bytes of its 8 words, then the high bytes */
    const __m512i shuf_lohi = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15));
    const __m512i vz = _mm512_set1_epi32(st->zmax);
    uint32_t r, j, lanes = 0;
    for (j = 0; j < 8; j++)
        T[j] = _mm512_loadu_si512((const uint8_t *)OZF_ATT_TABLE + 64 * j);
    for (r = 0; r < st->nr; r++) {
        uint32_t len = st->rb[r] - st->ra[r], off = st->ra[r] & 3;
        uint8_t *pl = st->lo[r] + off, *ph = st->hi[r] + off;
        const int32_t *zr = st->zbuf + st->jo[r];
        memset(st->lo[r], 0, 4);
        memset(st->hi[r], 0, 4);
        for (j = 0; j < len; j += 32) {
            uint32_t cnt = len - j < 32 ? len - j : 32;
            __mmask32 m32 = cnt == 32 ? 0xFFFFFFFFu : (((uint32_t)1 << cnt) - 1);
            __mmask16 ma = (__mmask16)m32, mb = (__mmask16)(m32 >> 16);
            /* t = zmax - z >= 0 in the window's lanes; the lanes past it
             * read z = -2^29 (every z > -2^26), so t > 4096 and e = 0 */
            __m512i t0 = _mm512_sub_epi32(vz, _mm512_mask_loadu_epi32(zfill, ma, zr + j));
            __m512i t1 = _mm512_sub_epi32(vz, _mm512_mask_loadu_epi32(zfill, mb, zr + j + 16)), e, x;
            if (!(_mm512_cmplt_epu32_mask(t0, _mm512_set1_epi32(4096)) |
                  _mm512_cmplt_epu32_mask(t1, _mm512_set1_epi32(4096)))) {
                /* t >= 4096 in all 32: every e is 0 (oz_exp2q15) */
                _mm256_storeu_si256((__m256i *)(void *)(pl + j), _mm256_setzero_si256());
                _mm256_storeu_si256((__m256i *)(void *)(ph + j), _mm256_setzero_si256());
                continue;
            }
            /* vpackusdw: t (0 <= t < 2^31) to uint16, saturated (t >= 4096
             * stays >= 4096), in its order: 128-bit lane k holds slots
             * 4k..4k+3 of t0, then 4k..4k+3 of t1 */
            e = OZF_ATT_EXP2(_mm512_packus_epi32(t0, t1), T);
            /* E: e xor 2^15 read as int16 is e - 2^15 (0 <= e <= 2^15), summed in
             * pairs by vpdpwssd (no saturation); 2^15 per lane is added back
             * below, and the lanes past the window (e = 0) add 0 in all */
            vE = dpwssd(vE, _mm512_xor_si512(e, _mm512_set1_epi16((short)0x8000)), _mm512_set1_epi16(1));
            lanes += 32;
            /* low bytes then high bytes per 128-bit lane, then the dwords
             * (4 slots each) put back in slot order: low bytes of slots
             * 0..31, then high bytes */
            x = _mm512_permutexvar_epi32(perm_slots, _mm512_shuffle_epi8(e, shuf_lohi));
            /* lanes past the window are 0; the buffers have room for them */
            _mm256_storeu_si256((__m256i *)(void *)(pl + j), _mm512_castsi512_si256(x));
            _mm256_storeu_si256((__m256i *)(void *)(ph + j), _mm512_extracti64x4_epi64(x, 1));
        }
        memset(pl + len, 0, 4);
        memset(ph + len, 0, 4);
    }
    st->E = (uint32_t)(_mm512_reduce_add_epi32(vE) + (int32_t)(lanes << 15)); /* lanes <= 576: no overflow */
}

/* the division, as in core: |acc| <= 127 E, so |acc R| <= 127 2^46 */
static inline __attribute__((always_inline)) void OZF_ATT_CAT(OZF_ATT_NAME, _out)(const att_state *st, const int32_t *acc)
{
    uint32_t d, dh = st->dh;
    int64_t R;
    R = (int64_t)(((uint64_t)1 << 46) / st->E);
    for (d = 0; d < dh; d += 8) {
        __mmask8 m = (__mmask8)(dh - d >= 8 ? 0xFF : ((1u << (dh - d)) - 1));
        __m512i x = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, acc + d));
        x = _mm512_srai_epi64(_mm512_add_epi64(_mm512_mullo_epi64(x, _mm512_set1_epi64(R)), _mm512_set1_epi64((int64_t)1 << 45)), 46);
        x = _mm512_min_epi64(_mm512_max_epi64(x, _mm512_set1_epi64(-OZ_ACT_MAX)), _mm512_set1_epi64(OZ_ACT_MAX));
        _mm_mask_storeu_epi8(st->o + d, m, _mm512_cvtepi64_epi8(x));
    }
}

/* phase 3: the value sums, as vsum(), and the division */
static inline __attribute__((always_inline)) void OZF_ATT_CAT(OZF_ATT_NAME, _p3)(att_state *st)
{
    const uint8_t *const pl3[2] = {st->lo[0], st->lo[1]}, *const ph3[2] = {st->hi[0], st->hi[1]};
    int32_t acc[OZ_MAX_DHEAD];
    vsum_bytes(pl3, ph3, st->vp, st->dh, st->ra, st->rb, st->nr, acc);
    OZF_ATT_CAT(OZF_ATT_NAME, _out)(st, acc);
}

static void OZF_ATT_NAME(const int8_t *q, const int8_t *kp, const int32_t *ksum, const int8_t *vp, uint32_t cap,
                         uint32_t dh, const ozf_window *w, uint32_t n, int32_t am, int32_t as, int32_t slope,
                         ozf_scratch *scr, int8_t *o)
{
    att_state st;
    ozf_att_job a;
    a.q = q, a.kp = kp, a.ksum = ksum, a.vp = vp, a.cap = cap, a.dh = dh, a.w = *w, a.n = n;
    a.am = am, a.as = as, a.slope = slope, a.o = o;
    OZF_ATT_CAT(OZF_ATT_NAME, _p1)(&a, scr->zs, &st);
    OZF_ATT_CAT(OZF_ATT_NAME, _p2)(&st);
    OZF_ATT_CAT(OZF_ATT_NAME, _p3)(&st);
}

/* two independent attentions (the work space of one scratch: the logits of
 * the first in zs, of the second in tmp), phase by phase */
static void OZF_ATT_CAT(OZF_ATT_NAME, 2)(const ozf_att_job *a, const ozf_att_job *b, ozf_scratch *scr)
{
    att_state sa, sb;
    OZF_ATT_CAT(OZF_ATT_NAME, _p1)(a, scr->zs, &sa);
    OZF_ATT_CAT(OZF_ATT_NAME, _p1)(b, scr->tmp, &sb);
    OZF_ATT_CAT(OZF_ATT_NAME, _p2)(&sa);
    OZF_ATT_CAT(OZF_ATT_NAME, _p2)(&sb);
    OZF_ATT_CAT(OZF_ATT_NAME, _p3)(&sa);
    OZF_ATT_CAT(OZF_ATT_NAME, _p3)(&sb);
}

/* e of two keys per 32-bit lane: t0 >= 0 (key u) in the low half, t1 (key
 * u + 1) in the high half, each saturated to 65535 first (t >= 4096 gives
 * e = 0 either way), then one 16-bit lookup */
static inline __attribute__((always_inline)) __m512i OZF_ATT_CAT(OZF_ATT_NAME, _pair_e)(__m512i t0, __m512i t1,
                                                                                       const __m512i *T)
{
    const __m512i c65535 = _mm512_set1_epi32(65535);
    return OZF_ATT_EXP2(_mm512_mask_blend_epi16((__mmask32)0xAAAAAAAAu, _mm512_min_epu32(t0, c65535),
                                                _mm512_slli_epi32(_mm512_min_epu32(t1, c65535), 16)),
                        T);
}

/* The weights of four keys u .. u + 3 (u a multiple of 4; their logits
 * z[0..3] in the lanes) against the lanes' maxima: the dword of the four
 * keys' low bytes of e and the dword of their high bytes per lane (*lo,
 * *hi; vpshufb within each dword: bytes 0 and 2 of the two pair words,
 * then 1 and 3), the sum of e into *vE (vpdpwssd of e xor 0x8000, each
 * pair looked up counted in *cnt to add back 2^16); all 0 without a lookup
 * where every t >= 4096 */
static inline __attribute__((always_inline)) void OZF_ATT_CAT(OZF_ATT_NAME, _quad_bytes)(__m512i vmax, const __m512i *z,
                                                                                        const __m512i *T, __m512i *vE,
                                                                                        uint32_t *cnt, __m512i *lo,
                                                                                        __m512i *hi)
{
    const __m512i lo01 = _mm512_broadcast_i32x4(_mm_setr_epi32((int)0x80800200, (int)0x80800604, (int)0x80800A08, (int)0x80800E0C));
    const __m512i lo23 = _mm512_broadcast_i32x4(_mm_setr_epi32(0x02008080, 0x06048080, 0x0A088080, 0x0E0C8080));
    const __m512i hi01 = _mm512_broadcast_i32x4(_mm_setr_epi32((int)0x80800301, (int)0x80800705, (int)0x80800B09, (int)0x80800F0D));
    const __m512i hi23 = _mm512_broadcast_i32x4(_mm_setr_epi32(0x03018080, 0x07058080, 0x0B098080, 0x0F0D8080));
    const __m512i c4096 = _mm512_set1_epi32(4096), flip = _mm512_set1_epi16((short)0x8000), ones = _mm512_set1_epi16(1);
    __m512i t0 = _mm512_sub_epi32(vmax, z[0]), t1 = _mm512_sub_epi32(vmax, z[1]);
    __m512i t2 = _mm512_sub_epi32(vmax, z[2]), t3 = _mm512_sub_epi32(vmax, z[3]), e01, e23;
    if (!(_mm512_cmplt_epu32_mask(t0, c4096) | _mm512_cmplt_epu32_mask(t1, c4096) | _mm512_cmplt_epu32_mask(t2, c4096) |
          _mm512_cmplt_epu32_mask(t3, c4096))) {
        *lo = *hi = _mm512_setzero_si512(); /* every e is 0 */
        return;
    }
    e01 = OZF_ATT_CAT(OZF_ATT_NAME, _pair_e)(t0, t1, T);
    e23 = OZF_ATT_CAT(OZF_ATT_NAME, _pair_e)(t2, t3, T);
    *vE = dpwssd(*vE, _mm512_xor_si512(e01, flip), ones);
    *vE = dpwssd(*vE, _mm512_xor_si512(e23, flip), ones);
    *cnt += 2;
    *lo = _mm512_or_si512(_mm512_shuffle_epi8(e01, lo01), _mm512_shuffle_epi8(e23, lo23));
    *hi = _mm512_or_si512(_mm512_shuffle_epi8(e01, hi01), _mm512_shuffle_epi8(e23, hi23));
}

/* 16 rows of one head (Dh = 16) with the rows in the lanes (b16_blk in
 * kern_avx512.c): pass 1, then pass 2 here (the exp2 lookup of this
 * variant), then the value sums (AMX: on tiles, else by vpdpwssd) and the
 * division */
static inline __attribute__((always_inline)) void OZF_ATT_CAT(OZF_ATT_NAME, _rows16_in)(const ozf_att_job *j,
                                                                                       const uint32_t *u0,
                                                                                       uint32_t base,
                                                                                       ozf_scratch *scr,
                                                                                       const int AMX)
{
    b16_blk b;
    __m512i T[8], vmax, vE = _mm512_setzero_si512(), *pb;
    const __m512i c4096 = _mm512_set1_epi32(4096);
    const __m512i flip = _mm512_set1_epi16((short)0x8000), ones = _mm512_set1_epi16(1);
    int16_t *vw = (int16_t *)(void *)(scr->ew + 64 * (size_t)scr->ew_ld);
    int32_t E[16], am = j[0].am, as = j[0].as, slope = j[0].slope;
    uint32_t i, np, cnt = 0;
    b16_setup(j, u0, base, vw, scr, &b, AMX);
    switch (rq_mode(16, am, as)) {
    case RQ_HI: vmax = b16_p1(&b, am, as, slope, RQ_HI); break;
    case RQ_NOCLAMP: vmax = b16_p1(&b, am, as, slope, RQ_NOCLAMP); break;
    case RQ_NARROW: vmax = b16_p1(&b, am, as, slope, RQ_NARROW); break;
    default: vmax = b16_p1(&b, am, as, slope, RQ_WIDE); break;
    }
    for (i = 0; i < 8; i++)
        T[i] = _mm512_loadu_si512((const uint8_t *)OZF_ATT_TABLE + 64 * i);
    /* pass 2 in place over the logits (whatever a key's output overwrites
     * was read before): t = zmax - z >= 0, two keys per lookup (_pair_e) */
    np = (b.uend + 1 - b.ue) / 2;
    pb = b.zb;
    if (AMX) {
        /* B' of group g (keys 4g..4g+3) at 128 g: dword r = the four keys'
         * low bytes of e in row r, then at 128 g + 64 their high bytes */
        uint8_t *bb = (uint8_t *)(void *)b.zb;
        for (i = 0; i < np; i += 2) {
            __m512i lo, hi;
            OZF_ATT_CAT(OZF_ATT_NAME, _quad_bytes)(vmax, b.zb + 2 * i, T, &vE, &cnt, &lo, &hi);
            _mm512_store_si512(bb + 64 * i, lo);
            _mm512_store_si512(bb + 64 * i + 64, hi);
        }
    } else {
        for (i = 0; i < np; i++) {
            __m512i t0 = _mm512_sub_epi32(vmax, b.zb[2 * i]), t1 = _mm512_sub_epi32(vmax, b.zb[2 * i + 1]), e;
            if (!(_mm512_cmplt_epu32_mask(t0, c4096) | _mm512_cmplt_epu32_mask(t1, c4096))) {
                pb[i] = flip; /* every e is 0: e - 2^15 = -2^15 */
                continue;
            }
            e = _mm512_xor_si512(OZF_ATT_CAT(OZF_ATT_NAME, _pair_e)(t0, t1, T), flip); /* e - 2^15 as int16 */
            vE = dpwssd(vE, e, ones);
            cnt++;
            pb[i] = e;
        }
    }
    /* each pair looked up added e_u + e_u+1 - 2^16 */
    _mm512_storeu_si512(E, _mm512_add_epi32(vE, _mm512_set1_epi32((int32_t)(cnt << 16))));
    if (AMX) {
        int32_t out[16][16] __attribute__((aligned(64)));
        b16_vsum_amx((const int8_t *)(const void *)vw, (const uint8_t *)(const void *)b.zb, (b.uend + 1 - b.ue) / 64, out);
        b16_out(j, out, NULL, E);
    } else {
        b16_vsum_out(j, &b, vw, np, E);
    }
}

static void OZF_ATT_CAT(OZF_ATT_NAME, _rows16)(const ozf_att_job *j, const uint32_t *u0, uint32_t base, uint32_t nu,
                                              ozf_scratch *scr)
{
    (void)nu;
    OZF_ATT_CAT(OZF_ATT_NAME, _rows16_in)(j, u0, base, scr, 0);
}

static void OZF_ATT_CAT(OZF_ATT_NAME, _rows16_amx)(const ozf_att_job *j, const uint32_t *u0, uint32_t base,
                                                  uint32_t nu, ozf_scratch *scr)
{
    (void)nu;
    OZF_ATT_CAT(OZF_ATT_NAME, _rows16_in)(j, u0, base, scr, 1);
}

/* Decode: up to 16 rows of one head, each another stream at the same
 * position, with the rows in the lanes (l16_blk in kern_avx512.c): row r in
 * lane lane[r] of the streams' side-by-side copy lb (its part lh = l H + h
 * for this layer and head); pass 1, pass 2 here (the exp2 lookup of this
 * variant; the weights' bytes as the AMX rows16 kernel splits them), pass 3
 * and the division. Returns 0 (it takes every head). */
static int OZF_ATT_CAT(OZF_ATT_NAME, _lanes16)(const ozf_att_job *j, const uint32_t *lane, uint32_t nr, uint32_t ps,
                                              const ozf_lanes *lb, uint32_t lh, ozf_scratch *scr)
{
    l16_blk b;
    __m512i T[8], vmax, vE = _mm512_setzero_si512();
    int32_t E[16];
    uint32_t i, cnt = 0;
    size_t head = (size_t)lh * j[0].dh * lb->cap * lb->n;
    l16_setup(j, lane, nr, ps, lb->k + head, lb->v + head, scr, &b);
    vmax = l16_p1_any(&b, j[0].am, j[0].as, j[0].slope);
    for (i = 0; i < 8; i++)
        T[i] = _mm512_loadu_si512((const uint8_t *)OZF_ATT_TABLE + 64 * i);
    for (i = 0; i < b.ngrp; i++)
        OZF_ATT_CAT(OZF_ATT_NAME, _quad_bytes)(vmax, b.zb + 4 * i, T, &vE, &cnt, &b.eb[2 * i], &b.eb[2 * i + 1]);
    /* each pair looked up added e_u + e_u+1 - 2^16 */
    _mm512_storeu_si512(E, _mm512_add_epi32(vE, _mm512_set1_epi32((int32_t)(cnt << 16))));
    l16_vsum_out(lane, nr, &b, E);
    return 0;
}
