/* ozf.h - the fast CPU engine: the integer model of core/ computed with SIMD
 * kernels (AVX-512 VNNI, AVX2, portable C) chosen at run time.
 *
 * core/ defines every number; this engine must produce exactly the same
 * logits (tests/test_fast.c checks every kernel against core/ and whole files
 * are cross-decoded). Only the heavy loops are reimplemented here:
 *   - int8 matrix products (weights packed per ISA, see ozf_kernels.pack),
 *   - attention scores and value sums over key/value rings kept in a packed
 *     layout (below),
 * and everything else (requantisation, RMS norm, exp2, frequencies, rANS)
 * calls core/'s functions or a vector form proven equal to them.
 *
 * One forward pass processes "rows": a row is one position of one stream with
 * its own ring. Decoding runs a batch of streams in lock step (one row per
 * stream); encoding runs a block of positions of one stream (rows share one
 * ring, like oz_forward_chunk). Either way every weight matrix is applied to
 * all rows at once.
 *
 * Ring layout (per stream, per layer; cap is a multiple of 16):
 *   K: (H, Dh/4, cap, 4) int8   - for a head and a group of 4 dimensions, the
 *                                 4 bytes of every slot are contiguous
 *   ksum: (H, cap) int32        - 128 x the sum over the head's dimensions of k
 *                                 (the surplus of vpdpbusd's a + 128, see kern_avx512.c)
 *   V: (H, cap/4, Dh, 4) int8   - for a head and a group of 4 slots, the 4
 *                                 slots' values of every dimension
 */
#ifndef OZ_FAST_H
#define OZ_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "../../core/oz_model.h"

/* Instruction sets, in order of preference. */
enum { OZF_SCALAR = 0, OZF_AVX2 = 1, OZF_AVX512 = 2, OZF_NISA = 3 };

/* The window of one attention: positions lo..p, as at most two runs of ring
 * slots [a0, b0) and [a1, b1) (the second one after wrapping; empty if b1 == a1). */
typedef struct ozf_window {
    uint32_t a0, b0, a1, b1;
} ozf_window;

/* One head's attention for one query, as the arguments of attend() (the
 * pair kernel attend2 takes two). */
typedef struct ozf_att_job {
    const int8_t *q, *kp, *vp;
    const int32_t *ksum;
    ozf_window w;
    uint32_t cap, dh, n;
    int32_t am, as, slope;
    int8_t *o;
    /* AVX-512 decode with the streams in the lanes (the first row's job):
     * where not 0, n is the untrimmed window and the kernel trims it itself
     * (attend_keep's bound for all its rows at once) with this reciprocal
     * of the slope (ozf_model.slope_rcp) */
    uint64_t rcp;
} ozf_att_job;

struct ozf_model;
struct ozf_scratch;
struct ozf_ring;

/* A matrix's per-row requantisation (m, s) of n rows, prepared by
 * ozf_rq_prep for rq_rows_q (docs/integer-model.md, "Requantisation of
 * scores and rows"): m[n], s[n] as in the image, mo[i] = m[i + 1] (0 past
 * the end), and by mode:
 *   OZF_RQ_HI, every s >= 33 (the exporter's): c[i] = 2^(s[i] - 33),
 *     sh[i] = s[i] - 32; clamp(oz_rq(a, m, s)) = clamp((H + c) >> sh), H the
 *     high half of the 64-bit a m;
 *   OZF_RQ_LO, every s <= 32 with |a| < 2^(s-1) for every accumulator the
 *     matrix can make (the residual rows): sh[i] = 32 - s[i]; the result is
 *     the high half of (a 2^sh) m + 2^31, a 2^sh exact in int32;
 *   OZF_RQ_ANY: neither; rq_rows takes (m, s). */
enum { OZF_RQ_ANY = 0, OZF_RQ_HI = 1, OZF_RQ_LO = 2 };
typedef struct ozf_rq {
    const int32_t *m, *s, *mo, *c, *sh;
    int mode;
} ozf_rq;

/* decoding's symbol search in a cumulative table: s = oz_cum_find(cum,
 * slot), *start = cum[s], *freq = cum[s + 1] - cum[s] */
uint32_t ozf_cum_pick(const uint32_t *cum, uint32_t slot, uint32_t *start, uint32_t *freq);
/* ozf_kernels.freq_find by core's table: oz_freq_cum, then ozf_cum_pick, row by row */
void ozf_freq_find_cum(const int32_t *z, uint32_t nrows, const uint32_t *slot, uint32_t *sym, uint32_t *start,
                       uint32_t *freq);
/* ozf_kernels.freq_sym by core's table, row by row */
void ozf_freq_sym_cum(const int32_t *z, uint32_t nrows, const uint8_t *sym, uint32_t *sf);

/* int32s of work space ozf_rq_prep needs for n rows */
size_t ozf_rq_words(uint32_t n);
/* Prepares q from the image's interleaved (m, s) pairs rq[2 n] in buf
 * (ozf_rq_words(n) int32s, 64-byte aligned); amax bounds |a| of every
 * accumulator the matrix can produce (k 2^14 for k int8 products). */
void ozf_rq_prep(ozf_rq *q, const int32_t *rq, uint32_t n, uint64_t amax, int32_t *buf);

typedef struct ozf_kernels {
    const char *name;
    /* Bytes of a packed (rows, k) weight matrix; rows and k are multiples of 16. */
    size_t (*pack_bytes)(uint32_t rows, uint32_t k);
    void (*pack)(const int8_t *w, uint32_t rows, uint32_t k, void *dst);
    /* C (nb, rows) = A (nb, k) W^T exactly, int32. lda, ldc in elements. */
    void (*gemm)(const void *wp, uint32_t rows, uint32_t k, const int8_t *a, uint32_t lda, uint32_t nb,
                 int32_t *c, uint32_t ldc);
    /* Raw scores q . k_s for the slots of a window, in window order, into s[]. */
    void (*scores)(const int8_t *q, const int8_t *kp, const int32_t *ksum, uint32_t cap, uint32_t dh,
                   const ozf_window *w, int32_t *s);
    /* acc[d] = sum over window slots of e_j * v_j,d (window order e[]), int32. */
    void (*vsum)(const uint16_t *e, const int8_t *vp, uint32_t cap, uint32_t dh, const ozf_window *w,
                 int32_t *acc);
    /* out[i] = clamp(rq(acc[i], m, s), lo, hi) with one (m, s) for all i. */
    void (*rq_uniform)(const int32_t *acc, uint32_t n, int32_t m, int32_t s, int32_t lo, int32_t hi, int32_t *out);
    /* out[i] = clamp(rq(acc[i], m[i], s[i]), lo, hi): one multiplier per channel */
    void (*rq_rows)(const int32_t *acc, uint32_t n, const int32_t *m, const int32_t *s, int32_t lo, int32_t hi,
                    int32_t *out);
    /* One head's whole attention, core's attend(): o[d] for a query q over the
     * window w of n positions (n <= the scratch's window), the score
     * requantisation (am, as) and the ALiBi slope; s gives the work space. */
    void (*attend)(const int8_t *q, const int8_t *kp, const int32_t *ksum, const int8_t *vp, uint32_t cap,
                   uint32_t dh, const ozf_window *w, uint32_t n, int32_t am, int32_t as, int32_t slope,
                   struct ozf_scratch *s, int8_t *o);
    /* e[i] = oz_exp2q15(t[i]) */
    void (*exp2q15)(const int32_t *t, uint32_t n, uint16_t *e);
    /* oz_freq_cum(z, cum): logits -> cumulative frequencies, same integers */
    void (*freq_cum)(const int32_t *z, uint32_t *cum);
    /* the whole forward pass (ozf_forward), compiled for this ISA */
    void (*forward)(const struct ozf_model *fm, struct ozf_scratch *s, uint32_t nrows, const uint8_t *tok,
                    const uint32_t *pos, struct ozf_ring *const *rings, int32_t *z);
    /* the layer glue the forward pass uses (exposed for tests): */
    /* stores one position's k and v (D each) into slot `slot` of layer l's ring */
    void (*ring_put)(struct ozf_ring *r, const oz_config *c, uint32_t l, uint32_t slot, const int8_t *k,
                     const int8_t *v);
    /* l1 = sum |q_d|, dot = q . k over dh dimensions (a multiple of 4) */
    void (*keep_stats)(const int8_t *q, const int8_t *k, uint32_t dh, int32_t *l1, int32_t *dot);
    /* g[i] = table[g[i] + 128]; vbmi: use AVX-512 VBMI (the caller checked the CPU) */
    void (*act)(int vbmi, const int8_t *table, int8_t *g, uint32_t n);
    /* attend compiled for AVX-512 VBMI (NULL where the ISA has none): call
     * only where the CPU has VBMI */
    void (*attend_vbmi)(const int8_t *q, const int8_t *kp, const int32_t *ksum, const int8_t *vp, uint32_t cap,
                        uint32_t dh, const ozf_window *w, uint32_t n, int32_t am, int32_t as, int32_t slope,
                        struct ozf_scratch *s, int8_t *o);
    /* two independent attentions, each as attend() computes it (the same
     * scratch serves both), and the same compiled for VBMI; NULL where the
     * ISA has none */
    void (*attend2)(const ozf_att_job *a, const ozf_att_job *b, struct ozf_scratch *s);
    void (*attend2_vbmi)(const ozf_att_job *a, const ozf_att_job *b, struct ozf_scratch *s);
    /* gemm on AMX-INT8 tiles where nb >= 16 (the others, and an allocation
     * failure, by gemm); NULL where the ISA has none. Call only where
     * ozf_amx_available() */
    void (*gemm_amx)(const void *wp, uint32_t rows, uint32_t k, const int8_t *a, uint32_t lda, uint32_t nb,
                     int32_t *c, uint32_t ldc);
    /* y row r = oz_rmsnorm(x row r) for nrows rows of n (|x| <= 2^23 - 1,
     * n <= 1024): the forward pass's RMS norms */
    void (*rmsnorm_rows)(const int32_t *x, int8_t *y, uint32_t nrows, uint32_t n);
    /* decoding's step for nrows rows of logits (z rows 256 apart): sym[r]
     * = the symbol s with cum[s] <= slot[r] < cum[s + 1] of
     * oz_freq_cum(z row r, cum) (slot < 2^20), start[r] = cum[s], freq[r]
     * = cum[s + 1] - cum[s] (AVX-512 and AVX2: without the whole table,
     * AVX-512 several rows pass by pass; the portable engine:
     * ozf_freq_find_cum) */
    void (*freq_find)(const int32_t *z, uint32_t nrows, const uint32_t *slot, uint32_t *sym, uint32_t *start,
                      uint32_t *freq);
    /* rq_rows for a prepared matrix whose mode is not OZF_RQ_ANY: out[i] =
     * clamp(rq(acc[i], m[i], s[i]), lo, hi); NULL where the ISA has none
     * (then rq_rows) */
    void (*rq_rows_q)(const int32_t *acc, uint32_t n, const ozf_rq *q, int32_t lo, int32_t hi, int32_t *out);
    /* decode's attention with the streams in the vector lanes: how many
     * streams one side-by-side copy (ozf_lanes) holds for this ISA's
     * kernel; 0 where it has none */
    uint32_t lanes;
    /* encoding's step for nrows rows: sf[2 r] = cum[sym[r]], sf[2 r + 1]
     * = cum[sym[r] + 1] - cum[sym[r]] of oz_freq_cum(z row r, cum)
     * (AVX-512 and AVX2: without the whole table; the portable engine:
     * ozf_freq_sym_cum) */
    void (*freq_sym)(const int32_t *z, uint32_t nrows, const uint8_t *sym, uint32_t *sf);
    /* rq_rows_q of nrows rows of n (rows n apart in acc and out; out may be
     * acc), the forward pass's form; NULL where the ISA has none */
    void (*rq_rows_qn)(const int32_t *acc, uint32_t nrows, uint32_t n, const ozf_rq *q, int32_t lo, int32_t hi,
                       int32_t *out);
} ozf_kernels;

extern const ozf_kernels ozf_kernels_scalar;
extern const ozf_kernels ozf_kernels_avx2;
extern const ozf_kernels ozf_kernels_avx512;

/* The calling thread's work buffer number slot (< OZF_TBUF_SLOTS), grown to
 * at least need bytes (64-byte aligned, allocated in whole 64-byte lines, so
 * a kernel may store full vectors up to the next multiple of 64): kept from call to call of the
 * thread, freed when the thread ends (a pthread key's destructor; the
 * library's worker threads end with every call). NULL if out of memory.
 * One slot per kernel that keeps a buffer, so that none overwrites
 * another's. */
enum { OZF_TBUF_AVX2_U8, OZF_TBUF_AVX512_U8, OZF_TBUF_AMX_PAD, OZF_TBUF_SLOTS };
typedef struct ozf_tbufs {
    uint8_t *p[OZF_TBUF_SLOTS];
    size_t cap[OZF_TBUF_SLOTS];
} ozf_tbufs;
extern __thread ozf_tbufs *ozf_tbufs_mine; /* this thread's, NULL until its first buffer */
void *ozf_thread_buf_grow(unsigned slot, size_t need);
static inline void *ozf_thread_buf(unsigned slot, size_t need)
{
    ozf_tbufs *t = ozf_tbufs_mine;
    return t && need <= t->cap[slot] ? t->p[slot] : ozf_thread_buf_grow(slot, need);
}
/* threads whose buffers are allocated and not yet freed (for tests) */
long ozf_thread_bufs_live(void);

/* floor(sqrt(v)) for any 64-bit v: oz_isqrt64's value, by Newton's iteration
 * on integers from above (a handful of divisions instead of 31 steps). */
uint32_t ozf_isqrt64(uint64_t v);

/* Fills the kernels' copies of core's exp2 table (ozf_model_init does;
 * callers of single kernels call it first). Thread-safe, idempotent. */
void ozf_tables_init(void);

/* Best ISA this CPU runs; OZIP_FORCE_ISA=scalar|avx2|avx512 overrides. Returns
 * -1 (and sets *why) if the forced ISA is unknown or not supported here. */
int ozf_select_isa(const char **why);
const char *ozf_isa_name(int isa);
int ozf_cpu_has(int isa);
/* 1 if the CPU has AMX-INT8 and the kernel lets this process use its tiles
 * (asked once, with arch_prctl ARCH_REQ_XCOMP_PERM); OZIP_AMX=0 turns it off */
int ozf_amx_available(void);

/* A model prepared for the engine: weights packed for one ISA. */
typedef struct ozf_model {
    const oz_model *m;
    const ozf_kernels *k;
    int isa;
    /* AVX-512 VBMI present (the activation table by vpermt2b); only tests
     * clear it, to run the other path on a CPU that has it */
    int vbmi;
    /* the matrix products of 16 rows or more on AMX tiles (ozf_amx_available);
     * tests clear it, as vbmi */
    int amx;
    /* ceil(2^32 / slope) of each head's ALiBi slope (0 for slope 0): the
     * window trim's division as a product (forward_impl.h, attend_keep) */
    uint64_t slope_rcp[OZ_MAX_LAYERS][OZ_MAX_HEADS];
    void *mem;
    void *wqkv[OZ_MAX_LAYERS], *wo[OZ_MAX_LAYERS], *w1[OZ_MAX_LAYERS], *w2[OZ_MAX_LAYERS], *head;
    /* each matrix's per-row requantisation, prepared (ozf_rq_prep) */
    ozf_rq rqkv[OZ_MAX_LAYERS], ro[OZ_MAX_LAYERS], r1[OZ_MAX_LAYERS], r2[OZ_MAX_LAYERS], rhead;
} ozf_model;

/* Returns 0, or -1 if out of memory or the shape is not supported by the
 * engine (head width not a multiple of 4). */
int ozf_model_init(ozf_model *fm, const oz_model *m, int isa);
void ozf_model_free(ozf_model *fm);

/* The keys and values of up to n streams of a decode batch side by side,
 * a copy kept beside their rings for decode's attention with the streams in
 * the vector lanes (ozf_kernels.lanes; docs/architecture.md), written and
 * read only by the engine whose kernel it is for. Per layer l and head h
 * (Dh = D / H, n lanes), the part lh = l H + h; AVX-512 (n = 16):
 *   k: (Dh/4, cap, n, 4) uint8 - for a group of 4 dimensions and a slot, the
 *      n streams' 4 bytes k + 128 (k xor 0x80) side by side
 *   v: (cap/4, Dh, n, 4) int8  - for a group of 4 slots and a dimension, the
 *      n streams' 4 values side by side
 * each head's part Dh cap n bytes of k from lh Dh cap n, and as many of v;
 * AVX2 (n = 8):
 *   k: (Dh/4, cap, n, 4) int8  - as above, k as it is
 *   v: (cap/2, Dh, n, 2) int16 - for a pair of slots and a dimension, the n
 *      streams' 2 values side by side, widened
 * each head's part Dh cap n bytes of k from lh Dh cap n, 2 Dh cap n of v
 * from 2 lh Dh cap n. v has room for the second form. */
typedef struct ozf_lanes {
    int8_t *k, *v;
    uint32_t cap, n;
    void *mem;
} ozf_lanes;
#define OZF_HAVE_LANES 1

/* Key/value rings of one stream. */
typedef struct ozf_ring {
    int8_t *k, *v;  /* (L, ...) as above */
    int32_t *ksum;  /* (L, H, cap) */
    uint32_t cap;
    void *mem;
    /* the side-by-side copy this stream's keys and values also go to (lane
     * `lane` of it), or NULL (ozf_ring_join) */
    ozf_lanes *lb;
    uint32_t lane;
} ozf_ring;

int ozf_ring_init(ozf_ring *r, const oz_config *c, uint32_t cap);
void ozf_ring_free(ozf_ring *r);
/* A side-by-side copy for n streams with rings of cap slots (zeroed).
 * Returns 0, or -1 if out of memory. */
int ozf_lanes_init(ozf_lanes *b, const oz_config *c, uint32_t cap, uint32_t n);
void ozf_lanes_free(ozf_lanes *b);
/* The ring's keys and values from now on also go to lane `lane` of b (the
 * ring's cap must be b's; lane < b->n). A ring joins before its first
 * position: the copy holds only what was written after joining. */
void ozf_ring_join(ozf_ring *r, ozf_lanes *b, uint32_t lane);
/* Smallest valid ring length for a window and block: a multiple of 16, of
 * 64 for blocks of 16 or more (the AMX value sums read 64 slots at a time). */
uint32_t ozf_ring_cap(uint32_t ctx, uint32_t block);

/* Scratch for up to nrows rows. */
typedef struct ozf_scratch {
    void *mem;
    uint32_t nrows;
    int32_t *x, *acc;   /* (nrows, D), (nrows, max(3D, F, 256)) */
    int8_t *y, *qkv, *a, *g;
    int32_t *zs;        /* (W) window logits */
    uint16_t *e;        /* (W) */
    int32_t *tmp;       /* (W) the portable attention's work space; the second attention's logits in attend2 */
    uint64_t trimmed;   /* window positions left out because their weight is 0 (attend_keep), a count for tests */
    /* 96 ew_ld bytes for the 16-row attention of encode and decode's
     * attention with the streams in the lanes (nrows >= 4 only; else NULL):
     * the logits of ew_ld keys for 16 (AVX-512) or 8 (AVX2) rows from ew,
     * the values or weights laid out for the value sums from ew + 64 ew_ld
     * (AVX-512) or ew + 32 ew_ld (AVX2) */
    uint8_t *ew;
    uint32_t ew_ld;
    uint32_t *slot; /* (nrows) each row's ring slot in the current pass */
} ozf_scratch;

int ozf_scratch_init(ozf_scratch *s, const oz_config *c, uint32_t nrows);
void ozf_scratch_free(ozf_scratch *s);

/* One forward pass over nrows rows: row r feeds token tok[r] at position
 * pos[r] of the stream whose ring is rings[r]; z receives (nrows, 256) logits.
 * Rows sharing a ring must be consecutive positions in order, and the ring
 * must hold W + (rows sharing it) - 1 positions. */
void ozf_forward(const ozf_model *fm, ozf_scratch *s, uint32_t nrows, const uint8_t *tok, const uint32_t *pos,
                 ozf_ring *const *rings, int32_t *z);


/* ---- coding with the engine (host/fast/ozf_codec.c) ---- */

/* Encodes one model stream exactly as oz_encode_stream does (same bytes).
 * out: oz_encode_bound(n) bytes. Returns an OZ_CORE_* code (EPARAM: no memory). */
int ozf_encode_stream(const ozf_model *fm, const uint8_t *data, uint64_t n, uint8_t *out, uint64_t *out_len);

/* One model stream to decode: input payload, output, result. */
typedef struct ozf_job {
    const uint8_t *in;
    uint64_t in_len;
    uint8_t *out;
    uint64_t out_len;
    int rc; /* OZ_CORE_* */
} ozf_job;

/* The most streams a decode batch should hold: as many as keep their
 * key/value rings within about 1 MiB (all are read at every step; measured
 * 30% slower once a batch's rings outgrow L2, and at W = 512 on the current
 * kernels 3 streams decode at 89 KB/s, 6 at 84, 9 at 67, 16 at 57 on one
 * core), between 1 and 32. */
uint32_t ozf_batch_max(const oz_config *c);

/* The side-by-side copies for a decode batch of n streams (rings[i]
 * initialised, or mem NULL for a stream that takes no pass), where this
 * engine has the kernel with the streams in the lanes (ozf_kernels.lanes,
 * heads of width 4 to 16, a multiple of 4) and the batch fills at least half
 * a copy: G = ceil(n / lanes) copies of the first initialised ring's length,
 * stream i (if its ring has that length) in lane i mod ceil(n / G) of copy
 * i / ceil(n / G), joined before its first position. Returns G (0: none
 * apply; *lb NULL), or -1 if out of memory. */
int ozf_batch_lanes(const ozf_model *fm, ozf_ring *rings, uint32_t n, ozf_lanes **lb);
void ozf_batch_lanes_free(ozf_lanes *lb, int G);

/* Decodes the streams in lock step (one forward pass per step for all of
 * them). tick(ctx, bytes), if not NULL, is called now and then with the bytes
 * decoded since its last call. Returns 0, or -1 if out of memory (then no rc
 * is meaningful). */
int ozf_decode_batch(const ozf_model *fm, ozf_job *jobs, uint32_t njobs, void (*tick)(void *ctx, uint64_t bytes),
                     void *ctx);

#endif /* OZ_FAST_H */
