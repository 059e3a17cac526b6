/* forward_impl.h - the engine's layer loop, included by each kern_*.c so
 * that it is compiled for that file's instruction set: core's primitives
 * (oz_rq, oz_rmsnorm, ...) are inlined and vectorised by the compiler, and
 * the file's own kernels (gemm, scores, vsum, rq_uniform, exp2q15) are
 * called directly. The arithmetic is core's; see docs/integer-model.md. */


#include "../../core/oz_ops.h"

/* the file may pick its matrix product per model (OZF_GEMM_FOR) */
#ifndef OZF_GEMM_FOR
#define OZF_GEMM_FOR(fm) gemm
#endif

/* The file may define its own ring_put, keep_stats and act_apply (same
 * results, SIMD; OZF_HAVE_RING_PUT, ..._KEEP_STATS, ..._ACT); these are the
 * portable forms. */
#ifndef OZF_HAVE_RING_PUT
/* Stores the k and v of one position into slot `slot` of a layer's ring. */
static void ring_put(ozf_ring *r, const oz_config *c, uint32_t l, uint32_t slot, const int8_t *k, const int8_t *v)
{
    uint32_t D = c->d_model, H = c->n_head, Dh = D / H, cap = r->cap, h, d;
    int8_t *K = r->k + (size_t)l * D * cap, *V = r->v + (size_t)l * D * cap;
    int32_t *ks = r->ksum + (size_t)l * H * cap;
    for (h = 0; h < H; h++) {
        int8_t *Kh = K + (size_t)h * Dh * cap, *Vh = V + (size_t)h * Dh * cap;
        int32_t sum = 0;
        for (d = 0; d < Dh; d++) {
            Kh[(size_t)(d / 4) * cap * 4 + slot * 4 + d % 4] = k[h * Dh + d];
            Vh[(size_t)(slot / 4) * Dh * 4 + d * 4 + slot % 4] = v[h * Dh + d];
            sum += k[h * Dh + d];
        }
        ks[(size_t)h * cap + slot] = 128 * sum; /* |sum| <= 127 Dh */
    }
}
#endif

#ifndef OZF_HAVE_KEEP_STATS
/* l1 = sum |q_d|, dot = q . k over dh dimensions */
static void keep_stats(const int8_t *q, const int8_t *k, uint32_t dh, int32_t *l1, int32_t *dot)
{
    int32_t a = 0;
    uint32_t d;
    for (d = 0; d < dh; d++)
        a += q[d] < 0 ? -q[d] : q[d];
    *l1 = a;
    *dot = oz_dot_i8(q, k, (int)dh);
}
#endif

#ifndef OZF_HAVE_ACT
/* g[i] = table[g[i] + 128], the layer's activation */
static void act_apply(int vbmi, const int8_t *table, int8_t *g, uint32_t n)
{
    uint32_t i;
    (void)vbmi;
    for (i = 0; i < n; i++)
        g[i] = table[g[i] + 128];
}
#endif

#ifndef OZF_FUSED_ATTEND
/* One head's attention over the window w (n positions), from the file's
 * kernels; the glue loops are plain loops over restrict pointers so that the
 * compiler vectorises them. */
static void attend(const int8_t *q, const int8_t *kp, const int32_t *ksum, const int8_t *vp, uint32_t cap,
                           uint32_t dh, const ozf_window *w, uint32_t n, int32_t am, int32_t as, int32_t slope,
                           ozf_scratch *s, int8_t *o)
{
    int32_t *restrict zs = s->zs, *restrict tmp = s->tmp, zmax, acc[OZ_MAX_DHEAD];
    uint16_t *restrict e = s->e;
    uint32_t j, E = 0;
    int64_t R;
    scores(q, kp, ksum, cap, dh, w, tmp);
    rq_uniform(tmp, n, am, as, -OZ_Z_MAX, OZ_Z_MAX, zs);
    for (j = 0; j < n; j++)
        zs[j] -= slope * (int32_t)(n - 1 - j);
    zmax = zs[0];
    for (j = 1; j < n; j++)
        zmax = zs[j] > zmax ? zs[j] : zmax;
    for (j = 0; j < n; j++)
        tmp[j] = zmax - zs[j];
    exp2q15(tmp, n, e);
    for (j = 0; j < n; j++)
        E += e[j];
    vsum(e, vp, cap, dh, w, acc);
    R = (int64_t)(((uint64_t)1 << 46) / E);
    for (j = 0; j < dh; j++)
        o[j] = oz_sat8(oz_sra64((int64_t)acc[j] * R + ((int64_t)1 << 45), 46));
}
#endif

/* How many of the newest n window positions can have a weight other than 0
 * (docs/integer-model.md, "Trimming the window"). q.k_j <= 127 |q|_1 and
 * rq is non-decreasing (m >= 0), so every key's logit is at most
 * zub - slope * dist; the current position's own logit zself is at most the
 * maximum. A key with zub - slope * dist <= zself - 4096 therefore has
 * t = zmax - z >= 4096 and weight oz_exp2q15(t) = 0: it adds nothing to E or
 * to the value sums and is not the maximum. Those are the keys at distance
 * >= keep = ceil((zub - zself + 4096) / slope); keep >= 1. Keeping more
 * of the oldest positions than that changes nothing (their weights are 0
 * as well), so keep is computed as floor(num rcp / 2^32) with
 * rcp = ceil(2^32 / slope) (ozf_model.slope_rcp), which is floor(num /
 * slope) or one more, without a division. */
static uint32_t attend_keep(const int8_t *q, const int8_t *k, uint32_t dh, int32_t am, int32_t as, int32_t slope,
                            uint64_t rcp, uint32_t n)
{
    int32_t l1, dot, zself, zub;
    uint32_t num;
    if (slope <= 0)
        return n;
    keep_stats(q, k, dh, &l1, &dot);
    zself = oz_att_logit(dot, am, as, slope, 0);
    zub = oz_att_logit(127 * l1, am, as, slope, 0); /* 127 |q|_1 <= 127 * 127 * 256 < 2^22 */
    /* keep = floor(num / slope) with num = zub - zself + 4096 + slope - 1:
     * zself <= zub (q . k_p <= 127 |q|_1, rq non-decreasing), both within
     * +-2^24, so 0 < num < 2^26; keep >= n exactly when num >= n slope.
     * Otherwise keep < n, and num rcp / 2^32 lies in [num / slope,
     * num / slope + num / 2^32) with num / 2^32 < 2^-6: its floor is keep or
     * keep + 1 <= n (num rcp < 2^26 2^32, no overflow). */
    num = (uint32_t)(zub - zself) + 4096u + (uint32_t)slope - 1u;
    if ((uint64_t)num >= (uint64_t)n * (uint32_t)slope)
        return n;
    return (uint32_t)(((uint64_t)num * rcp) >> 32);
}

/* Head h's attention for row `row` of the pass (position p = pos[row], in
 * ring slot ps = s->slot[row]): the window of positions max(0, p-W+1)..p,
 * less the oldest ones whose weight is 0 (attend_keep), as runs of ring
 * slots. The row's query is its q of head h in s->qkv, its own key follows
 * at q + D; the output goes to its head h in s->a. */
static void attend_job(const ozf_model *fm, ozf_scratch *s, ozf_ring *const *rings, const uint32_t *pos, uint32_t l,
                       uint32_t h, uint32_t row, ozf_att_job *j)
{
    const oz_config *c = &fm->m->cfg;
    const oz_layer *L = &fm->m->layer[l];
    const ozf_ring *r = rings[row];
    uint32_t D = c->d_model, H = c->n_head, Dh = D / H, W = c->ctx, cap = r->cap, p = pos[row], ps = s->slot[row];
    const int8_t *q = s->qkv + (size_t)row * 3 * D + h * Dh;
    int8_t *o = s->a + (size_t)row * D + h * Dh;
    uint32_t full = p + 1 >= W ? W : p + 1;
    /* windows of at most 32 positions are kept whole: the bound costs more
     * than the keys it could cut (tools/ab.sh at W = 32: 1.04x AVX-512,
     * 1.08x AVX2) */
    uint32_t n = full <= 32 ? full : attend_keep(q, q + D, Dh, L->att[0], L->att[1], L->slope[h], fm->slope_rcp[l][h], full);
    size_t head = (size_t)l * D * cap + (size_t)h * Dh * cap;
    s->trimmed += full - n;
    /* the slot of p + 1 - n: (ps - (n - 1)) mod cap, 1 <= n <= W <= cap */
    j->w.a0 = ps + 1 >= n ? ps + 1 - n : ps + 1 + cap - n;
    if (j->w.a0 + n <= cap) {
        j->w.b0 = j->w.a0 + n;
        j->w.a1 = j->w.b1 = 0;
    } else {
        j->w.b0 = cap;
        j->w.a1 = 0;
        j->w.b1 = j->w.a0 + n - cap;
    }
    j->q = q, j->kp = r->k + head, j->ksum = r->ksum + ((size_t)l * H + h) * cap, j->vp = r->v + head;
    j->cap = cap, j->dh = Dh, j->n = n, j->am = L->att[0], j->as = L->att[1], j->slope = L->slope[h], j->o = o;
    j->rcp = 0; /* n trimmed already */
}

/* one (head, row) attention by the file's one-row kernel */
static void attend_one(const ozf_model *fm, ozf_scratch *s, const ozf_att_job *a)
{
    (void)fm;
#ifdef OZF_ATTEND_FOR
    OZF_ATTEND_FOR(fm)
#else
    attend
#endif
    (a->q, a->kp, a->ksum, a->vp, a->cap, a->dh, &a->w, a->n, a->am, a->as, a->slope, s, a->o);
}

#ifdef OZF_ATTEND_LANES_FOR
/* Whether row r's ring is read by the lanes kernel only: where the file's
 * kernel takes every head and any number of rows (OZF_LANES_ALL), a ring
 * that joined a side-by-side copy of OZF_LANES lanes is never read in
 * decode's passes (attend_lanes takes all its rows through the copy), so
 * forward() does not write it (ring_put: 5% of decode at the smallest
 * shape); the copy alone holds the stream's keys and values. */
static inline int lanes_only(const ozf_model *fm, const ozf_scratch *s, const ozf_ring *r, uint32_t dh)
{
    (void)fm, (void)s, (void)dh;
#ifdef OZF_LANES_ALL
    return r->lb && r->lb->n == OZF_LANES && OZF_ATTEND_LANES_OK(fm, s, dh);
#else
    (void)r;
    return 0;
#endif
}

/* Decode's rows in the vector lanes (the file's OZF_ATTEND_LANES_FOR takes
 * up to OZF_LANES rows of one head, all at one ring slot): where every row
 * is at the same position and its ring has joined a side-by-side copy of
 * OZF_LANES lanes (ozf_decode_batch makes its passes so), the rows of each
 * copy (consecutive rows) go together, at least OZF_LANES_MIN of them;
 * fewer are taken row by row. Where the kernel takes every head and any
 * number of rows (OZF_LANES_ALL), every row whose ring joined a copy goes
 * through the copy, with the consecutive rows of its copy at its position
 * (however few), and the other rows row by row: the rings of joined rows
 * are not written (lanes_only). Returns 0 if it took no rows (where no
 * ring has joined a copy: encode's passes, which take their own kernels). */
static int attend_lanes(const ozf_model *fm, ozf_scratch *s, ozf_ring *const *rings, uint32_t l, uint32_t nrows,
                        const uint32_t *pos)
{
    const oz_config *c = &fm->m->cfg;
    uint32_t H = c->n_head, Dh = c->d_model / H, h, r, a0, a1;
    ozf_att_job jl[OZF_LANES];
    uint32_t lane[OZF_LANES];
    if (!OZF_ATTEND_LANES_OK(fm, s, Dh))
        return 0;
#ifdef OZF_LANES_ALL
    for (r = 0; r < nrows && !lanes_only(fm, s, rings[r], Dh); r++)
        ;
    if (r == nrows) /* no joined ring (encode): the other kernels */
        return 0;
    for (h = 0; h < H; h++)
        for (a0 = 0; a0 < nrows; a0 = a1) {
            const ozf_lanes *b = rings[a0]->lb;
            if (!lanes_only(fm, s, rings[a0], Dh)) {
                attend_job(fm, s, rings, pos, l, h, a0, &jl[0]);
                attend_one(fm, s, &jl[0]);
                a1 = a0 + 1;
                continue;
            }
            for (a1 = a0 + 1; a1 < nrows && rings[a1]->lb == b && pos[a1] == pos[a0] && a1 - a0 < OZF_LANES; a1++)
                ;
            /* the kernel reads each row's q and o, the window and the
             * head's constants (from the first row's job), not the ring's
             * window: only those (attend_job less the ring). It trims the
             * window itself, for all its rows at once (rcp): only the
             * longest of the rows' trimmed windows counts (they all take
             * that many keys), and attend_keep's bound is non-decreasing
             * in num, so that is the bound of the largest num */
            {
                const oz_layer *L = &fm->m->layer[l];
                uint32_t D = c->d_model, W = c->ctx, p = pos[a0], full = p + 1 >= W ? W : p + 1;
                for (r = a0; r < a1; r++) {
                    ozf_att_job *j = &jl[r - a0];
                    j->q = s->qkv + (size_t)r * 3 * D + h * Dh;
                    j->o = s->a + (size_t)r * D + h * Dh;
                    j->n = full;
                    lane[r - a0] = rings[r]->lane;
                }
                jl[0].cap = b->cap, jl[0].dh = Dh, jl[0].am = L->att[0], jl[0].as = L->att[1], jl[0].slope = L->slope[h];
                /* windows of at most 32 positions kept whole, as attend_job keeps them */
                jl[0].rcp = full > 32 && L->slope[h] > 0 ? fm->slope_rcp[l][h] : 0;
            }
            OZF_ATTEND_LANES_FOR(fm)(jl, lane, a1 - a0, s->slot[a0], b, l * H + h, s); /* takes every head */
        }
    return 1;
#else
    for (r = 0; r < nrows; r++)
        if (!rings[r]->lb || rings[r]->lb->n != OZF_LANES || pos[r] != pos[0])
            return 0;
    for (h = 0; h < H; h++)
        for (a0 = 0; a0 < nrows; a0 = a1) {
            const ozf_lanes *b = rings[a0]->lb;
            for (a1 = a0 + 1; a1 < nrows && rings[a1]->lb == b && a1 - a0 < OZF_LANES; a1++)
                ;
            for (r = a0; r < a1; r++) {
                attend_job(fm, s, rings, pos, l, h, r, &jl[r - a0]);
                lane[r - a0] = rings[r]->lane;
            }
            /* the kernel may refuse a head (then row by row) */
            if (a1 - a0 < OZF_LANES_MIN || OZF_ATTEND_LANES_FOR(fm)(jl, lane, a1 - a0, s->slot[a0], b, l * H + h, s))
                for (r = a0; r < a1; r++)
                    attend_one(fm, s, &jl[r - a0]);
        }
    return 1;
#endif
}
#endif

/* every head's attention for every row, head by head (in encode the rows
 * share one ring, and a head's keys and values, 2 W Dh bytes, stay in L1 from
 * one row to the next); by the file's pair kernel where it has one
 * (OZF_ATTEND2_FOR): two of these independent attentions at a time, so that
 * one's chains of latency overlap the other's work. Where the file has a
 * kernel for 16 rows (OZF_ATTEND16_FOR: the rows in the vector lanes) and a
 * block of 16 rows are consecutive positions of one ring (encode), that
 * kernel takes them: their windows are laid over one range of keys from
 * basepos (a position whose slot is a multiple of 64) on, u = position -
 * basepos, nu keys rounded up to 64, and row r's window starts at u0[r]. */
static void attend_all(const ozf_model *fm, ozf_scratch *s, ozf_ring *const *rings, uint32_t l, uint32_t nrows,
                       const uint32_t *pos)
{
    const oz_config *c = &fm->m->cfg;
    uint32_t H = c->n_head, k = 0, nk, h, r, r16 = 0;
    ozf_att_job a;
#ifdef OZF_ATTEND_LANES_FOR
    if (attend_lanes(fm, s, rings, l, nrows, pos))
        return;
#endif
#ifdef OZF_ATTEND16_FOR
    if (OZF_ATTEND16_OK(fm, s, c->d_model / H) && nrows >= 16 && rings[0]->cap % 64 == 0) {
        /* the leading rows that form whole blocks of 16 consecutive positions of one ring */
        for (r = 1; r < nrows && rings[r] == rings[0] && pos[r] == pos[0] + r; r++)
            ;
        r16 = r & ~15u;
    }
    if (r16) {
        ozf_att_job j16[16];
        uint32_t u0[16], r0, cap = rings[0]->cap;
        for (h = 0; h < H; h++)
            for (r0 = 0; r0 < r16; r0 += 16) {
                uint32_t L = UINT32_MAX, basepos, nu;
                for (r = 0; r < 16; r++) {
                    attend_job(fm, s, rings, pos, l, h, r0 + r, &j16[r]);
                    if (pos[r0 + r] + 1 - j16[r].n < L)
                        L = pos[r0 + r] + 1 - j16[r].n;
                }
                /* L % cap - basepos % cap = (L % cap) % 64, so basepos >= 0 */
                basepos = L - (L % cap) % 64;
                nu = (pos[r0 + 15] + 1 - basepos + 63) & ~63u;
                for (r = 0; r < 16; r++)
                    u0[r] = pos[r0 + r] + 1 - j16[r].n - basepos;
                OZF_ATTEND16_FOR(fm)(j16, u0, basepos % cap, nu, s);
            }
    }
#endif
    /* the rest: (head, row) pairs over the rows from r16 on */
    nk = H * (nrows - r16);
#define OZF_HR(kk) (h = (kk) / (nrows - r16), r = r16 + (kk) % (nrows - r16))
#ifdef OZF_ATTEND2_FOR
    {
        ozf_att_job b;
        for (; k + 2 <= nk; k += 2) {
            OZF_HR(k);
            attend_job(fm, s, rings, pos, l, h, r, &a);
            OZF_HR(k + 1);
            attend_job(fm, s, rings, pos, l, h, r, &b);
            OZF_ATTEND2_FOR(fm)(&a, &b, s);
        }
    }
#endif
    for (; k < nk; k++) {
        OZF_HR(k);
        attend_job(fm, s, rings, pos, l, h, r, &a);
        attend_one(fm, s, &a);
    }
#undef OZF_HR
}

#ifndef OZF_HAVE_RMSNORM_ROWS
/* oz_rmsnorm with the square root of ozf_isqrt64 (the same integers: core's
 * oz_sq, oz_inv_rms, oz_norm) */
static void rmsnorm(const int32_t *restrict x, int8_t *restrict y, uint32_t n)
{
    uint64_t ss = 0;
    uint32_t i;
    int64_t inv;
    for (i = 0; i < n; i++)
        ss += oz_sq(x[i]);
    inv = oz_inv_rms(ozf_isqrt64(ss / n));
    for (i = 0; i < n; i++)
        y[i] = oz_norm(x[i], inv);
}

/* rmsnorm of each of nrows rows of n (the file may have its own, the same
 * integers: OZF_HAVE_RMSNORM_ROWS) */
static void rmsnorm_rows(const int32_t *x, int8_t *y, uint32_t nrows, uint32_t n)
{
    uint32_t r;
    for (r = 0; r < nrows; r++)
        rmsnorm(x + (size_t)r * n, y + (size_t)r * n, n);
}
#endif

#ifndef OZF_HAVE_EMBED
/* x[i] = oz_embed1(e[i], m, s): a token's embedding into the residual (the
 * file may have its own: OZF_HAVE_EMBED) */
static void embed_row(const int8_t *e, uint32_t n, int32_t m, int32_t s, int32_t *x)
{
    uint32_t i;
    for (i = 0; i < n; i++)
        x[i] = oz_embed1(e[i], m, s);
}
#endif

#ifndef OZF_HAVE_NARROW
/* out[i] = acc[i] for |acc[i]| <= 127 (the file may have its own: OZF_HAVE_NARROW) */
static void narrow_i8(const int32_t *restrict acc, uint32_t n, int8_t *restrict out)
{
    uint32_t i;
    for (i = 0; i < n; i++)
        out[i] = (int8_t)acc[i];
}
#endif

/* out[i] = clamp(rq(acc[i], m[i], s[i]), lo, hi) of nrows rows of n (rows
 * n apart; out may be acc): by the file's rq_rows_qn where it has one and
 * the matrix has a mode, which loads a column block's constants once for
 * up to 16 rows (16 rows of the head's 256 columns, in and out, fit L1) */
static inline void rq_mat_rows(const ozf_rq *q, const int32_t *acc, uint32_t nrows, uint32_t n, int32_t lo, int32_t hi,
                               int32_t *out)
{
    uint32_t r;
#ifdef OZF_HAVE_RQ_Q
    if (q->mode != OZF_RQ_ANY) {
        for (r = 0; r < nrows; r += 16)
            rq_rows_qn(acc + (size_t)r * n, nrows - r < 16 ? nrows - r : 16, n, q, lo, hi, out + (size_t)r * n);
        return;
    }
#endif
    for (r = 0; r < nrows; r++)
        rq_rows(acc + (size_t)r * n, n, q->m, q->s, lo, hi, out + (size_t)r * n);
}

/* x[i] = oz_res_add(x[i], d[i]) for an addend d already clamped to the
 * residual range (rq_mat_rows): the sum clamped */
static void res_add(const int32_t *restrict d, uint32_t n, int32_t *restrict x)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        int32_t v = x[i] + d[i]; /* |v| < 2^24 */
        x[i] = v > OZ_RES_MAX ? OZ_RES_MAX : (v < -OZ_RES_MAX ? -OZ_RES_MAX : v);
    }
}

static void forward(const ozf_model *fm, ozf_scratch *s, uint32_t nrows, const uint8_t *tok, const uint32_t *pos,
                    ozf_ring *const *rings, int32_t *z)
{
    const oz_model *m = fm->m;
    const oz_config *c = &m->cfg;
    uint32_t D = c->d_model, F = c->d_ff, l, r;
    int32_t *x = s->x, *acc = s->acc;
    for (r = 0; r < nrows; r++) /* each row's ring slot, once per pass */
        s->slot[r] = pos[r] % rings[r]->cap;
#ifdef OZF_AMX_BEGIN
    int amx = OZF_AMX_BEGIN(fm, nrows);
    if (amx)
        OZF_AMX_BEGIN_FN();
#endif

    for (r = 0; r < nrows; r++)
        embed_row(m->emb + (size_t)tok[r] * D, D, m->rq_emb[2 * tok[r]], m->rq_emb[2 * tok[r] + 1], x + (size_t)r * D);
    for (l = 0; l < c->n_layer; l++) {
        const oz_layer *L = &m->layer[l];
        rmsnorm_rows(x, s->y, nrows, D);
        OZF_GEMM_FOR(fm)(fm->wqkv[l], 3 * D, D, s->y, D, nrows, acc, 3 * D);
        rq_mat_rows(&fm->rqkv[l], acc, nrows, 3 * D, -OZ_ACT_MAX, OZ_ACT_MAX, acc); /* sat8(rq) */
        narrow_i8(acc, nrows * 3 * D, s->qkv);
        for (r = 0; r < nrows; r++) {
            const int8_t *row = s->qkv + (size_t)r * 3 * D;
#ifdef OZF_ATTEND_LANES_FOR
            if (lanes_only(fm, s, rings[r], D / c->n_head))
                continue;
#endif
            ring_put(rings[r], c, l, s->slot[r], row + D, row + 2 * D);
        }
#ifdef OZF_HAVE_LANES_PUT
        /* the file whose attention reads the side-by-side copies keeps them */
        lanes_put_rows(c, rings, s->slot, s->qkv, nrows, l);
#endif
        attend_all(fm, s, rings, l, nrows, pos);
        OZF_GEMM_FOR(fm)(fm->wo[l], D, D, s->a, D, nrows, acc, D);
        rq_mat_rows(&fm->ro[l], acc, nrows, D, -OZ_RES_MAX, OZ_RES_MAX, acc);
        res_add(acc, nrows * D, x);
        rmsnorm_rows(x, s->y, nrows, D);
        OZF_GEMM_FOR(fm)(fm->w1[l], F, D, s->y, D, nrows, acc, F);
        rq_mat_rows(&fm->r1[l], acc, nrows, F, -OZ_ACT_MAX, OZ_ACT_MAX, acc);
        narrow_i8(acc, nrows * F, s->g);
        act_apply(fm->vbmi, L->act, s->g, nrows * F);
        OZF_GEMM_FOR(fm)(fm->w2[l], D, F, s->g, F, nrows, acc, D);
        rq_mat_rows(&fm->r2[l], acc, nrows, D, -OZ_RES_MAX, OZ_RES_MAX, acc);
        res_add(acc, nrows * D, x);
    }
    rmsnorm_rows(x, s->y, nrows, D);
    OZF_GEMM_FOR(fm)(fm->head, 256, D, s->y, D, nrows, acc, 256);
    rq_mat_rows(&fm->rhead, acc, nrows, 256, -OZ_Z_MAX, OZ_Z_MAX, z);
#ifdef OZF_AMX_BEGIN
    if (amx)
        OZF_AMX_END_FN();
#endif
}
