/* test_fast.c - the fast engine (host/fast/): for every instruction set this
 * CPU has, every kernel against a direct computation on random and extreme
 * inputs (values that would overflow an int16 intermediate included), then the
 * whole forward pass against core/'s reference, decode-style (a batch of
 * streams) and encode-style (a block of positions). */
#include <stdint.h>
#include <unistd.h>

#include "../core/oz_codec.h"
#include "../core/oz_ops.h"
#include "../host/fast/ozf.h"
#include "../host/internal.h"
#include "harness.h"
#include "rand_model.h"

static const ozf_kernels *const KS[OZF_NISA] = {&ozf_kernels_scalar, &ozf_kernels_avx2, &ozf_kernels_avx512};

static int8_t rnd8(int extreme, int allow_m128)
{
    if (extreme)
        return (t_rand() & 1) ? 127 : (allow_m128 ? -128 : -127);
    return (int8_t)((int)(t_rand() % (allow_m128 ? 256 : 255)) - (allow_m128 ? 128 : 127));
}

static void *amalloc(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 64))
        return NULL;
    memset(p, 0, n ? n : 64);
    return p;
}

/* amx: the AMX form (gemm_amx), for 16 rows or more on tiles of 16 rows and
 * 64 columns: k = 16, 20 and 96 leave a partial tile of columns (its weight
 * tile reads past the matrix, against activation columns of 0), 17, 37 and
 * 33 + 4 rows a partial tile of rows, 16 and 48 weight rows an odd count of
 * row blocks */
/* a weight within +-wlim (wlim 128: any byte, rnd8): the extremes +-wlim
 * when `extreme`. Small limits take the AVX2 kernel's unsigned-activation
 * path, whose int16 sums rely on |w| <= 64 (host/fast/kern_avx2.c, gemm_u) */
static int8_t rndw(int extreme, int wlim)
{
    if (wlim >= 128)
        return rnd8(extreme, 1);
    if (extreme)
        return (int8_t)((t_rand() & 1) ? wlim : -wlim);
    return (int8_t)((int)(t_rand() % (2 * (unsigned)wlim + 1)) - wlim);
}

static void test_gemm(int isa, int amx)
{
    /* weight limits: any byte; 65 (just past the AVX2 unsigned path); 64, 63,
     * 31, 15, 7, 1 (1 to 16 vpmaddubsw results per int16 sum); 0 */
    static const int wlims[] = {128, 65, 64, 63, 31, 15, 7, 1, 0};
    /* k = 20: an odd number of 4-column groups; batches of 1 to 4 rows (and
     * tails of 8 + 4, 32 + 5) take the AVX-512 kernel's split accumulators */
    static const uint32_t rows_[] = {16, 32, 48, 80, 112, 192, 256}, k_[] = {16, 20, 64, 96, 4096},
                          nb_[] = {1, 2, 3, 4, 8, 9, 12, 16, 17, 37, 48, 64};
    const ozf_kernels *K = KS[isa];
    unsigned ri, ki, bi;
    int bad = 0, ext, wl = 0;
    char name[160];
    for (ext = 0; ext < 2 * (int)(sizeof wlims / sizeof wlims[0]) && !bad; ext++)
        for (ri = 0; ri < sizeof rows_ / sizeof rows_[0]; ri++)
            for (ki = 0; ki < 5; ki++)
                for (bi = 0; bi < sizeof nb_ / sizeof nb_[0] && !bad; bi++) {
                    uint32_t R = rows_[ri], Kd = k_[ki], NB = nb_[bi], i, b;
                    int8_t *w, *a;
                    void *wp;
                    int32_t *c;
                    wl = wlims[ext / 2];
                    if (Kd == 4096 && (R > 48 || (wl < 128 && NB > 4)))
                        continue;
                    w = amalloc((size_t)R * Kd), a = amalloc((size_t)NB * Kd);
                    wp = amalloc(K->pack_bytes(R, Kd));
                    /* 16 rows of guard past the batch's rows: nothing may write there */
                    c = amalloc(4 * (size_t)(NB + 16) * R);
                    for (i = 0; i < 16 * R; i++)
                        c[(size_t)NB * R + i] = 0x5A5A5A5A;
                    for (i = 0; i < R * Kd; i++)
                        w[i] = rndw(ext % 2, wl);
                    for (i = 0; i < NB * Kd; i++)
                        a[i] = rnd8(ext % 2, 0);
                    K->pack(w, R, Kd, wp);
                    (amx ? K->gemm_amx : K->gemm)(wp, R, Kd, a, Kd, NB, c, R);
                    for (b = 0; b < NB && !bad; b++)
                        for (i = 0; i < R; i++)
                            if (c[(size_t)b * R + i] != oz_dot_i8(w + (size_t)i * Kd, a + (size_t)b * Kd, (int)Kd)) {
                                bad = 1;
                                printf("#   rows %u k %u nb %u |w| <= %d: row %u batch %u\n", R, Kd, NB, wl, i, b);
                                break;
                            }
                    for (i = 0; i < 16 * R && !bad; i++)
                        if (c[(size_t)NB * R + i] != 0x5A5A5A5A) {
                            bad = 1;
                            printf("#   rows %u k %u nb %u: written past the batch's rows\n", R, Kd, NB);
                        }
                    free(w);
                    free(a);
                    free(wp);
                    free(c);
                }
    snprintf(name, sizeof name, "%s gemm%s equals the int8 dot products (random and +-127/-128 extremes, weights "
             "within +-128 to +-0, k up to 4096; nothing written past the batch)",
             ozf_isa_name(isa), amx ? " on AMX tiles" : "");
    t_result(!bad, name, NULL);
}

/* direct computations over a packed ring */
static int32_t ref_score(const int8_t *q, const int8_t *kp, uint32_t cap, uint32_t dh, uint32_t slot)
{
    int32_t s = 0;
    uint32_t d;
    for (d = 0; d < dh; d++)
        s += q[d] * kp[(size_t)(d / 4) * cap * 4 + slot * 4 + d % 4];
    return s;
}

/* One head in a ring of cap slots, in the engine's layout, filled at random
 * (or with +-127 extremes): keys kp, values vp, the key sums ks (128 x, as
 * the ring keeps them) and a query q; and the window of n slots from lo. */
static void random_head(uint32_t dh, uint32_t cap, int ext, int8_t *kp, int8_t *vp, int32_t *ks, int8_t *q)
{
    uint32_t j, d, slot;
    for (j = 0; j < dh * cap; j++) {
        kp[j] = rnd8(ext, 0);
        vp[j] = rnd8(ext, 0);
    }
    for (slot = 0; slot < cap; slot++) {
        int32_t sum = 0;
        for (d = 0; d < dh; d++)
            sum += kp[(size_t)(d / 4) * cap * 4 + slot * 4 + d % 4];
        ks[slot] = 128 * sum;
    }
    for (d = 0; d < dh; d++)
        q[d] = rnd8(ext, 0);
}

static ozf_window window_at(uint32_t lo, uint32_t n, uint32_t cap)
{
    ozf_window w;
    w.a0 = lo;
    if (lo + n <= cap) {
        w.b0 = lo + n;
        w.a1 = w.b1 = 0;
    } else {
        w.b0 = cap;
        w.a1 = 0;
        w.b1 = lo + n - cap;
    }
    return w;
}

static void test_attention_kernels(int isa)
{
    static const uint32_t dhs[] = {4, 8, 12, 16, 32, 64, 256};
    const ozf_kernels *K = KS[isa];
    int bad_s = 0, bad_v = 0, trial;
    char name[160];
    for (trial = 0; trial < 400; trial++) {
        uint32_t dh = dhs[trial % 7], cap = 16 * (1 + (uint32_t)(t_rand() % 33)), n = 1 + (uint32_t)(t_rand() % cap);
        uint32_t lo = (uint32_t)(t_rand() % cap), j, d, slot;
        int ext = trial % 3 == 0;
        int8_t *kp = amalloc((size_t)dh * cap), *vp = amalloc((size_t)dh * cap), q[OZ_MAX_DHEAD];
        int32_t *ks = amalloc(4 * (size_t)cap), *s = amalloc(4 * (size_t)cap), acc[OZ_MAX_DHEAD], ref[OZ_MAX_DHEAD];
        uint16_t *e = amalloc(2 * (size_t)cap);
        ozf_window w;
        if (n > 512)
            n = 512;
        random_head(dh, cap, ext, kp, vp, ks, q);
        w = window_at(lo, n, cap);
        for (j = 0; j < n; j++) /* e up to 32768, often exactly 32768 (ties at the maximum); some runs of 0 */
            e[j] = ext ? 32768
                       : trial % 4 == 1 && (j / 24) % 2 == 0 ? 0
                                                            : (uint16_t)(t_rand() % 3 == 0 ? 32768 : t_rand() % 32769);
        K->scores(q, kp, ks, cap, dh, &w, s);
        K->vsum(e, vp, cap, dh, &w, acc);
        for (d = 0; d < dh; d++)
            ref[d] = 0;
        for (j = 0; j < n; j++) {
            slot = j < w.b0 - w.a0 ? w.a0 + j : w.a1 + j - (w.b0 - w.a0);
            if (s[j] != ref_score(q, kp, cap, dh, slot))
                bad_s++;
            for (d = 0; d < dh; d++)
                ref[d] += (int32_t)e[j] * vp[(size_t)(slot / 4) * dh * 4 + d * 4 + slot % 4];
        }
        for (d = 0; d < dh; d++)
            if (acc[d] != ref[d])
                bad_v++;
        free(kp);
        free(vp);
        free(ks);
        free(s);
        free(e);
    }
    snprintf(name, sizeof name, "%s attention scores equal q.k over wrapped windows (head dims 4..256, extremes)",
             ozf_isa_name(isa));
    t_result(!bad_s, name, "%d wrong", bad_s);
    snprintf(name, sizeof name, "%s value sums equal sum e*v with e up to 32768 and v +-127 (no int16 overflow; runs of e = 0)",
             ozf_isa_name(isa));
    t_result(!bad_v, name, "%d wrong", bad_v);
}

/* One head's whole attention (kernel attend) against core's definition
 * (oz_att_logit, oz_att_weight, oz_att_mac, oz_att_recip, oz_att_out) over
 * wrapped windows, with score multipliers of three kinds: as the exporter
 * writes them (16 significant bits), random 31-bit ones with every shift, and
 * the largest. The AVX-512 kernel picks one of four requantisations from the
 * shift and the bound |q.k| <= dh 127^2; the trials are counted by the bound they meet
 * (computed here from docs/integer-model.md) so that each kind is exercised. */
/* One trial of test_attend: a random head, window and requantisation. */
typedef struct att_trial {
    int8_t *kp, *vp, q[OZ_MAX_DHEAD], o[OZ_MAX_DHEAD];
    int32_t *ks, am, as, slope;
    uint32_t dh, cap, n, lo;
    ozf_window w;
} att_trial;

static void att_trial_make(att_trial *t, int trial, int kinds[4])
{
    static const uint32_t dhs[] = {4, 8, 12, 16, 32, 64};
    int ext = trial % 5 == 0, kind = (trial / 6) % 3;
    uint64_t bound;
    t->dh = dhs[trial % 6], t->cap = 16 * (1 + (uint32_t)(t_rand() % 33)), t->n = 1 + (uint32_t)(t_rand() % t->cap);
    t->lo = (uint32_t)(t_rand() % t->cap);
    t->kp = amalloc((size_t)t->dh * t->cap), t->vp = amalloc((size_t)t->dh * t->cap), t->ks = amalloc(4 * (size_t)t->cap);
    if (t->n > 512)
        t->n = 512;
    random_head(t->dh, t->cap, ext, t->kp, t->vp, t->ks, t->q);
    if (kind == 0) { /* the exporter's: 16 significant bits, z about +-2^12 .. 2^20 */
        t->am = (int32_t)((32768 + t_rand() % 32768) << 15);
        t->as = 31 + 4 + (int32_t)(t_rand() % 12);
    } else if (kind == 1) {
        t->am = (int32_t)(t_rand() & 0x7FFFFFFF);
        t->as = 1 + (int32_t)(t_rand() % 62);
    } else {
        t->am = 0x7FFFFFFF; /* with shifts from 33: the high-half form's largest products */
        t->as = t_rand() % 4 == 0 ? 33 + (int32_t)(t_rand() % 4) : 1 + (int32_t)(t_rand() % 30);
    }
    t->slope = t_rand() % 4 == 0 ? 0 : t_rand() % 4 == 0 ? OZ_MAX_SLOPE : (int32_t)(t_rand() % (OZ_MAX_SLOPE + 1));
    bound = (uint64_t)t->dh * 127 * 127 * (uint64_t)t->am + ((uint64_t)1 << t->as);
    kinds[t->as >= 33                                        ? 3
          : bound < ((uint64_t)1 << (t->as + 24))            ? 0
          : bound < ((uint64_t)1 << (t->as + 31))            ? 1
                                                             : 2]++;
    t->w = window_at(t->lo, t->n, t->cap);
    memset(t->o, 0x55, sizeof t->o);
}

static void att_trial_job(att_trial *t, ozf_att_job *j)
{
    j->q = t->q, j->kp = t->kp, j->vp = t->vp, j->ksum = t->ks, j->w = t->w, j->cap = t->cap, j->dh = t->dh;
    j->n = t->n, j->am = t->am, j->as = t->as, j->slope = t->slope, j->o = t->o;
}

/* 1 if t->o is core's attention (printing the first difference if bad is 0) */
static int att_trial_ok(const att_trial *t, int bad)
{
    int32_t zs[OZ_MAX_CTX], acc[OZ_MAX_DHEAD], zmax = OZ_ATT_ZMIN;
    uint32_t j, d, slot, E = 0, dh = t->dh;
    int64_t R;
    int ok = 1;
    for (j = 0; j < t->n; j++) {
        slot = (t->lo + j) % t->cap;
        zs[j] = oz_att_logit(ref_score(t->q, t->kp, t->cap, dh, slot), t->am, t->as, t->slope, t->n - 1 - j);
        zmax = zs[j] > zmax ? zs[j] : zmax;
    }
    for (d = 0; d < dh; d++)
        acc[d] = 0;
    for (j = 0; j < t->n; j++) {
        uint32_t e = oz_att_weight(zmax, zs[j]);
        slot = (t->lo + j) % t->cap;
        E += e;
        for (d = 0; d < dh; d++)
            acc[d] = oz_att_mac(acc[d], e, t->vp[(size_t)(slot / 4) * dh * 4 + d * 4 + slot % 4]);
    }
    R = oz_att_recip(E);
    for (d = 0; d < dh && ok; d++)
        if (t->o[d] != oz_att_out(acc[d], R)) {
            if (!bad)
                printf("#   dh %u n %u am %d as %d slope %d: dim %u is %d, core %d\n", dh, t->n, t->am, t->as, t->slope, d,
                       t->o[d], oz_att_out(acc[d], R));
            ok = 0;
        }
    return ok;
}

/* att_trial_ok, then frees the trial */
static int att_trial_check(att_trial *t, int bad)
{
    int ok = att_trial_ok(t, bad);
    free(t->kp);
    free(t->vp);
    free(t->ks);
    return ok;
}

/* vbmi: the AVX-512 attention compiled for VBMI (ozf_kernels.attend_vbmi);
 * pair: the pair kernel (attend2), on two trials at a time */
/* the attention tests' work space (windows up to 512, two rows); reports a failure if there is none */
static int att_scratch(ozf_scratch *sc)
{
    static const oz_config big = {1, 64, 1, 64, 512, 8, 0};
    if (ozf_scratch_init(sc, &big, 2)) {
        t_result(0, "attention scratch", NULL);
        return -1;
    }
    return 0;
}

static void test_attend(int isa, int vbmi, int pair)
{
    const ozf_kernels *K = KS[isa];
    int bad = 0, trial, kinds[4] = {0, 0, 0, 0};
    ozf_scratch sc;
    att_trial t[2];
    ozf_att_job j[2];
    char name[220];
    if (att_scratch(&sc))
        return;
    for (trial = 0; trial < 900; trial++) {
        att_trial *tr = &t[pair ? trial % 2 : 0];
        att_trial_make(tr, trial, kinds);
        if (!pair) {
            (vbmi ? K->attend_vbmi : K->attend)(tr->q, tr->kp, tr->ks, tr->vp, tr->cap, tr->dh, &tr->w, tr->n, tr->am,
                                                tr->as, tr->slope, &sc, tr->o);
            bad += !att_trial_check(tr, bad);
        } else if (trial % 2) {
            att_trial_job(&t[0], &j[0]);
            att_trial_job(&t[1], &j[1]);
            (vbmi ? K->attend2_vbmi : K->attend2)(&j[0], &j[1], &sc);
            bad += !att_trial_check(&t[0], bad);
            bad += !att_trial_check(&t[1], bad);
        }
    }
    ozf_scratch_free(&sc);
    snprintf(name, sizeof name,
             "%s%s whole-head attention%s equals core's (wrapped windows, extremes, %d/%d/%d/%d trials with shift >= 33 "
             "/ scores within +-2^24 / within int32 / wider)",
             ozf_isa_name(isa), vbmi ? " (VBMI)" : "", pair ? ", two at a time (attend2)," : "", kinds[3], kinds[0],
             kinds[1], kinds[2]);
    t_result(!bad && kinds[0] && kinds[1] && kinds[2] && kinds[3], name, "%d wrong", bad);
}

#define K_HAS_PAIR(isa) (KS[isa]->attend2 != NULL)

/* The pair kernel on two queries over the same head of one ring, as the
 * forward pass of encode calls it (consecutive rows share their keys and
 * values): the second window ends 0, 1, 2, 5 or cap - 1 slots after the
 * first (the last: one slot before it) or anywhere, each of its own length
 * (trimmed windows), wrapped or not, with one, a few or many logits equal
 * to the maximum (identical keys, no slope); each output against core's. */
static void test_attend_shared(int isa, int vbmi)
{
    const ozf_kernels *K = KS[isa];
    int bad = 0, trial, kinds[4] = {0, 0, 0, 0};
    ozf_scratch sc;
    att_trial t[2];
    ozf_att_job j[2];
    char name[200];
    if (att_scratch(&sc))
        return;
    for (trial = 0; trial < 600; trial++) {
        uint32_t end, shift, cap, n2, lim, d;
        att_trial_make(&t[0], trial, kinds);
        cap = t[0].cap;
        if (trial % 7 == 3) {
            /* every key the same and no slope: every logit is the maximum,
             * weight 2^15 everywhere (a few in short windows, many in long) */
            uint32_t slot;
            for (slot = 0; slot < cap; slot++) {
                for (d = 0; d < t[0].dh; d++)
                    t[0].kp[(size_t)(d / 4) * cap * 4 + slot * 4 + d % 4] = t[0].kp[(size_t)(d / 4) * cap * 4 + d % 4];
                t[0].ks[slot] = t[0].ks[0];
            }
            t[0].slope = 0;
            if (trial % 14 == 3) {
                t[0].n = 1 + (uint32_t)(t_rand() % 6);
                t[0].w = window_at(t[0].lo, t[0].n, cap);
            }
        }
        t[1] = t[0]; /* the same ring: keys, values, key sums, requantisation, slope */
        for (d = 0; d < t[0].dh; d++) /* another query */
            t[1].q[d] = rnd8(trial % 5 == 0, 0);
        switch (trial % 6) {
        case 0: shift = 0; break;
        case 1: case 2: shift = 1; break;
        case 3: shift = 2; break;
        case 4: shift = trial % 12 == 4 ? 5 : cap - 1; break;
        default: shift = (uint32_t)(t_rand() % cap); break;
        }
        end = (t[0].lo + t[0].n + shift) % cap; /* the slot after the second window */
        lim = cap < 512 ? cap : 512;
        n2 = trial % 3 == 0 ? t[0].n + (t[0].n < lim) : 1 + (uint32_t)(t_rand() % (trial % 7 == 3 ? 8 : lim));
        if (n2 > lim)
            n2 = lim;
        t[1].n = n2;
        t[1].lo = (end + cap - n2) % cap;
        t[1].w = window_at(t[1].lo, n2, cap);
        memset(t[1].o, 0x55, sizeof t[1].o);
        att_trial_job(&t[0], &j[0]);
        att_trial_job(&t[1], &j[1]);
        if (trial % 2)
            (vbmi ? K->attend2_vbmi : K->attend2)(&j[1], &j[0], &sc);
        else
            (vbmi ? K->attend2_vbmi : K->attend2)(&j[0], &j[1], &sc);
        bad += !att_trial_ok(&t[1], bad);
        bad += !att_trial_check(&t[0], bad);
    }
    ozf_scratch_free(&sc);
    snprintf(name, sizeof name,
             "%s%s pair attention over one ring's head (windows ending 0, 1, 2, 5, -1 or any slots apart, "
             "lengths of their own; one, a few or many logits at the maximum) equals core's",
             ozf_isa_name(isa), vbmi ? " (VBMI)" : "");
    t_result(!bad, name, "%d wrong", bad);
}

static void test_small_kernels(int isa)
{
    const ozf_kernels *K = KS[isa];
    int32_t acc[1000], out[1000], t[1000];
    uint16_t e[1000];
    int bad = 0, trial, i;
    char name[128];
    for (trial = 0; trial < 200; trial++) {
        int32_t m = (int32_t)(t_rand() & 0x7FFFFFFF), s = 1 + (int32_t)(t_rand() % 62), n = 1 + (int32_t)(t_rand() % 999);
        for (i = 0; i < n; i++)
            acc[i] = trial % 4 == 0 ? ((t_rand() & 1) ? INT32_MAX : INT32_MIN + 1) : (int32_t)t_rand();
        K->rq_uniform(acc, (uint32_t)n, m, s, -OZ_Z_MAX, OZ_Z_MAX, out);
        for (i = 0; i < n; i++)
            if (out[i] != (int32_t)oz_clamp64(oz_rq(acc[i], m, s), -OZ_Z_MAX, OZ_Z_MAX))
                bad = 1;
    }
    snprintf(name, sizeof name, "%s requantisation equals oz_rq (all shifts, extreme accumulators)", ozf_isa_name(isa));
    t_result(!bad, name, NULL);
    bad = 0;
    /* one (m, s) per row: every shift >= 32 (the exporter's usual case, the
     * AVX-512 kernel's 32-bit form), every shift < 32, and mixed */
    for (trial = 0; trial < 300 && !bad; trial++) {
        static const int32_t los[3] = {-OZ_ACT_MAX, -OZ_RES_MAX, -OZ_Z_MAX};
        int32_t ms[1000], ss[1000], n = 1 + (int32_t)(t_rand() % 999), kind = trial % 3, lo = los[(trial / 3) % 3];
        for (i = 0; i < n; i++) {
            ms[i] = (int32_t)(t_rand() & 0x7FFFFFFF);
            ss[i] = kind == 0 ? 32 + (int32_t)(t_rand() % 31) : kind == 1 ? 1 + (int32_t)(t_rand() % 31)
                                                                          : 1 + (int32_t)(t_rand() % 62);
            acc[i] = trial % 4 == 0 ? ((t_rand() & 1) ? INT32_MAX : INT32_MIN + 1) : (int32_t)t_rand();
        }
        K->rq_rows(acc, (uint32_t)n, ms, ss, lo, -lo, out);
        for (i = 0; i < n; i++)
            if (out[i] != (int32_t)oz_clamp64(oz_rq(acc[i], ms[i], ss[i]), lo, -lo))
                bad = 1;
    }
    snprintf(name, sizeof name, "%s per-row requantisation equals oz_rq (shifts >= 32, < 32, mixed; extreme accumulators)",
             ozf_isa_name(isa));
    t_result(!bad, name, "trial %d", trial - 1);
    bad = 0;
    /* prepared matrices (ozf_rq_prep) through rq_rows_q. Even trials: every
     * shift 33 to 62 (OZF_RQ_HI), multipliers of either sign up to INT32_MIN,
     * extreme accumulators. Odd trials: shifts 1 to 32 with accumulators
     * within the bound amax < 2^(s-1) given to ozf_rq_prep (OZF_RQ_LO), up
     * to +-amax. A shift of 32 among the HI ones, or a bound one too large
     * for the LO ones, must leave the matrix to rq_rows (OZF_RQ_ANY). */
    for (trial = 0; trial < 600 && !bad && K->rq_rows_q; trial++) {
        static const int32_t los[3] = {-OZ_ACT_MAX, -OZ_RES_MAX, -OZ_Z_MAX};
        int32_t pairs[2 * 1024], *buf, lo = los[(trial / 2) % 3], smin = 99;
        uint32_t nr = 16 * (1 + (uint32_t)(t_rand() % 62)), r; /* <= 992 */
        if (trial % 3 == 2) /* columns past the last whole vector */
            nr -= 1 + (uint32_t)(t_rand() % 15);
        int hi = trial % 2 == 0, spoil = trial % 50 == 7 || trial % 50 == 8, want;
        uint64_t amax;
        ozf_rq q;
        for (r = 0; r < nr; r++) {
            uint32_t x = (uint32_t)t_rand();
            pairs[2 * r] = trial % 4 < 2 ? (int32_t)x : (int32_t)(x & 0x7FFFFFFF);
            if (trial % 10 < 2 && r % 7 == 0)
                pairs[2 * r] = (r & 8) ? INT32_MIN : INT32_MAX;
            if (hi)
                pairs[2 * r + 1] = trial % 5 == 2 && r % 16 == 15 ? 62 : 33 + (int32_t)(t_rand() % 30);
            else
                pairs[2 * r + 1] = trial % 5 == 3 && r % 16 == 15 ? 32 : 1 + (int32_t)(t_rand() % 32);
            smin = pairs[2 * r + 1] < smin ? pairs[2 * r + 1] : smin;
        }
        if (spoil && hi)
            pairs[2 * (nr - 1) + 1] = 32;
        amax = hi ? (uint64_t)1 << 31 : ((uint64_t)1 << (smin - 1)) - (spoil ? 0 : 1);
        for (r = 0; r < nr; r++) {
            if (hi)
                acc[r] = trial % 4 == 0 ? ((t_rand() & 1) ? INT32_MAX : INT32_MIN + 1) : (int32_t)t_rand();
            else if (trial % 4 == 1)
                acc[r] = (t_rand() & 1) ? (int32_t)(amax - spoil) : -(int32_t)(amax - spoil);
            else
                acc[r] = (int32_t)((int64_t)(t_rand() % (2 * (amax - spoil) + 1)) - (int64_t)(amax - spoil));
        }
        buf = amalloc(4 * ozf_rq_words(nr));
        ozf_rq_prep(&q, pairs, nr, amax, buf);
        want = spoil ? OZF_RQ_ANY : hi ? OZF_RQ_HI : OZF_RQ_LO;
        if (q.mode != want) {
            printf("#   trial %d: mode %d, want %d\n", trial, q.mode, want);
            bad = 1;
        } else if (q.mode != OZF_RQ_ANY) {
            K->rq_rows_q(acc, nr, &q, lo, -lo, out);
            for (r = 0; r < nr; r++)
                if (out[r] != (int32_t)oz_clamp64(oz_rq(acc[r], pairs[2 * r], pairs[2 * r + 1]), lo, -lo)) {
                    printf("#   trial %d row %u: acc %d m %d s %d: %d, core %d\n", trial, r, acc[r], pairs[2 * r],
                           pairs[2 * r + 1], out[r], (int32_t)oz_clamp64(oz_rq(acc[r], pairs[2 * r], pairs[2 * r + 1]), lo, -lo));
                    bad = 1;
                    break;
                }
            /* the forward pass's form: 1 to 17 rows of these nr columns,
             * in place on odd trials */
            if (!bad && K->rq_rows_qn) {
                uint32_t nrows = 1 + (uint32_t)(t_rand() % 17), j;
                int32_t *a2 = amalloc(4 * (size_t)nrows * nr), *o2 = amalloc(4 * (size_t)nrows * nr);
                for (r = 0; r < nrows; r++)
                    for (j = 0; j < nr; j++)
                        a2[r * nr + j] = o2[r * nr + j] = acc[(j + 5 * r) % nr];
                K->rq_rows_qn(trial & 2 ? o2 : a2, nrows, nr, &q, lo, -lo, o2);
                for (r = 0; r < nrows && !bad; r++)
                    for (j = 0; j < nr; j++)
                        if (o2[r * nr + j] != (int32_t)oz_clamp64(oz_rq(a2[r * nr + j], pairs[2 * j], pairs[2 * j + 1]), lo, -lo)) {
                            printf("#   trial %d: rq_rows_qn row %u of %u, column %u differs\n", trial, r, nrows, j);
                            bad = 1;
                            break;
                        }
                free(a2);
                free(o2);
            }
        }
        free(buf);
    }
    if (K->rq_rows_q) {
        snprintf(name, sizeof name, "%s prepared requantisation (rq_rows_q; rq_rows_qn, 1-17 rows): shifts 33-62; "
                 "1-32, bounded accumulators: equals oz_rq", ozf_isa_name(isa));
        t_result(!bad, name, "trial %d", trial - 1);
    }
    bad = 0;
    for (i = 0; i < 1000; i++)
        t[i] = i < 500 ? i * 9 : (int32_t)(t_rand() % (1 << 27));
    K->exp2q15(t, 1000, e);
    for (i = 0; i < 1000; i++)
        if (e[i] != oz_exp2q15(t[i]))
            bad = 1;
    snprintf(name, sizeof name, "%s exp2 equals oz_exp2q15 (0 .. 2^27)", ozf_isa_name(isa));
    t_result(!bad, name, NULL);
}

/* The layer glue of the forward pass (ring_put, keep_stats, act) against a
 * direct computation: the ring layout as ozf.h documents it (and bytes of
 * other slots left alone), sum |q| and q . k at every head width that is a
 * multiple of 4 up to 256 with extreme values, and the activation table for
 * every byte and lengths around the vector widths (with and without VBMI
 * where the CPU has it). */
static void test_glue(int isa)
{
    const ozf_kernels *K = KS[isa];
    static const uint32_t heads[][2] = {{16, 4}, {48, 4}, {96, 6}, {96, 2}, {64, 1}, {256, 1}, {40, 2}, {20, 5}};
    int8_t q[256], k[256], table[256], g[301], want[300];
    char name[160];
    int bad = 0, trial, vb;
    uint32_t hi, i, d, n;
    for (hi = 0; hi < sizeof heads / sizeof heads[0] && !bad; hi++) {
        oz_config c = {2, heads[hi][0], heads[hi][1], 64, 16, 8, 0};
        uint32_t D = c.d_model, H = c.n_head, Dh = D / H, cap = 32, l, slot, h;
        ozf_ring r;
        int8_t *kk, *vv;
        if (ozf_ring_init(&r, &c, cap)) {
            t_result(0, "ring init", NULL);
            return;
        }
        kk = amalloc((size_t)2 * cap * D);
        vv = amalloc((size_t)2 * cap * D);
        /* every slot of both layers, in a scrambled order, then check all */
        for (i = 0; i < 2 * cap; i++) {
            l = i % 2;
            slot = (i * 7) % cap;
            for (d = 0; d < D; d++) {
                kk[((size_t)l * cap + slot) * D + d] = rnd8(t_rand() % 8 == 0, 0);
                vv[((size_t)l * cap + slot) * D + d] = rnd8(t_rand() % 8 == 0, 0);
            }
            K->ring_put(&r, &c, l, slot, kk + ((size_t)l * cap + slot) * D, vv + ((size_t)l * cap + slot) * D);
        }
        for (l = 0; l < 2; l++)
            for (h = 0; h < H; h++)
                for (slot = 0; slot < cap; slot++) {
                    const int8_t *ks = kk + ((size_t)l * cap + slot) * D + h * Dh, *vs = vv + ((size_t)l * cap + slot) * D + h * Dh;
                    size_t base = (size_t)l * D * cap + (size_t)h * Dh * cap;
                    int32_t sum = 0;
                    for (d = 0; d < Dh; d++) {
                        sum += ks[d];
                        if (r.k[base + ((size_t)(d / 4) * cap + slot) * 4 + d % 4] != ks[d] ||
                            r.v[base + ((size_t)(slot / 4) * Dh + d) * 4 + slot % 4] != vs[d])
                            bad = 1;
                    }
                    if (r.ksum[((size_t)l * H + h) * cap + slot] != 128 * sum)
                        bad = 1;
                }
        free(kk);
        free(vv);
        ozf_ring_free(&r);
    }
    snprintf(name, sizeof name, "%s ring_put lays out keys, values and key sums as documented (head widths 4 to 256)",
             ozf_isa_name(isa));
    t_result(!bad, name, "head shape %u", hi - 1);
    bad = 0;
    for (trial = 0; trial < 400 && !bad; trial++) {
        uint32_t dh = 4 * (1 + (uint32_t)trial % 64);
        int32_t l1 = 0, dot = 0, gl1, gdot;
        for (d = 0; d < dh; d++) {
            q[d] = rnd8(trial % 3 == 0, 0);
            k[d] = rnd8(trial % 3 == 0, 0);
            l1 += q[d] < 0 ? -q[d] : q[d];
            dot += q[d] * k[d];
        }
        K->keep_stats(q, k, dh, &gl1, &gdot);
        bad = gl1 != l1 || gdot != dot;
    }
    snprintf(name, sizeof name, "%s keep_stats: sum |q| and q.k, head widths 4 to 256, extreme values", ozf_isa_name(isa));
    t_result(!bad, name, "trial %d", trial - 1);
    for (vb = 0; vb < 2; vb++) {
        if (vb && !(isa == OZF_AVX512 && __builtin_cpu_supports("avx512vbmi")))
            continue;
        bad = 0;
        for (trial = 0; trial < 60 && !bad; trial++) {
            for (i = 0; i < 256; i++)
                table[i] = (int8_t)(t_rand() & 255);
            n = trial < 30 ? 1 + (uint32_t)trial * 10 : 1 + (uint32_t)(t_rand() % 300);
            for (i = 0; i < n; i++) {
                g[i] = (int8_t)(trial % 2 ? (int)i - 128 : (int)(t_rand() & 255) - 128);
                want[i] = table[g[i] + 128];
            }
            g[n] = 55; /* past the end: left alone (g has room for it at n = 300) */
            K->act(vb, table, g, n);
            bad = memcmp(g, want, n) != 0 || g[n] != 55;
        }
        snprintf(name, sizeof name, "%s activation table for every byte, lengths 1 to 300%s", ozf_isa_name(isa),
                 vb ? " (VBMI)" : "");
        t_result(!bad, name, "trial %d", trial - 1);
    }
}

/* rmsnorm_rows against core's oz_rmsnorm row by row. Row kinds: random
 * residuals of every magnitude (2^0 to 2^23), the largest +-(2^23 - 1)
 * (sum of squares near 2^56 at n = 1024), all zero (rms = 0, inv = 0),
 * tiny values (rms 1 to 64: inv >= 2^31, past 32 bits), one spike among
 * zeros (outputs that saturate at +-127), and a row of one repeated value.
 * Widths n: 4 to 1024, powers of 2 and not (floor(ss / n) by shift and by
 * division); row counts 1 to 33 (partial groups of 8). */
static void test_rmsnorm(int isa)
{
    static const uint32_t widths[] = {4, 12, 16, 20, 32, 48, 64, 96, 100, 256, 1024};
    const ozf_kernels *K = KS[isa];
    int32_t *x = malloc(sizeof(int32_t) * 33 * 1024);
    int8_t *y = malloc(33 * 1024 + 1), *want = malloc(33 * 1024);
    char name[160];
    int bad = 0, trial, kinds = 0;
    for (trial = 0; trial < 600 && !bad && x && y && want; trial++) {
        uint32_t n = widths[trial % (sizeof widths / sizeof widths[0])], nrows = 1 + (uint32_t)(t_rand() % 33), r, i;
        for (r = 0; r < nrows; r++) {
            int32_t *xr = x + (size_t)r * n;
            int kind = (int)(t_rand() % 6);
            int sh = (int)(t_rand() % 24);
            int32_t rep = (int32_t)(t_rand() % 2000001) - 1000000;
            kinds |= 1 << kind;
            for (i = 0; i < n; i++) {
                int32_t v;
                switch (kind) {
                case 0: v = (int32_t)(t_rand() % ((1u << sh) * 2 + 1)) - (int32_t)(1u << sh); break;
                case 1: v = t_rand() % 2 ? OZ_RES_MAX : -OZ_RES_MAX; break;
                case 2: v = 0; break;
                case 3: v = (int32_t)(t_rand() % 129) - 64; break;
                case 4: v = i == (uint32_t)sh % n ? (t_rand() % 2 ? OZ_RES_MAX : -OZ_RES_MAX) >> (t_rand() % 20) : 0; break;
                default: v = rep; break;
                }
                xr[i] = v;
            }
            oz_rmsnorm(xr, want + (size_t)r * n, (int)n);
        }
        y[(size_t)nrows * n] = 55; /* past the last row: left alone */
        K->rmsnorm_rows(x, y, nrows, n);
        bad = memcmp(y, want, (size_t)nrows * n) != 0 || y[(size_t)nrows * n] != 55;
    }
    snprintf(name, sizeof name, "%s rmsnorm_rows equals oz_rmsnorm (widths 4 to 1024, 1 to 33 rows, zero, tiny, "
             "largest, saturating rows)", ozf_isa_name(isa));
    t_result(!bad && kinds == 63, name, "trial %d", trial - 1);
    free(x);
    free(y);
    free(want);
}

static void test_freq(int isa)
{
    const ozf_kernels *K = KS[isa];
    int32_t z[256];
    uint32_t a[257], b[257];
    int trial, s, bad = 0, bad_find = 0, bad_sym = 0;
    char name[200];
    for (trial = 0; trial < 4000 && !bad; trial++) {
        int mode = trial % 8;
        uint32_t p1 = t_rand() % 256, p2 = t_rand() % 256;
        for (s = 0; s < 256; s++) {
            if (mode == 0)
                z[s] = (int32_t)(t_rand() % 4096) - 2048;
            else if (mode == 1)
                z[s] = (int32_t)(t_rand() % (2 * OZ_Z_MAX + 1)) - OZ_Z_MAX;
            else if (mode == 2)
                z[s] = 7; /* all equal: the first byte gets the rest */
            else if (mode == 3)
                z[s] = s == 200 ? OZ_Z_MAX : -OZ_Z_MAX;
            else if (mode == 4)
                z[s] = (int32_t)(t_rand() % 600) * ((t_rand() & 1) ? 1 : -1);
            else if (mode == 5)
                z[s] = s < 2 ? 1000 : (int32_t)(t_rand() % 900); /* ties for the maximum */
            else if (mode == 6) /* two maxima anywhere (the first is best), the rest far or near the e = 0 edge */
                z[s] = (uint32_t)s == p1 || (uint32_t)s == p2 ? 5000 : 5000 - 4094 - (int32_t)(t_rand() % 4);
            else /* one certain symbol: E near 2^15, R near 2^37 */
                z[s] = (uint32_t)s == p1 ? 0 : -4096 - (int32_t)(t_rand() % 100000);
        }
        oz_freq_cum(z, a);
        K->freq_cum(z, b);
        if (memcmp(a, b, sizeof a))
            bad = 1;
        /* decoding's search: every symbol's first and last slot, and random ones */
        for (s = 0; s < 256 + 64 && !bad_find; s++) {
            uint32_t slot = s < 256 ? ((trial & 1) ? a[s] : a[s + 1] - 1) : (uint32_t)(t_rand() % ((uint32_t)1 << OZ_PROB_BITS));
            uint32_t want = oz_cum_find(a, slot), start = 0, freq = 0, got = 999;
            K->freq_find(z, 1, &slot, &got, &start, &freq);
            if (got != want || start != a[want] || freq != a[want + 1] - a[want]) {
                printf("#   trial %d slot %u: symbol %u [%u, +%u), core %u [%u, +%u)\n", trial, slot, got, start, freq,
                       want, a[want], a[want + 1] - a[want]);
                bad_find = 1;
            }
        }
        /* encoding's question: every symbol */
        for (s = 0; s < 256 && !bad_sym; s++) {
            uint8_t sb = (uint8_t)s;
            uint32_t sf[2] = {0, 0}, start, freq;
            K->freq_sym(z, 1, &sb, sf);
            start = sf[0], freq = sf[1];
            if (start != a[s] || freq != a[s + 1] - a[s]) {
                printf("#   trial %d symbol %d: [%u, +%u), core [%u, +%u)\n", trial, s, start, freq, a[s], a[s + 1] - a[s]);
                bad_sym = 1;
            }
        }
    }
    snprintf(name, sizeof name, "%s frequency tables equal oz_freq_cum (random, extreme, tied logits)", ozf_isa_name(isa));
    t_result(!bad, name, "trial %d", trial);
    snprintf(name, sizeof name, "%s decoding's symbol search equals oz_freq_cum + oz_cum_find (every symbol's "
             "first and last slot, random slots)", ozf_isa_name(isa));
    t_result(!bad_find, name, NULL);
    snprintf(name, sizeof name, "%s encoding's start and frequency of a symbol equal oz_freq_cum's (every symbol)",
             ozf_isa_name(isa));
    t_result(!bad_sym, name, NULL);
}

/* the searches over many rows at once (decode's and encode's form: the
 * AVX-512 kernels take up to 16 rows pass by pass), against core row by
 * row: 1 to 40 rows of logits of every kind of test_freq, each with its
 * own slot and symbol; nothing past the last row is written */
static void test_freq_rows(int isa)
{
    const ozf_kernels *K = KS[isa];
    enum { MAXR = 40 };
    int32_t *z = malloc(sizeof *z * 256 * MAXR);
    uint32_t cum[257], slot[MAXR], sym[MAXR + 1], start[MAXR + 1], freq[MAXR + 1], sf[2 * MAXR + 2];
    uint8_t want_sym[MAXR];
    int trial, bad = 0, sizes = 0;
    char name[200];
    for (trial = 0; trial < 600 && !bad && z; trial++) {
        uint32_t nrows = trial < 40 ? (uint32_t)trial + 1 : 1 + t_rand() % MAXR, r, s;
        sizes |= nrows > 16 && nrows % 16 ? 1 : 0;
        for (r = 0; r < nrows; r++) {
            int32_t *zr = z + (size_t)r * 256;
            int mode = (int)(t_rand() % 5);
            uint32_t p1 = t_rand() % 256;
            for (s = 0; s < 256; s++)
                zr[s] = mode == 0   ? (int32_t)(t_rand() % 4096) - 2048
                        : mode == 1 ? (int32_t)(t_rand() % (2 * OZ_Z_MAX + 1)) - OZ_Z_MAX
                        : mode == 2 ? 7
                        : mode == 3 ? (s == p1 ? 0 : -4096 - (int32_t)(t_rand() % 100000))
                                    : (s == p1 ? 5000 : 5000 - 4094 - (int32_t)(t_rand() % 4));
            oz_freq_cum(zr, cum);
            want_sym[r] = (uint8_t)(t_rand() % 256);
            slot[r] = r % 3 == 0 ? cum[want_sym[r]] : r % 3 == 1 ? cum[want_sym[r] + 1] - 1 : t_rand() % (1u << OZ_PROB_BITS);
        }
        sym[nrows] = start[nrows] = freq[nrows] = 0xDEAD;
        sf[2 * nrows] = sf[2 * nrows + 1] = 0xDEAD;
        K->freq_find(z, nrows, slot, sym, start, freq);
        K->freq_sym(z, nrows, want_sym, sf);
        for (r = 0; r < nrows && !bad; r++) {
            uint32_t w;
            oz_freq_cum(z + (size_t)r * 256, cum);
            w = oz_cum_find(cum, slot[r]);
            if (sym[r] != w || start[r] != cum[w] || freq[r] != cum[w + 1] - cum[w] || sf[2 * r] != cum[want_sym[r]] ||
                sf[2 * r + 1] != cum[want_sym[r] + 1] - cum[want_sym[r]]) {
                printf("#   trial %d, %u rows: row %u wrong\n", trial, nrows, r);
                bad = 1;
            }
        }
        if (sym[nrows] != 0xDEAD || start[nrows] != 0xDEAD || freq[nrows] != 0xDEAD || sf[2 * nrows] != 0xDEAD ||
            sf[2 * nrows + 1] != 0xDEAD)
            bad = 1;
    }
    snprintf(name, sizeof name, "%s symbol search and symbol frequencies over 1 to 40 rows at once equal core's row by row",
             ozf_isa_name(isa));
    t_result(z && !bad && sizes, name, "trial %d", trial - 1);
    free(z);
}

static uint8_t *real_data(size_t want, size_t *n)
{
    const char *dir = t_corpus();
    char path[512];
    uint8_t *d = NULL;
    if (dir) {
        snprintf(path, sizeof path, "%s/log-HDFS_2k.log", dir);
        d = t_read_file(path, n);
    }
    if (!d)
        d = t_read_file("data/demo.json", n);
    if (d && *n > want)
        *n = want;
    return d;
}

/* The engine's logits equal core's at every position: decode-style (nrows
 * streams, one row each, each stream its own text) and encode-style (rows =
 * consecutive positions of one stream). */
/* novbmi: the AVX-512 engine with its VBMI path (the activation table)
 * turned off, as on a CPU without VBMI */
/* variant 1: without VBMI, 2: without AMX (where the CPU has them): turns
 * them off in fm and names the engine */
static const char *apply_variant(ozf_model *fm, int isa, int variant)
{
    if (variant == 1)
        fm->vbmi = 0;
    if (variant == 2) {
        fm->amx = 0;
        return "avx512 (no AMX)";
    }
    if (fm->amx)
        return variant == 1 ? "avx512 (no VBMI, AMX)" : "avx512 (AMX)";
    return variant == 1 ? "avx512 (no VBMI)" : ozf_isa_name(isa);
}

static void test_forward(int isa, int variant)
{
    static const oz_config shapes[] = {{2, 32, 2, 64, 64, 5, OZ_CFG_TIED},
                                       {2, 64, 4, 128, 24, 8, OZ_CFG_TIED},
                                       {3, 48, 4, 96, 7, 6, 0},
                                       {1, 32, 8, 32, 33, 8, OZ_CFG_TIED},
                                       /* head width 48: several chunks of the SIMD glue */
                                       {1, 96, 2, 64, 40, 8, 0},
                                       /* steep ALiBi slopes: windows trimmed (attend_keep) */
                                       {2, 32, 2, 64, 200, 5, OZ_CFG_TIED}};
    size_t n;
    uint8_t *data = real_data(6000, &n);
    unsigned si;
    char name[200];
    for (si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const oz_config *c = &shapes[si];
        uint32_t size = 0, S = 5, steps = 2 * c->ctx + 40, t, r, k, where = 0;
        int steep = si == 5;
        const char *isa_name;
        uint8_t *img;
        uint64_t trim_dec, trim_enc;
        rand_slope_max = steep ? 6000 : 200;
        img = random_image(c, 1.0, &size);
        oz_model m;
        ozf_model fm;
        ozf_scratch sc;
        ozf_ring rings[5], *rp[5], enc_ring, *erp[64];
        oz_state st[5];
        void *stmem[5], *ws;
        int32_t *zf = amalloc(4 * 256 * 64), zr[256];
        uint32_t pos[64];
        uint8_t tok[64];
        int ok = 1;
        oz_model_bind(&m, img, size);
        if (ozf_model_init(&fm, &m, isa) || ozf_scratch_init(&sc, c, 64)) {
            t_result(0, "engine init", NULL);
            continue;
        }
        isa_name = apply_variant(&fm, isa, variant);
        ws = amalloc(oz_step_ws_bytes(c));
        for (r = 0; r < S; r++) {
            ozf_ring_init(&rings[r], c, ozf_ring_cap(c->ctx, 1));
            rp[r] = &rings[r];
            stmem[r] = amalloc(oz_state_bytes(c, c->ctx));
            oz_state_init(&st[r], c, stmem[r], c->ctx);
        }
        /* decode-style: 5 streams over different parts of the text */
        sc.trimmed = 0;
        for (t = 0; t < steps && ok; t++) {
            for (r = 0; r < S; r++) {
                pos[r] = t;
                tok[r] = t ? data[(r * 997 + t - 1) % n] : 0;
            }
            ozf_forward(&fm, &sc, S, tok, pos, rp, zf);
            for (r = 0; r < S && ok; r++) {
                oz_forward_step(&m, &st[r], tok[r], ws, zr);
                if (memcmp(zr, zf + (size_t)r * 256, sizeof zr)) {
                    ok = 0;
                    where = t;
                }
            }
        }
        trim_dec = sc.trimmed;
        snprintf(name, sizeof name,
                 "%s engine = core, batch of 5 streams, L%u D%u H%u F%u W%u, %u positions%s (%llu positions trimmed)",
                 isa_name, c->n_layer, c->d_model, c->n_head, c->d_ff, c->ctx, steps,
                 steep ? ", steep slopes" : "", (unsigned long long)trim_dec);
        t_result(ok && (!steep || trim_dec > 0), name, "first difference at position %u", where);
        /* encode-style: blocks of 64 positions of one stream, against the step */
        ok = 1;
        ozf_ring_init(&enc_ring, c, ozf_ring_cap(c->ctx, 64));
        oz_state_reset(&st[0]);
        sc.trimmed = 0;
        for (t = 0; t < steps && ok; t += 64) {
            uint32_t cnt = steps - t < 64 ? steps - t : 64;
            for (k = 0; k < cnt; k++) {
                pos[k] = t + k;
                tok[k] = t + k ? data[t + k - 1] : 0;
                erp[k] = &enc_ring;
            }
            ozf_forward(&fm, &sc, cnt, tok, pos, erp, zf);
            for (k = 0; k < cnt && ok; k++) {
                oz_forward_step(&m, &st[0], tok[k], ws, zr);
                if (memcmp(zr, zf + (size_t)k * 256, sizeof zr)) {
                    ok = 0;
                    where = t + k;
                }
            }
        }
        trim_enc = sc.trimmed;
        snprintf(name, sizeof name, "%s engine = core, blocks of 64 positions, L%u D%u H%u F%u W%u%s (%llu positions trimmed)",
                 isa_name, c->n_layer, c->d_model, c->n_head, c->d_ff, c->ctx, steep ? ", steep slopes" : "",
                 (unsigned long long)trim_enc);
        t_result(ok && (!steep || trim_enc > 0), name, "first difference at position %u", where);
        ozf_ring_free(&enc_ring);
        for (r = 0; r < S; r++) {
            ozf_ring_free(&rings[r]);
            free(stmem[r]);
        }
        free(ws);
        free(zf);
        free(img);
        ozf_scratch_free(&sc);
        ozf_model_free(&fm);
    }
    free(data);
}

/* The requantisations of scores the attention kernels tell apart: s = 34
 * (the exporter's: high halves, s >= 33), s = 32 (high halves with the
 * rounding), s = 10 with m = 1000 (low halves, no clamp possible), s = 10
 * with m = 2^20 (low halves, logits clamped at +-2^24), s = 10 with m = 2^30
 * (no int32 form: the 64-bit one) */
static const struct {
    int32_t m, s;
    const char *what;
} RQS[] = {{1 << 30, 34, "s = 34"},
           {1 << 30, 32, "s = 32"},
           {1000, 10, "s = 10, no clamp"},
           {1 << 20, 10, "s = 10, clamped"},
           {1 << 30, 10, "s = 10, 64-bit"}};
#define NRQS (sizeof RQS / sizeof RQS[0])

/* a random model of shape c (slopes steep or gentle) bound in m, every
 * layer's score requantisation set to RQS[qi]; the image to free */
static uint8_t *rq_model(const oz_config *c, unsigned qi, int steep, oz_model *m)
{
    uint32_t size = 0, l;
    uint8_t *img;
    rand_slope_max = steep ? 6000 : 200;
    img = random_image(c, 1.0, &size);
    oz_model_bind(m, img, size);
    for (l = 0; l < c->n_layer; l++) {
        int32_t *att = (int32_t *)(uintptr_t)m->layer[l].att;
        att[0] = RQS[qi].m, att[1] = RQS[qi].s;
    }
    return img;
}

/* Encode blocks (rows = consecutive positions of one ring, where the 16-row
 * attention kernels of AVX2 and AVX-512 run for a head width of 16) under
 * every requantisation of the scores those kernels tell apart (RQS),
 * against core's step, each with gentle and steep ALiBi slopes (steep: trimmed windows, so the
 * rows of a block have windows of different lengths), at W = 64 with blocks
 * of 64, at W = 200 with blocks of 48 (a ring of 256 slots, so windows
 * wrap at other places) and at W = 49 with blocks of 16 (a ring of 64 slots:
 * the keys a 16-row kernel takes, rounded out to groups of 4 or blocks of
 * 64, revisit slots of the windows). variant as test_forward. */
static void test_encode_rq(int isa, int variant)
{
    static const oz_config shapes[] = {{2, 32, 2, 64, 64, 5, OZ_CFG_TIED},
                                       {1, 48, 3, 64, 200, 5, OZ_CFG_TIED},
                                       {1, 32, 2, 64, 49, 5, OZ_CFG_TIED}};
    static const uint32_t blocks[] = {64, 48, 16};
    size_t n;
    uint8_t *data = real_data(6000, &n);
    unsigned si, qi, steep;
    char name[200];
    const char *isa_name;
    for (si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (steep = 0; steep < 2; steep++)
            for (qi = 0; qi < NRQS; qi++) {
                const oz_config *c = &shapes[si];
                uint32_t B = blocks[si], steps = 2 * c->ctx + 60, t, k, where = 0;
                uint8_t *img;
                oz_model m;
                ozf_model fm;
                ozf_scratch sc;
                ozf_ring ring, *erp[64];
                oz_state st;
                void *stmem, *ws;
                int32_t *zf = amalloc(4 * 256 * 64), zr[256];
                uint32_t pos[64];
                uint8_t tok[64];
                int ok = 1;
                img = rq_model(c, qi, (int)steep, &m);
                if (ozf_model_init(&fm, &m, isa) || ozf_scratch_init(&sc, c, B) ||
                    ozf_ring_init(&ring, c, ozf_ring_cap(c->ctx, B))) {
                    t_result(0, "engine init", NULL);
                    free(zf);
                    free(img);
                    continue;
                }
                isa_name = apply_variant(&fm, isa, variant);
                ws = amalloc(oz_step_ws_bytes(c));
                stmem = amalloc(oz_state_bytes(c, c->ctx));
                oz_state_init(&st, c, stmem, c->ctx);
                sc.trimmed = 0;
                for (t = 0; t < steps && ok; t += B) {
                    uint32_t cnt = steps - t < B ? steps - t : B;
                    for (k = 0; k < cnt; k++) {
                        pos[k] = t + k;
                        tok[k] = t + k ? data[(t + k - 1) * 7 % n] : 0;
                        erp[k] = &ring;
                    }
                    ozf_forward(&fm, &sc, cnt, tok, pos, erp, zf);
                    for (k = 0; k < cnt && ok; k++) {
                        oz_forward_step(&m, &st, tok[k], ws, zr);
                        if (memcmp(zr, zf + (size_t)k * 256, sizeof zr)) {
                            ok = 0;
                            where = t + k;
                        }
                    }
                }
                snprintf(name, sizeof name,
                         "%s engine = core, blocks of %u positions, L%u D%u H%u W%u, scores' rq %s, %s slopes (%llu positions trimmed)",
                         isa_name, B, c->n_layer, c->d_model, c->n_head, c->ctx, RQS[qi].what, steep ? "steep" : "gentle",
                         (unsigned long long)sc.trimmed);
                t_result(ok, name, "first difference at position %u", where);
                ozf_ring_free(&ring);
                free(stmem);
                free(ws);
                free(zf);
                free(img);
                ozf_scratch_free(&sc);
                ozf_model_free(&fm);
            }
    rand_slope_max = 200;
    free(data);
}

/* Decode with the streams in the lanes (ozf_batch_lanes; the kernels of up
 * to 16 (AVX-512) or 8 (AVX2) rows of one head): S streams in lock step, each its own
 * text, against core's step for every stream at every position, under every
 * requantisation of the scores (as test_encode_rq), gentle and steep slopes
 * (rows of one pass with windows trimmed to different lengths), head widths
 * 4, 8, 12 and 16, windows that wrap their ring (W = 100 in a ring of 112
 * slots) or fill it (W = 32 and 64), and W = 490 (a ring of 496 slots, the
 * longest the AVX2 kernel takes: its int16 sums of values at their bound).
 * S = 21 makes two AVX-512 copies of 11 and 10 lanes, three AVX2 copies of
 * 7; S = 8 one copy, half full on AVX-512. Streams leave as a batch's streams do:
 * from a third of the way on every fifth stream is gone (the rows no longer
 * fill their lanes in order: 9 and 8 rows of AVX-512 copies, 5 to 6 of AVX2), from two thirds on all but three
 * of the first copy's streams too (fewer rows than the kernel takes: one by
 * one).
 * variant as test_forward. */
static void test_decode_lanes(int isa, int variant)
{
    static const struct {
        oz_config c;
        uint32_t S;
    } shapes[] = {{{1, 16, 2, 32, 32, 5, OZ_CFG_TIED}, 21},
                  {{2, 64, 4, 64, 64, 5, OZ_CFG_TIED}, 21},
                  {{1, 48, 4, 64, 100, 5, OZ_CFG_TIED}, 8},
                  {{1, 16, 4, 32, 40, 5, OZ_CFG_TIED}, 21},
                  {{1, 16, 2, 32, 490, 5, OZ_CFG_TIED}, 8}};
    size_t n;
    uint8_t *data = real_data(6000, &n);
    unsigned si, qi, steep;
    char name[240];
    for (si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (steep = 0; steep < 2; steep++)
            for (qi = 0; qi < NRQS; qi++) {
                const oz_config *c = &shapes[si].c;
                uint32_t S = shapes[si].S, steps = 2 * c->ctx + 30, t, r, k, where = 0, nr;
                uint8_t *img;
                oz_model m;
                ozf_model fm;
                ozf_scratch sc;
                ozf_ring rings[21], *rp[21];
                ozf_lanes *lb = NULL;
                oz_state st[21];
                void *stmem[21], *ws;
                int32_t *zf = amalloc(4 * 256 * 21), zr[256];
                uint32_t pos[21], who[21];
                uint8_t tok[21];
                int ok = 1, G;
                const char *isa_name;
                img = rq_model(c, qi, (int)steep, &m);
                if (ozf_model_init(&fm, &m, isa) || ozf_scratch_init(&sc, c, S)) {
                    t_result(0, "engine init", NULL);
                    free(zf);
                    free(img);
                    continue;
                }
                isa_name = apply_variant(&fm, isa, variant);
                ws = amalloc(oz_step_ws_bytes(c));
                for (r = 0; r < S; r++) {
                    ozf_ring_init(&rings[r], c, ozf_ring_cap(c->ctx, 1));
                    stmem[r] = amalloc(oz_state_bytes(c, c->ctx));
                    oz_state_init(&st[r], c, stmem[r], c->ctx);
                }
                G = ozf_batch_lanes(&fm, rings, S, &lb);
                sc.trimmed = 0;
                for (t = 0; t < steps && ok; t++) {
                    for (r = nr = 0; r < S; r++)
                        if (!(t >= steps / 3 && r % 5 == 1) && !(t >= 2 * steps / 3 && r >= 3 && r < S / 2))
                            who[nr++] = r;
                    for (k = 0; k < nr; k++) {
                        r = who[k];
                        pos[k] = t;
                        tok[k] = t ? data[(r * 997 + t - 1) % n] : 0;
                        rp[k] = &rings[r];
                    }
                    ozf_forward(&fm, &sc, nr, tok, pos, rp, zf);
                    for (k = 0; k < nr && ok; k++) {
                        oz_forward_step(&m, &st[who[k]], tok[k], ws, zr);
                        if (memcmp(zr, zf + (size_t)k * 256, sizeof zr)) {
                            ok = 0;
                            where = t;
                        }
                    }
                }
                snprintf(name, sizeof name,
                         "%s engine = core, decode with %u streams in %d side-by-side copies, L%u D%u H%u W%u, "
                         "scores' rq %s, %s slopes (%llu positions trimmed)",
                         isa_name, S, G, c->n_layer, c->d_model, c->n_head, c->ctx, RQS[qi].what,
                         steep ? "steep" : "gentle", (unsigned long long)sc.trimmed);
                t_result(ok && G > 0, name, "first difference at position %u", where);
                for (r = 0; r < S; r++) {
                    ozf_ring_free(&rings[r]);
                    free(stmem[r]);
                }
                ozf_batch_lanes_free(lb, G);
                free(ws);
                free(zf);
                free(img);
                ozf_scratch_free(&sc);
                ozf_model_free(&fm);
            }
    rand_slope_max = 200;
    free(data);
}

/* The forward pass's contract with the side-by-side copies beyond what
 * ozf_decode_batch makes of it: a pass whose rows mix rings that joined a
 * copy (every other stream) with rings that did not, at positions that
 * differ (the streams start one to three steps apart), so that rows of one
 * copy are grouped only where they share a position and the others go
 * through their rings (AVX-512: the joined rings are never written); every
 * row's logits against core's step, with trimmed windows (steep slopes, W =
 * 64) and without (W = 32). */
static void test_lanes_mixed(int isa, int variant)
{
    static const oz_config shapes[] = {{1, 16, 2, 32, 32, 5, OZ_CFG_TIED}, {2, 32, 4, 64, 64, 5, OZ_CFG_TIED}};
    enum { S = 12 };
    size_t n;
    uint8_t *data = real_data(6000, &n);
    unsigned si;
    char name[240];
    for (si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const oz_config *c = &shapes[si];
        uint32_t steps = 2 * c->ctx + 20, t, r, k, nr, where = 0, cap = ozf_ring_cap(c->ctx, 1);
        uint8_t *img, tok[S];
        oz_model m;
        ozf_model fm;
        ozf_scratch sc;
        ozf_ring rings[S], *rp[S];
        ozf_lanes lb;
        oz_state st[S];
        void *stmem[S], *ws;
        int32_t *zf = amalloc(4 * 256 * S), zr[256];
        uint32_t pos[S], who[S], done[S];
        int ok = 1;
        const char *isa_name;
        img = rq_model(c, 0, si == 1, &m);
        if (ozf_model_init(&fm, &m, isa) || ozf_scratch_init(&sc, c, S) || ozf_lanes_init(&lb, c, cap, KS[isa]->lanes)) {
            t_result(0, "engine init", NULL);
            free(zf);
            free(img);
            continue;
        }
        isa_name = apply_variant(&fm, isa, variant);
        ws = amalloc(oz_step_ws_bytes(c));
        for (r = 0; r < S; r++) {
            ozf_ring_init(&rings[r], c, cap);
            if (r % 2 == 0)
                ozf_ring_join(&rings[r], &lb, r / 2);
            stmem[r] = amalloc(oz_state_bytes(c, c->ctx));
            oz_state_init(&st[r], c, stmem[r], c->ctx);
            done[r] = 0;
        }
        for (t = 0; t < steps && ok; t++) {
            for (r = nr = 0; r < S; r++)
                if (t >= r % 3) /* stream r starts at step r % 3 */
                    who[nr++] = r;
            for (k = 0; k < nr; k++) {
                r = who[k];
                pos[k] = done[r];
                tok[k] = done[r] ? data[(r * 997 + done[r] - 1) % n] : 0;
                rp[k] = &rings[r];
            }
            ozf_forward(&fm, &sc, nr, tok, pos, rp, zf);
            for (k = 0; k < nr && ok; k++) {
                r = who[k];
                oz_forward_step(&m, &st[r], tok[k], ws, zr);
                if (memcmp(zr, zf + (size_t)k * 256, sizeof zr)) {
                    ok = 0;
                    where = t;
                }
                done[r]++;
            }
        }
        snprintf(name, sizeof name,
                 "%s engine = core, rows of joined and unjoined rings at positions up to 2 apart in one pass, L%u D%u H%u "
                 "W%u%s",
                 isa_name, c->n_layer, c->d_model, c->n_head, c->ctx, si == 1 ? ", steep slopes" : "");
        t_result(ok, name, "first difference at step %u", where);
        for (r = 0; r < S; r++) {
            ozf_ring_free(&rings[r]);
            free(stmem[r]);
        }
        ozf_lanes_free(&lb);
        free(ws);
        free(zf);
        free(img);
        ozf_scratch_free(&sc);
        ozf_model_free(&fm);
    }
    rand_slope_max = 200;
    free(data);
}

/* Whole-stream cross-decoding: for each model, 12 streams of different
 * lengths (4000, 2217, 600, 1 and 8 more from 3 to 2000 bytes of real text;
 * a batch of 12 makes the AVX-512 engine decode with the streams in the
 * lanes, the short ones leaving them early) are encoded by core's
 * oz_encode_stream and by every engine this CPU has (each ISA; on AVX-512
 * also without VBMI and without AMX): every engine's bytes must equal
 * core's, and every engine's batch decoder (the streams in lock step, the
 * short ones finishing early) must turn core's bytes back into the input.
 * Whatever one engine encodes, every other engine therefore decodes. Models:
 * head width 16 with steep ALiBi slopes at W = 64 (trimmed windows, the
 * 16-row encode kernels), the smallest default shape (L1 D16 H2 W32), and
 * head width 16 at W = 100 with the score requantisation in its 64-bit form
 * (s = 10, m = 2^30). */
#define NX 12
static void test_cross_engines(void)
{
    static const oz_config shapes[] = {{2, 32, 2, 64, 64, 5, OZ_CFG_TIED},
                                       {1, 16, 2, 32, 32, 5, OZ_CFG_TIED},
                                       {1, 48, 3, 64, 100, 5, OZ_CFG_TIED}};
    static const uint32_t lens[NX] = {4000, 2217, 600, 1, 1500, 1499, 777, 64, 65, 3, 2000, 1000};
    size_t n;
    uint8_t *data = real_data(9000, &n);
    unsigned si;
    for (si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const oz_config *c = &shapes[si];
        uint32_t size = 0, k, l, off[NX];
        uint8_t *img, *ref[NX], *out = malloc(oz_encode_bound(4000)), *dec[NX];
        uint64_t rlen[NX];
        oz_model m;
        oz_state st;
        void *mem = malloc(oz_state_bytes(c, OZ_ENC_CAP(c->ctx))), *scratch = malloc(oz_encode_scratch_bytes(c, 4000));
        int isa, variant, core_ok = 1;
        char name[200];
        rand_slope_max = si == 0 ? 6000 : 200;
        img = random_image(c, 1.0, &size);
        oz_model_bind(&m, img, size);
        if (si == 2)
            for (l = 0; l < c->n_layer; l++) {
                int32_t *att = (int32_t *)(uintptr_t)m.layer[l].att;
                att[0] = 1 << 30, att[1] = 10;
            }
        oz_state_init(&st, c, mem, OZ_ENC_CAP(c->ctx));
        for (k = 0; k < NX; k++) {
            off[k] = (uint32_t)((k * 1777u) % (n - lens[k] + 1));
            ref[k] = malloc(oz_encode_bound(lens[k]));
            dec[k] = malloc(lens[k]);
            core_ok &= oz_encode_stream(&m, &st, scratch, data + off[k], lens[k], ref[k], &rlen[k]) == OZ_CORE_OK;
        }
        t_result(core_ok, "core encodes the cross-decoding streams", NULL);
        for (isa = 0; isa < OZF_NISA; isa++)
            for (variant = 0; variant < 3; variant++) {
                ozf_model fm;
                ozf_job jobs[NX];
                const char *what;
                int enc_ok = 1, dec_ok = 1;
                if (!ozf_cpu_has(isa) || (variant && isa != OZF_AVX512) ||
                    (variant == 1 && !__builtin_cpu_supports("avx512vbmi")) || (variant == 2 && !ozf_amx_available()))
                    continue;
                if (ozf_model_init(&fm, &m, isa)) {
                    t_result(0, "engine init", NULL);
                    continue;
                }
                what = apply_variant(&fm, isa, variant);
                for (k = 0; k < NX; k++) {
                    uint64_t olen = 0;
                    enc_ok &= ozf_encode_stream(&fm, data + off[k], lens[k], out, &olen) == OZ_CORE_OK && olen == rlen[k] &&
                              !memcmp(out, ref[k], olen);
                    jobs[k].in = ref[k], jobs[k].in_len = rlen[k], jobs[k].out = dec[k], jobs[k].out_len = lens[k];
                    jobs[k].rc = -1;
                    memset(dec[k], 0, lens[k]);
                }
                dec_ok = ozf_decode_batch(&fm, jobs, NX, NULL, NULL) == 0;
                for (k = 0; k < NX; k++)
                    dec_ok &= jobs[k].rc == OZ_CORE_OK && !memcmp(dec[k], data + off[k], lens[k]);
                snprintf(name, sizeof name,
                         "%s engine encodes core's bytes and decodes them, 12 streams of 4000 to 1 bytes, L%u D%u H%u W%u%s",
                         what, c->n_layer, c->d_model, c->n_head, c->ctx,
                         si == 0 ? ", steep slopes" : si == 2 ? ", 64-bit score requantisation" : "");
                t_result(enc_ok && dec_ok, name, "encode %s, decode %s", enc_ok ? "ok" : "differs", dec_ok ? "ok" : "wrong");
                ozf_model_free(&fm);
            }
        for (k = 0; k < NX; k++) {
            free(ref[k]);
            free(dec[k]);
        }
        free(out);
        free(mem);
        free(scratch);
        free(img);
    }
    rand_slope_max = 200;
    free(data);
}

#undef NX

/* The kernels' per-thread work buffers (ozf_thread_buf) are freed when a
 * thread ends: the library starts worker threads for every call, and each
 * had kept its buffers after it ended (found by LeakSanitizer). Matrix
 * products on 4 threads, 24 tasks, for every ISA (and AMX where present):
 * the products are right, the workers did hold buffers while they ran, and
 * none is left once oz_parallel returns. */
typedef struct tb_ctx {
    const ozf_kernels *K;
    const void *wp;
    const int8_t *w, *a;
    int amx, bad;
    long peak;
} tb_ctx;

#define TB_R 64
#define TB_K 96
#define TB_NB 16

static void tb_task(void *arg, uint32_t t)
{
    tb_ctx *c = (tb_ctx *)arg;
    int32_t out[TB_NB * TB_R];
    uint32_t b, i;
    long live;
    (c->amx ? c->K->gemm_amx : c->K->gemm)(c->wp, TB_R, TB_K, c->a, TB_K, TB_NB, out, TB_R);
    for (b = 0; b < TB_NB; b++)
        for (i = 0; i < TB_R; i++)
            if (out[b * TB_R + i] != oz_dot_i8(c->w + (size_t)i * TB_K, c->a + (size_t)b * TB_K, TB_K))
                __atomic_store_n(&c->bad, 1, __ATOMIC_RELAXED);
    usleep(2000); /* so that the workers get tasks too, not only the calling thread */
    live = ozf_thread_bufs_live();
    /* the peak of live buffer sets seen by any task */
    {
        long seen = __atomic_load_n(&c->peak, __ATOMIC_RELAXED);
        while (live > seen && !__atomic_compare_exchange_n(&c->peak, &seen, live, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            ;
    }
    (void)t;
}

static void test_thread_bufs(void)
{
    int isa, amx;
    for (isa = 0; isa < OZF_NISA; isa++)
        for (amx = 0; amx < 2; amx++) {
            const ozf_kernels *K = KS[isa];
            tb_ctx c;
            int8_t *w, *a;
            void *wp;
            long before, after;
            uint32_t i;
            char name[160];
            if (!ozf_cpu_has(isa) || (amx && (!K->gemm_amx || !ozf_amx_available())))
                continue;
            w = amalloc(TB_R * TB_K), a = amalloc(TB_NB * TB_K), wp = amalloc(K->pack_bytes(TB_R, TB_K));
            /* |w| <= 64: AVX2 takes its unsigned-activation path, the one with a buffer */
            for (i = 0; i < TB_R * TB_K; i++)
                w[i] = rndw(0, 64);
            for (i = 0; i < TB_NB * TB_K; i++)
                a[i] = rnd8(0, 0);
            K->pack(w, TB_R, TB_K, wp);
            memset(&c, 0, sizeof c);
            c.K = K, c.wp = wp, c.w = w, c.a = a, c.amx = amx;
            tb_task(&c, 0); /* this thread's own buffers first: they stay, as they should */
            before = ozf_thread_bufs_live();
            c.peak = 0;
            oz_parallel(4, 24, tb_task, &c);
            after = ozf_thread_bufs_live();
            snprintf(name, sizeof name,
                     "%s%s matrix products on 4 threads: right, and every worker's buffers are freed when it ends",
                     ozf_isa_name(isa), amx ? " AMX" : "");
            /* the scalar kernels keep no buffer: peak == before == 0 there */
            t_result(!c.bad && after == before && (isa == OZF_SCALAR || c.peak > before), name,
                     "products %s, buffer sets: %ld before, %ld at the peak, %ld after", c.bad ? "wrong" : "right",
                     before, c.peak, after);
            free(w);
            free(a);
            free(wp);
        }
}

/* ozf_isqrt64 (the engine's RMS norm) against core's bit-by-bit oz_isqrt64:
 * every v below 2^20, every perfect square s^2 and its neighbours s^2 - 1 and
 * s^2 + 1 for s spread over [1, 2^32), random 64-bit values of every length,
 * and the largest values. */
static void test_isqrt(void)
{
    uint64_t v, bad = 0, tried = 0, s;
    int k;
    for (v = 0; v < ((uint64_t)1 << 20); v++, tried++)
        bad += ozf_isqrt64(v) != oz_isqrt64(v);
    for (s = 1; s < ((uint64_t)1 << 32); s += 1 + s / 64 + (t_rand() & 7))
        for (k = -1; k <= 1; k++, tried++) {
            v = s * s + (uint64_t)(int64_t)k;
            bad += ozf_isqrt64(v) != oz_isqrt64(v);
        }
    for (k = 0; k < 200000; k++, tried++) {
        v = ((uint64_t)t_rand() << 32 | t_rand()) >> (t_rand() % 64);
        bad += ozf_isqrt64(v) != oz_isqrt64(v);
    }
    for (v = UINT64_MAX; v > UINT64_MAX - 1000; v--, tried++)
        bad += ozf_isqrt64(v) != oz_isqrt64(v);
    t_result(!bad && ozf_isqrt64(UINT64_MAX) == 0xFFFFFFFFu && ozf_isqrt64((uint64_t)1 << 62) == 1u << 31,
             "ozf_isqrt64 (Newton) equals oz_isqrt64 (all v < 2^20, squares and neighbours, random, the largest)",
             "%llu of %llu differ", (unsigned long long)bad, (unsigned long long)tried);
}

int main(void)
{
    int isa;
    const char *why;
    /* the kernels' tables (ozf_model_init fills them too) */
    ozf_tables_init();
    test_isqrt();
    for (isa = 0; isa < OZF_NISA; isa++) {
        if (!ozf_cpu_has(isa)) {
            char name[64];
            snprintf(name, sizeof name, "%s kernels", ozf_isa_name(isa));
            t_skip(name, "this CPU does not have the instruction set");
            continue;
        }
        test_gemm(isa, 0);
        if (KS[isa]->gemm_amx) {
            if (ozf_amx_available())
                test_gemm(isa, 1);
            else
                t_skip("avx512 gemm on AMX tiles", "this CPU or kernel does not offer AMX-INT8 (or OZIP_AMX=0)");
        }
        test_attention_kernels(isa);
        test_attend(isa, 0, 0);
        if (isa == OZF_AVX512 && __builtin_cpu_supports("avx512vbmi"))
            test_attend(isa, 1, 0);
        if (K_HAS_PAIR(isa)) {
            test_attend(isa, 0, 1);
            test_attend_shared(isa, 0);
            if (isa == OZF_AVX512 && __builtin_cpu_supports("avx512vbmi")) {
                test_attend(isa, 1, 1);
                test_attend_shared(isa, 1);
            }
        }
        test_small_kernels(isa);
        test_glue(isa);
        test_rmsnorm(isa);
        test_freq(isa);
        test_freq_rows(isa);
        test_forward(isa, 0);
        if (isa == OZF_AVX512 && __builtin_cpu_supports("avx512vbmi"))
            test_forward(isa, 1);
        if (isa == OZF_AVX512 && ozf_amx_available())
            test_forward(isa, 2);
        test_encode_rq(isa, 0);
        if (isa == OZF_AVX512 && __builtin_cpu_supports("avx512vbmi"))
            test_encode_rq(isa, 1);
        if (isa == OZF_AVX512 && ozf_amx_available())
            test_encode_rq(isa, 2);
        if (KS[isa]->lanes) {
            test_decode_lanes(isa, 0);
            test_lanes_mixed(isa, 0);
            if (isa == OZF_AVX512 && __builtin_cpu_supports("avx512vbmi"))
                test_decode_lanes(isa, 1);
        }
    }
    test_cross_engines();
    test_thread_bufs();
    setenv("OZIP_FORCE_ISA", "nonsense", 1);
    t_result(ozf_select_isa(&why) == -1 && why, "OZIP_FORCE_ISA with an unknown name is refused", NULL);
    unsetenv("OZIP_FORCE_ISA");
    return t_done();
}
