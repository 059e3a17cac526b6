/* lmdec.h - the FPGA decode kernel's interface, build parameters, limits and
 * cycle model; shared by the kernel (hls/lmdec.c, compiled as C, C++ and
 * OpenCL C), its testbench (hls/tb/) and the host backends (host/backend_*.c).
 *
 * The kernel decodes the model-coded streams of one .oz file: it loads the
 * integer model into on-chip memory once, then runs OZK_PE streams at a time
 * in lock step, one byte per stream per step (docs/fpga.md).
 *
 * Kernel arguments (in this order; bitstream/check.sh checks them against
 * every board's connectivity):
 *   model    m_axi gmem0  the model image (OZMI, as bound by oz_model_bind)
 *   desc     m_axi gmem1  uint32 words: the model's tensor offsets and the
 *                         stream table (layout below)
 *   in       m_axi gmem1  the stream payloads, each at a 64-byte aligned offset,
 *                         the buffer padded to a multiple of 64 bytes
 *   out      m_axi gmem2  decoded bytes
 *   status   m_axi gmem2  uint32 words: kernel result, modelled cycles, one
 *                         result per stream (layout below)
 *   nstreams s_axilite    number of streams in the table
 * Built as OpenCL C the kernel takes one more argument, `chip`: a __global
 * buffer of sizeof(ozk_chip) bytes standing in for the on-chip memories.
 */
#ifndef OZK_LMDEC_H
#define OZK_LMDEC_H

#include "../core/oz_ops.h"
#include "../core/oz_rans.h"

/* ---- build parameters (the board's make variables may override them) ---- */
#ifndef OZK_PE
#define OZK_PE 56 /* processing elements: streams decoded in lock step (U55C build) */
#endif
#ifndef OZK_LANES
#define OZK_LANES 64 /* int8 multiply-accumulate lanes per PE (one weight word) */
#endif
#ifndef OZK_WIDE
#define OZK_WIDE 4 /* lanes of the wide (32 x 40-bit) multiplies per PE */
#endif
#ifndef OZK_FLANES
#define OZK_FLANES 16 /* symbols per cycle in the frequency passes */
#endif
#ifndef OZK_SEG
#define OZK_SEG 1024 /* steps between input loads / output stores */
#endif
/* Model limits of the on-chip buffers (checked at run time: OZK_E_LIMIT). */
#ifndef OZK_MAX_LAYERS
#define OZK_MAX_LAYERS 8
#endif
#ifndef OZK_MAX_D
#define OZK_MAX_D 256 /* d_model, and H * Dhp (heads padded, below) */
#endif
#ifndef OZK_MAX_F
#define OZK_MAX_F 1024
#endif
#ifndef OZK_MAX_H
#define OZK_MAX_H 16
#endif
#define OZK_MAX_DH OZK_LANES /* a head fits in one weight word */
#ifndef OZK_MAX_W
#define OZK_MAX_W 512
#endif
#ifndef OZK_KV_WORDS
#define OZK_KV_WORDS 4096 /* per PE: 2 * L * W * ceil(H * Dhp / OZK_LANES) */
#endif
#ifndef OZK_ZS
#define OZK_ZS 4096 /* per PE: W * H attention logits */
#endif
#ifndef OZK_W_WORDS
#define OZK_W_WORDS 32768 /* weight words of OZK_LANES bytes, rows padded */
#endif
#ifndef OZK_RQ_ROWS
#define OZK_RQ_ROWS 8192 /* requantisation pairs: 512 + L * (5 D + F) */
#endif
#ifndef OZK_CLOCK_MHZ
#define OZK_CLOCK_MHZ 300 /* the kernel clock the cycle counts are reported at */
#endif

#define OZK_DW (OZK_MAX_D / OZK_LANES) /* words of a D vector */
#define OZK_FW (OZK_MAX_F / OZK_LANES) /* words of an F vector */
#define OZK_VW (OZK_DW > OZK_FW ? OZK_DW : OZK_FW)
#define OZK_DHP_MIN 16 /* heads are padded to max(16, next power of two) lanes */
#define OZK_SEG_IN (4 * OZK_SEG + 128) /* input bytes a segment may need */

/* ---- cycle model: pipeline depths and latencies (docs/fpga.md) ---- */
#define OZK_DEPTH_MAC 14  /* weight read 2, int8 multiply 3, adder tree 6, accumulate 1, row end 2 */
#define OZK_DEPTH_EL 8    /* element loops: read 2, wide multiply 4, write 2 */
/* divisions: a pipelined radix-2 divider, one quotient bit per stage: the
 * dividend's bits + 4 cycles (2^37 / rms, 2^46 / E, (2^20 - 256) 2^32 / E) */
#define OZK_LAT_DIV_NORM 42
#define OZK_LAT_DIV_ATT 51
#define OZK_LAT_DIV_FREQ 56
#define OZK_LAT_ISQRT 34  /* oz_isqrt64: 32 iterations + 2 */
#define OZK_LAT_FIND 16   /* oz_cum_find: 8 dependent probes of 2 cycles */
#define OZK_LAT_RANS 6    /* rANS state update, word pull */
#define OZK_LAT_AXI 128   /* start of an m_axi burst (HBM/DDR read latency) */
#define OZK_AXI_BYTES 64  /* bytes per beat of a 512-bit m_axi port */

/* ---- desc: uint32 words ---- */
#define OZK_MAGIC 0x4B5A4F4Cu /* "LOZK" */
#define OZK_VERSION 1u
enum {
    OZK_D_MAGIC = 0, OZK_D_VERSION = 1, OZK_D_L = 2, OZK_D_D = 3, OZK_D_H = 4, OZK_D_F = 5,
    OZK_D_W = 6, OZK_D_FLAGS = 7, OZK_D_MODEL_SIZE = 8,
    OZK_D_EMB = 16, OZK_D_RQ_EMB = 17, OZK_D_HEAD = 18, OZK_D_RQ_HEAD = 19,
    OZK_D_LAYERS = 20, /* 11 words per layer, OZK_T_* order */
    OZK_D_STREAMS = 256 /* then OZK_S_WORDS words per stream */
};
/* tensors of a layer, in the order of oz_layer */
enum { OZK_T_WQKV, OZK_T_RQ_QKV, OZK_T_ATT, OZK_T_SLOPE, OZK_T_WO, OZK_T_RQ_O, OZK_T_W1, OZK_T_RQ_1,
       OZK_T_ACT, OZK_T_W2, OZK_T_RQ_2, OZK_T_COUNT };
/* a stream: payload offset in `in` (64-bit, 64-byte aligned), payload bytes,
 * output offset in `out` (64-bit), output bytes */
enum { OZK_S_IN_LO, OZK_S_IN_HI, OZK_S_IN_LEN, OZK_S_OUT_LO, OZK_S_OUT_HI, OZK_S_OUT_LEN, OZK_S_WORDS = 8 };

/* ---- status: uint32 words ---- */
enum {
    OZK_ST_RC = 0,         /* OZK_OK or OZK_E_* */
    OZK_ST_DONE = 1,       /* OZK_DONE once the kernel has finished */
    OZK_ST_PE = 2,         /* build parameters, for the host's report */
    OZK_ST_LANES = 3,
    OZK_ST_DETAIL = 4,     /* OZK_E_LIMIT: which limit (OZK_L_*) */
    OZK_ST_CLOCK = 5,      /* OZK_CLOCK_MHZ of this build */
    /* 64-bit counters (lo, hi) of the cycle model; 0 when not counted (hardware) */
    OZK_ST_STEPS = 6,      /* lock-step iterations */
    OZK_ST_CYC_STEP = 8,   /* cycles of the steps */
    OZK_ST_CYC_IO = 10,    /* cycles of the segment loads and stores */
    OZK_ST_CYC_LOAD = 12,  /* cycles of loading the model */
    OZK_ST_STREAMS = 16    /* then one OZ_CORE_* result per stream */
};
#define OZK_DONE 0x454E4F44u /* "DONE" */
#define OZK_NOT_RUN 0xFFFFFFFFu /* what the host writes before a launch */

enum { OZK_OK = 0, OZK_E_DESC = 1, OZK_E_LIMIT = 2, OZK_E_MODEL = 3 };
/* which limit a model exceeds */
enum { OZK_L_NONE, OZK_L_LAYERS, OZK_L_D, OZK_L_F, OZK_L_H, OZK_L_DH, OZK_L_W, OZK_L_KV, OZK_L_ZS,
       OZK_L_WORDS, OZK_L_RQ };

/* Shapes of a model in the kernel's on-chip layout. Heads are padded to Dhp
 * lanes (a power of two >= 16, so a head never straddles a word), q, k, v and
 * the attention output live in that padded layout (Dp = H * Dhp lanes); every
 * weight row is padded to whole words of OZK_LANES bytes, with zeros. */
typedef struct ozk_dims {
    uint32_t L, D, H, F, W, tied;
    uint32_t Dh, Dhp, Dp;
    uint32_t Dk, Dpk, Fk; /* words of a D, Dp, F vector */
    uint32_t kv_words, w_words, rq_rows;
    uint32_t wb_emb, wb_head, rb_emb, rb_head;              /* first word / rq row */
    uint32_t wb[OZK_MAX_LAYERS][4], rb[OZK_MAX_LAYERS][4]; /* qkv, o, 1, 2 */
} ozk_dims;

OZ_INLINE uint32_t ozk_words(uint32_t n)
{
    return (n + OZK_LANES - 1) / OZK_LANES;
}

/* Fills dm for a model shape; returns OZK_L_NONE or the first limit it
 * exceeds. The host calls it before a launch, the kernel again. */
OZ_INLINE int ozk_dims_init(ozk_dims *dm, uint32_t L, uint32_t D, uint32_t H, uint32_t F, uint32_t W,
                            uint32_t tied)
{
    uint32_t l, w, r;
    dm->L = L;
    dm->D = D;
    dm->H = H;
    dm->F = F;
    dm->W = W;
    dm->tied = tied;
    dm->Dh = dm->Dhp = dm->Dp = dm->Dk = dm->Dpk = dm->Fk = 0;
    dm->kv_words = dm->w_words = dm->rq_rows = 0;
    if (L < 1 || L > OZK_MAX_LAYERS)
        return OZK_L_LAYERS;
    if (D < 16 || D > OZK_MAX_D || (D & 15))
        return OZK_L_D;
    if (F < 16 || F > OZK_MAX_F || (F & 15))
        return OZK_L_F;
    if (H < 1 || H > OZK_MAX_H || D % H)
        return OZK_L_H;
    dm->Dh = D / H;
    if (dm->Dh > OZK_MAX_DH)
        return OZK_L_DH;
    dm->Dhp = OZK_DHP_MIN;
    while (dm->Dhp < dm->Dh)
        dm->Dhp *= 2;
    dm->Dp = H * dm->Dhp;
    if (dm->Dp > OZK_MAX_D)
        return OZK_L_D;
    if (W < 1 || W > OZK_MAX_W)
        return OZK_L_W;
    dm->Dk = ozk_words(D);
    dm->Dpk = ozk_words(dm->Dp);
    dm->Fk = ozk_words(F);
    dm->kv_words = 2 * L * W * dm->Dpk;
    if (dm->kv_words > OZK_KV_WORDS)
        return OZK_L_KV;
    if (W * H > OZK_ZS)
        return OZK_L_ZS;
    w = 0;
    r = 0;
    dm->wb_emb = w;
    dm->rb_emb = r;
    w += 256 * dm->Dk;
    r += 256;
    dm->wb_head = tied ? dm->wb_emb : w;
    w += tied ? 0 : 256 * dm->Dk;
    dm->rb_head = r;
    r += 256;
    for (l = 0; l < L; l++) {
        dm->wb[l][0] = w;
        dm->rb[l][0] = r;
        w += 3 * D * dm->Dk;
        r += 3 * D;
        dm->wb[l][1] = w;
        dm->rb[l][1] = r;
        w += D * dm->Dpk;
        r += D;
        dm->wb[l][2] = w;
        dm->rb[l][2] = r;
        w += F * dm->Dk;
        r += F;
        dm->wb[l][3] = w;
        dm->rb[l][3] = r;
        w += D * dm->Fk;
        r += D;
    }
    dm->w_words = w;
    dm->rq_rows = r;
    if (w > OZK_W_WORDS)
        return OZK_L_WORDS;
    if (r > OZK_RQ_ROWS)
        return OZK_L_RQ;
    return OZK_L_NONE;
}

/* Padded lane of element i (< D) of a q, k, v or attention output vector. */
OZ_INLINE uint32_t ozk_plane(const ozk_dims *dm, uint32_t i)
{
    return (i / dm->Dh) * dm->Dhp + i % dm->Dh;
}

/* ---- the on-chip memories of one compute unit ---- */
typedef struct ozk_chip {
    /* the model, resident for the whole launch */
    int8_t wgt[OZK_W_WORDS][OZK_LANES];   /* weight rows, padded to words */
    int32_t rqm[OZK_RQ_ROWS], rqs[OZK_RQ_ROWS]; /* requantisation (m, s) per row */
    int8_t act[OZK_MAX_LAYERS][256];      /* activation tables */
    int32_t att[OZK_MAX_LAYERS][2];       /* attention score (m, s) */
    int32_t slope[OZK_MAX_LAYERS][OZK_MAX_H];
    /* per PE: the stream's key/value ring and the step's vectors */
    int8_t kv[OZK_PE][OZK_KV_WORDS][OZK_LANES]; /* (L, K|V, W, Dpk) words */
    int32_t x[OZK_PE][OZK_MAX_D];         /* residual */
    int8_t vb[OZK_PE][2][OZK_VW][OZK_LANES]; /* matrix inputs: 0 normalised x, 1 attention / MLP out */
    int8_t qkv[OZK_PE][3][OZK_DW][OZK_LANES]; /* new q, k, v (padded heads) */
    int32_t aacc[OZK_PE][OZK_DW][OZK_LANES];  /* attention accumulators */
    int32_t zs[OZK_PE][OZK_ZS];           /* attention logits (W, H) */
    int32_t z[OZK_PE][256];               /* output logits */
    uint32_t e[OZK_PE][256];              /* frequencies */
    uint32_t cum[OZK_PE][257];
    uint64_t ss[OZK_PE];                  /* sum of x^2, kept by the phases that write x */
    int32_t zmax[OZK_PE];                 /* largest logit and its symbol, kept by the head */
    uint32_t zbest[OZK_PE];
    uint8_t inb[OZK_PE][OZK_SEG_IN];      /* input words of the segment */
    uint8_t outb[OZK_PE][OZK_SEG];        /* decoded bytes of the segment */
    /* per PE: the stream slot */
    uint64_t x_rans[OZK_PE];              /* rANS state */
    uint64_t in_base[OZK_PE], in_end[OZK_PE], in_pos[OZK_PE], seg_base[OZK_PE];
    uint64_t out_base[OZK_PE];
    uint32_t sid[OZK_PE], n[OZK_PE], pos[OZK_PE], seg_pos[OZK_PE], prev[OZK_PE];
    int32_t busy[OZK_PE], live[OZK_PE], rc[OZK_PE];
    int32_t started[OZK_PE];
    uint64_t steps, cyc_step, cyc_io, cyc_load; /* the cycle model's counters */
} ozk_chip;

#if !defined(__OPENCL_VERSION__) && !defined(__OPENCL_C_VERSION__)
#ifdef __cplusplus
extern "C" {
#endif
/* The kernel's top function (C / C++ builds; hls/lmdec.c). */
void lmdec(const uint8_t *model, const uint32_t *desc, const uint8_t *in, uint8_t *out, uint32_t *status,
           uint32_t nstreams);
#ifdef __cplusplus
}
#endif
#endif

#endif /* OZK_LMDEC_H */
