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
 * run), or, where dl is not NULL, run r's bytes from dl[r] and dh[r] on
 * (zeros past the run's end for up to 31 bytes; the caller zeroed the rest) */
static inline __attribute__((always_inline)) void OZF_ATT_CAT(OZF_ATT_NAME, _p2)(att_state *st, uint8_t *const *dl,
                                                                                uint8_t *const *dhb)
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
        uint8_t *pl = dl ? dl[r] : st->lo[r] + off, *ph = dl ? dhb[r] : st->hi[r] + off;
        const int32_t *zr = st->zbuf + st->jo[r];
        if (!dl) {
            memset(st->lo[r], 0, 4);
            memset(st->hi[r], 0, 4);
        }
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
            vE = _mm512_dpwssd_epi32(vE, _mm512_xor_si512(e, _mm512_set1_epi16((short)0x8000)), _mm512_set1_epi16(1));
            lanes += 32;
            /* low bytes then high bytes per 128-bit lane, then the dwords
             * (4 slots each) put back in slot order: low bytes of slots
             * 0..31, then high bytes */
            x = _mm512_permutexvar_epi32(perm_slots, _mm512_shuffle_epi8(e, shuf_lohi));
            /* lanes past the window are 0; the buffers have room for them */
            _mm256_storeu_si256((__m256i *)(void *)(pl + j), _mm512_castsi512_si256(x));
            _mm256_storeu_si256((__m256i *)(void *)(ph + j), _mm512_extracti64x4_epi64(x, 1));
        }
        if (!dl) {
            memset(pl + len, 0, 4);
            memset(ph + len, 0, 4);
        }
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
    OZF_ATT_CAT(OZF_ATT_NAME, _p2)(&st, NULL, NULL);
    OZF_ATT_CAT(OZF_ATT_NAME, _p3)(&st);
}

/* two independent attentions (the work space of one scratch: the logits of
 * the first in zs, of the second in tmp), phase by phase */
static void OZF_ATT_CAT(OZF_ATT_NAME, 2)(const ozf_att_job *a, const ozf_att_job *b, ozf_scratch *scr)
{
    att_state sa, sb;
    OZF_ATT_CAT(OZF_ATT_NAME, _p1)(a, scr->zs, &sa);
    OZF_ATT_CAT(OZF_ATT_NAME, _p1)(b, scr->tmp, &sb);
    OZF_ATT_CAT(OZF_ATT_NAME, _p2)(&sa, NULL, NULL);
    OZF_ATT_CAT(OZF_ATT_NAME, _p2)(&sb, NULL, NULL);
    OZF_ATT_CAT(OZF_ATT_NAME, _p3)(&sa);
    OZF_ATT_CAT(OZF_ATT_NAME, _p3)(&sb);
}

/* 16 attentions of one head (Dh = 16) whose windows lie in one range of nu
 * keys (a multiple of 64) from ring slot base (a multiple of 64; the ring's
 * capacity is one too), row r's from key u0[r] on: scores and weights per
 * row as above, two rows at a time, the weights' bytes into the rows of two
 * 16 x nu matrices (zero outside each window), the value sums of all 16 on
 * AMX tiles (vsum_amx16), the division per row. */
static void OZF_ATT_CAT(OZF_ATT_NAME, 16)(const ozf_att_job *j, const uint32_t *u0, uint32_t base, uint32_t nu,
                                         ozf_scratch *scr)
{
    att_state st[2];
    int32_t acc[16][16] __attribute__((aligned(64)));
    uint32_t E[16], r, i, ld = scr->ew_ld;
    uint8_t *elo = scr->ew, *ehi = scr->ew + 16 * (size_t)ld;
    for (r = 0; r < 16; r += 2) {
        OZF_ATT_CAT(OZF_ATT_NAME, _p1)(&j[r], scr->zs, &st[0]);
        OZF_ATT_CAT(OZF_ATT_NAME, _p1)(&j[r + 1], scr->tmp, &st[1]);
        for (i = 0; i < 2; i++) {
            uint8_t *rl = elo + (size_t)(r + i) * ld, *rh = ehi + (size_t)(r + i) * ld;
            /* run 1 (past the ring's end) follows run 0 in key order */
            uint8_t *dl[2] = {rl + u0[r + i], rl + u0[r + i] + (st[i].rb[0] - st[i].ra[0])};
            uint8_t *dhb[2] = {rh + u0[r + i], rh + u0[r + i] + (st[i].rb[0] - st[i].ra[0])};
            uint32_t x;
            for (x = 0; x < nu; x += 64) {
                _mm512_store_si512(rl + x, _mm512_setzero_si512());
                _mm512_store_si512(rh + x, _mm512_setzero_si512());
            }
            OZF_ATT_CAT(OZF_ATT_NAME, _p2)(&st[i], dl, dhb);
            E[r + i] = st[i].E;
        }
    }
    vsum_amx16(elo, ehi, ld, nu, j[0].vp, j[0].cap, base, acc);
    for (r = 0; r < 16; r++) {
        att_state *so = &st[0];
        so->dh = 16, so->o = j[r].o, so->E = E[r];
        OZF_ATT_CAT(OZF_ATT_NAME, _out)(so, acc[r]);
    }
}
