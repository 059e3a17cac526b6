/* ozf.c - the fast engine's layer loop, ISA selection, packing and rings.
 * The arithmetic outside the kernels is core/'s own functions (oz_rq,
 * oz_rmsnorm, oz_res_add, oz_sat8, oz_sra64, oz_exp2q15 via the kernels). */
#include "ozf.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "../../core/oz_int.h"
#include "../../core/oz_rans.h"

/* core's exp2 table widened to 32 bits for the gather instructions
 * (filled from OZ_EXP2_Q15, so there is still one definition). */
uint32_t ozf_exp2_u32[256];
uint16_t ozf_exp2_u16[256];
uint8_t ozf_exp2_b8[512]; /* the low bytes of the 256 entries, then the high bytes */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static void tables_fill(void)
{
    int i;
    for (i = 0; i < 256; i++) {
        ozf_exp2_u32[i] = ozf_exp2_u16[i] = OZ_EXP2_Q15[i];
        ozf_exp2_b8[i] = (uint8_t)(OZ_EXP2_Q15[i] & 255);
        ozf_exp2_b8[256 + i] = (uint8_t)(OZ_EXP2_Q15[i] >> 8);
    }
}

void ozf_tables_init(void) { pthread_once(&tables_once, tables_fill); }

static const ozf_kernels *const KERNELS[OZF_NISA] = {&ozf_kernels_scalar, &ozf_kernels_avx2, &ozf_kernels_avx512};

const char *ozf_isa_name(int isa)
{
    static const char *names[] = {"scalar", "avx2", "avx512"};
    return isa >= 0 && isa < OZF_NISA ? names[isa] : "?";
}

int ozf_cpu_has(int isa)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    switch (isa) {
    case OZF_SCALAR:
        return 1;
    case OZF_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case OZF_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
               __builtin_cpu_supports("avx512dq");
    }
    return 0;
#else
    return isa == OZF_SCALAR;
#endif
}

/* AMX: CPUID.(7,0):EDX bits 24 (AMX-TILE) and 25 (AMX-INT8), the OS's
 * XCR0 bits 17 and 18 (tile configuration and data), and Linux's permission
 * for the tile data (ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA, 18), asked
 * once per process. */
static int amx_ok;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;
static void amx_probe(void)
{
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
    unsigned a, b, c, d, lo, hi;
    const char *env = getenv("OZIP_AMX");
    if (env && !strcmp(env, "0"))
        return;
    if (!ozf_cpu_has(OZF_AVX512) || !__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 25)))
        return;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) /* OSXSAVE: xgetbv is allowed */
        return;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    if ((lo & (3u << 17)) != (3u << 17))
        return;
    amx_ok = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
#endif
}

int ozf_amx_available(void)
{
    pthread_once(&amx_once, amx_probe);
    return amx_ok;
}

int ozf_select_isa(const char **why)
{
    const char *f = getenv("OZIP_FORCE_ISA");
    int isa;
    *why = NULL;
    if (f && *f) {
        for (isa = 0; isa < OZF_NISA; isa++)
            if (!strcmp(f, ozf_isa_name(isa)))
                break;
        if (isa == OZF_NISA) {
            *why = "OZIP_FORCE_ISA must be scalar, avx2 or avx512";
            return -1;
        }
        if (!ozf_cpu_has(isa)) {
            *why = isa == OZF_AVX512 ? "OZIP_FORCE_ISA=avx512: this CPU lacks AVX-512 (F, BW, VL, DQ, VNNI)"
                                     : "OZIP_FORCE_ISA=avx2: this CPU lacks AVX2/FMA";
            return -1;
        }
        return isa;
    }
    for (isa = OZF_NISA - 1; isa > 0; isa--)
        if (ozf_cpu_has(isa))
            return isa;
    return OZF_SCALAR;
}

/* ------------------------------------------------------------------ model */

uint32_t ozf_cum_pick(const uint32_t *cum, uint32_t slot, uint32_t *start, uint32_t *freq)
{
    uint32_t s = oz_cum_find(cum, slot);
    *start = cum[s];
    *freq = cum[s + 1] - cum[s];
    return s;
}

void ozf_freq_find_cum(const int32_t *z, uint32_t nrows, const uint32_t *slot, uint32_t *sym, uint32_t *start,
                       uint32_t *freq)
{
    uint32_t cum[257], r;
    for (r = 0; r < nrows; r++) {
        oz_freq_cum(z + (size_t)r * 256, cum);
        sym[r] = ozf_cum_pick(cum, slot[r], &start[r], &freq[r]);
    }
}

void ozf_freq_sym_cum(const int32_t *z, uint32_t nrows, const uint8_t *sym, uint32_t *sf)
{
    uint32_t cum[257], r;
    for (r = 0; r < nrows; r++) {
        oz_freq_cum(z + (size_t)r * 256, cum);
        sf[2 * r] = cum[sym[r]];
        sf[2 * r + 1] = cum[sym[r] + 1] - cum[sym[r]];
    }
}

size_t ozf_rq_words(uint32_t n)
{
    /* five arrays of n + 1, each rounded up to 16 int32s (64 bytes) */
    return 5 * (((size_t)n + 1 + 15) & ~(size_t)15);
}

void ozf_rq_prep(ozf_rq *q, const int32_t *rq, uint32_t n, uint64_t amax, int32_t *buf)
{
    size_t st = ((size_t)n + 1 + 15) & ~(size_t)15;
    int32_t *m = buf, *s = buf + st, *mo = buf + 2 * st, *c = buf + 3 * st, *sh = buf + 4 * st;
    uint32_t i;
    int hi = 1, lo = 1;
    for (i = 0; i < n; i++) {
        m[i] = rq[2 * i];
        s[i] = rq[2 * i + 1];
        hi &= s[i] >= 33 && s[i] <= 62;
        /* |a| <= amax < 2^(s-1): |a 2^(32-s)| < 2^31 */
        lo &= s[i] >= 1 && s[i] <= 32 && amax < ((uint64_t)1 << (s[i] - 1));
    }
    m[n] = s[n] = 0;
    q->mode = hi ? OZF_RQ_HI : lo ? OZF_RQ_LO : OZF_RQ_ANY;
    for (i = 0; i <= n; i++) {
        mo[i] = i + 1 < n ? m[i + 1] : 0;
        c[i] = hi && i < n ? (int32_t)1 << (s[i] - 33) : 0;
        sh[i] = i == n ? 0 : hi ? s[i] - 32 : lo ? 32 - s[i] : 0;
    }
    q->m = m, q->s = s, q->mo = mo, q->c = c, q->sh = sh;
}

/* a matrix's (rows, 2) pairs, prepared in the model's memory at *off */
static void split_rq(const int32_t *rq, uint32_t rows, uint32_t k, void *mem, size_t *off, ozf_rq *q)
{
    /* k int8 products: |a| <= k 2^14 */
    ozf_rq_prep(q, rq, rows, (uint64_t)k << 14, (int32_t *)(void *)((uint8_t *)mem + *off));
    *off += 4 * ozf_rq_words(rows);
}

int ozf_model_init(ozf_model *fm, const oz_model *m, int isa)
{
    const oz_config *c = &m->cfg;
    const ozf_kernels *k;
    uint32_t D = c->d_model, F = c->d_ff, l;
    size_t total = 0, off = 0;
    memset(fm, 0, sizeof *fm);
    ozf_tables_init();
    if (isa < 0 || isa >= OZF_NISA || (D / c->n_head) % 4 != 0)
        return -1;
    k = KERNELS[isa];
#define SZ(r, kk) ((k->pack_bytes((r), (kk)) + 63) & ~(size_t)63)
#define RQSZ(r) (4 * ozf_rq_words(r))
    for (l = 0; l < c->n_layer; l++)
        total += SZ(3 * D, D) + SZ(D, D) + SZ(F, D) + SZ(D, F) + RQSZ(3 * D) + 2 * RQSZ(D) + RQSZ(F);
    total += SZ(256, D) + RQSZ(256);
    if (posix_memalign(&fm->mem, 64, total ? total : 64))
        return -1;
    for (l = 0; l < c->n_layer; l++) {
        const oz_layer *L = &m->layer[l];
        fm->wqkv[l] = (uint8_t *)fm->mem + off, k->pack(L->wqkv, 3 * D, D, fm->wqkv[l]), off += SZ(3 * D, D);
        fm->wo[l] = (uint8_t *)fm->mem + off, k->pack(L->wo, D, D, fm->wo[l]), off += SZ(D, D);
        fm->w1[l] = (uint8_t *)fm->mem + off, k->pack(L->w1, F, D, fm->w1[l]), off += SZ(F, D);
        fm->w2[l] = (uint8_t *)fm->mem + off, k->pack(L->w2, D, F, fm->w2[l]), off += SZ(D, F);
    }
    fm->head = (uint8_t *)fm->mem + off, k->pack(m->head, 256, D, fm->head), off += SZ(256, D);
    for (l = 0; l < c->n_layer; l++) {
        const oz_layer *L = &m->layer[l];
        split_rq(L->rq_qkv, 3 * D, D, fm->mem, &off, &fm->rqkv[l]);
        split_rq(L->rq_o, D, D, fm->mem, &off, &fm->ro[l]);
        split_rq(L->rq_1, F, D, fm->mem, &off, &fm->r1[l]);
        split_rq(L->rq_2, D, F, fm->mem, &off, &fm->r2[l]);
    }
    split_rq(m->rq_head, 256, D, fm->mem, &off, &fm->rhead);
#undef SZ
#undef RQSZ
    fm->m = m;
    fm->k = k;
    fm->isa = isa;
#if defined(__x86_64__) && defined(__GNUC__)
    fm->vbmi = isa == OZF_AVX512 && __builtin_cpu_supports("avx512vbmi");
#endif
    fm->amx = isa == OZF_AVX512 && k->gemm_amx && ozf_amx_available();
    for (l = 0; l < c->n_layer; l++) {
        uint32_t h;
        for (h = 0; h < c->n_head; h++) {
            uint64_t sl = m->layer[l].slope[h] > 0 ? (uint64_t)m->layer[l].slope[h] : 0;
            fm->slope_rcp[l][h] = sl ? (((uint64_t)1 << 32) + sl - 1) / sl : 0;
        }
    }
    return 0;
}

void ozf_model_free(ozf_model *fm)
{
    free(fm->mem);
    memset(fm, 0, sizeof *fm);
}

/* ------------------------------------------------------- thread buffers */

/* the thread's buffers, found without a pthread_getspecific per call (the
 * key only frees them when the thread ends); ozf_thread_buf (ozf.h) returns
 * one that is large enough without a call */
__thread ozf_tbufs *ozf_tbufs_mine;
static pthread_key_t tbuf_key;
static pthread_once_t tbuf_once = PTHREAD_ONCE_INIT;
static int tbuf_key_ok;
static long tbuf_live;

static void tbuf_free(void *v)
{
    ozf_tbufs *t = (ozf_tbufs *)v;
    unsigned i;
    for (i = 0; i < OZF_TBUF_SLOTS; i++)
        free(t->p[i]);
    free(t);
    ozf_tbufs_mine = NULL; /* the destructor runs in the thread that ends */
    __atomic_sub_fetch(&tbuf_live, 1, __ATOMIC_RELAXED);
}

static void tbuf_key_init(void) { tbuf_key_ok = pthread_key_create(&tbuf_key, tbuf_free) == 0; }

long ozf_thread_bufs_live(void) { return __atomic_load_n(&tbuf_live, __ATOMIC_RELAXED); }

void *ozf_thread_buf_grow(unsigned slot, size_t need)
{
    ozf_tbufs *t = ozf_tbufs_mine;
    if (!t) {
        ozf_tbufs *n;
        pthread_once(&tbuf_once, tbuf_key_init);
        if (!tbuf_key_ok || !(n = (ozf_tbufs *)calloc(1, sizeof *n)))
            return NULL;
        if (pthread_setspecific(tbuf_key, n) != 0) {
            free(n);
            return NULL;
        }
        __atomic_add_fetch(&tbuf_live, 1, __ATOMIC_RELAXED);
        ozf_tbufs_mine = t = n;
    }
    if (need > t->cap[slot]) {
        free(t->p[slot]);
        t->p[slot] = (uint8_t *)aligned_alloc(64, (need + 63) & ~(size_t)63);
        t->cap[slot] = t->p[slot] ? need : 0;
    }
    return t->p[slot];
}

/* ------------------------------------------------------------ square root */

/* docs/integer-model.md, "The fast CPU engine", RMS norm: from x0 >= isqrt(v),
 * x' = floor((x + floor(v / x)) / 2) decreases strictly while x > isqrt(v)
 * and never goes below it; at x = isqrt(v), x' >= x. */
uint32_t ozf_isqrt64(uint64_t v)
{
    uint64_t x, y;
    if (v < 2)
        return (uint32_t)v;
    /* v < 2^b with b = 64 - clz(v): sqrt(v) < 2^ceil(b/2) <= 2^32 */
    x = (uint64_t)1 << ((65 - __builtin_clzll(v)) / 2);
    y = (x + v / x) >> 1; /* x + v / x < 2^33 */
    while (y < x) {
        x = y;
        y = (x + v / x) >> 1;
    }
    return (uint32_t)x;
}

/* ---------------------------------------------------------------- batches */

uint32_t ozf_batch_max(const oz_config *c)
{
    uint64_t ring = (uint64_t)c->n_layer * ozf_ring_cap(c->ctx, 1) * (2 * c->d_model + 4 * c->n_head);
    uint64_t b = ((uint64_t)1 << 20) / (ring ? ring : 1);
    return b < 1 ? 1 : b > 32 ? 32 : (uint32_t)b;
}

/* ------------------------------------------------------------------ rings */

/* a multiple of 16; of 64 for blocks of 16 or more (encode), whose value
 * sums may be taken 64 slots at a time on AMX tiles (attend_all) */
uint32_t ozf_ring_cap(uint32_t ctx, uint32_t block)
{
    uint32_t align = block >= 16 ? 63u : 15u;
    return (ctx + block - 1 + align) & ~align;
}

int ozf_ring_init(ozf_ring *r, const oz_config *c, uint32_t cap)
{
    size_t kv = (size_t)c->n_layer * c->d_model * cap, ks = (size_t)c->n_layer * c->n_head * cap * 4;
    memset(r, 0, sizeof *r);
    if (cap % 16 || cap < c->ctx)
        return -1;
    /* zeroed: SIMD kernels read whole 16-slot blocks, including unused slots */
    if (posix_memalign(&r->mem, 64, 2 * kv + ks))
        return -1;
    memset(r->mem, 0, 2 * kv + ks);
    r->k = (int8_t *)r->mem;
    r->v = r->k + kv;
    r->ksum = (int32_t *)(void *)(r->v + kv);
    r->cap = cap;
    return 0;
}

void ozf_ring_free(ozf_ring *r)
{
    free(r->mem);
    memset(r, 0, sizeof *r);
}

int ozf_lanes_init(ozf_lanes *b, const oz_config *c, uint32_t cap, uint32_t n)
{
    size_t kv = (size_t)c->n_layer * c->d_model * cap * n;
    memset(b, 0, sizeof *b);
    /* k, then v with room for int16 values (the AVX2 form) */
    if (cap % 16 || cap < c->ctx || !n || posix_memalign(&b->mem, 64, 3 * kv))
        return -1;
    memset(b->mem, 0, 3 * kv);
    b->k = (int8_t *)b->mem;
    b->v = b->k + kv;
    b->cap = cap;
    b->n = n;
    return 0;
}

void ozf_lanes_free(ozf_lanes *b)
{
    free(b->mem);
    memset(b, 0, sizeof *b);
}

void ozf_ring_join(ozf_ring *r, ozf_lanes *b, uint32_t lane)
{
    r->lb = b;
    r->lane = lane;
}

/* ---------------------------------------------------------------- scratch */

int ozf_scratch_init(ozf_scratch *s, const oz_config *c, uint32_t nrows)
{
    size_t D = c->d_model, F = c->d_ff, W = c->ctx, A = 3 * D, sz;
    if (F > A)
        A = F;
    if (A < 256)
        A = 256;
#define AL(x) (((x) + 63) & ~(size_t)63)
    /* the 16-row attention kernels of encode (nrows >= 16): their keys run
     * over at most W + 15 positions of 16 windows, widened to whole blocks of
     * 64 from a slot up to 63 before the first, so ld = that rounded up to 64,
     * plus 64, bounds the keys of one call; 96 ld bytes hold the logits of a
     * key for 16 rows (64 bytes a key) and the values laid out for the value
     * sums (at most 32 bytes a key). Decode's kernel with the streams in the
     * lanes (nrows >= 4) visits at most cap <= W + 15 slots: 64 bytes of
     * logits and 32 bytes of weights each. */
    size_t ld = nrows >= 4 ? ((W + 15 + 63 + 63) & ~(size_t)63) + 64 : 0;
    sz = AL(4 * nrows * D) + AL(4 * nrows * A) + AL(nrows * D) + AL(nrows * 3 * D) + AL(nrows * D) +
         AL(nrows * F) + 2 * AL(4 * W) + AL(2 * W) + AL(4 * nrows) + 6 * 16 * ld;
    memset(s, 0, sizeof *s);
    if (posix_memalign(&s->mem, 64, sz))
        return -1;
    {
        uint8_t *p = (uint8_t *)s->mem;
        s->x = (int32_t *)(void *)p, p += AL(4 * nrows * D);
        s->acc = (int32_t *)(void *)p, p += AL(4 * nrows * A);
        s->y = (int8_t *)p, p += AL(nrows * D);
        s->qkv = (int8_t *)p, p += AL(nrows * 3 * D);
        s->a = (int8_t *)p, p += AL(nrows * D);
        s->g = (int8_t *)p, p += AL(nrows * F);
        s->zs = (int32_t *)(void *)p, p += AL(4 * W);
        s->tmp = (int32_t *)(void *)p, p += AL(4 * W);
        s->e = (uint16_t *)(void *)p, p += AL(2 * W);
        s->slot = (uint32_t *)(void *)p, p += AL(4 * nrows);
        s->ew = ld ? p : NULL;
        s->ew_ld = (uint32_t)ld;
    }
#undef AL
    s->nrows = nrows;
    return 0;
}

void ozf_scratch_free(ozf_scratch *s)
{
    free(s->mem);
    memset(s, 0, sizeof *s);
}

/* -------------------------------------------------------------- the model */

void ozf_forward(const ozf_model *fm, ozf_scratch *s, uint32_t nrows, const uint8_t *tok, const uint32_t *pos,
                 ozf_ring *const *rings, int32_t *z)
{
    fm->k->forward(fm, s, nrows, tok, pos, rings, z);
}
