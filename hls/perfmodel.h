/* perfmodel.h - the kernel's cycle model in closed form (docs/fpga.md,
 * "Cycle model"), written from the loop table of the document, not from the
 * kernel's code: the testbench checks that the cycles the kernel counts as it
 * runs (OZK_CYC in hls/lmdec.c) equal these formulas, step for step. Used by
 * hls/tb/, the perf-model tool (hls/perfmodel.c) and the host's -v report. */
#ifndef OZK_PERFMODEL_H
#define OZK_PERFMODEL_H

#include "lmdec.h"

/* The build parameters a cycle count depends on. */
typedef struct ozk_arch {
    uint32_t pe, lanes, wide, flanes;
} ozk_arch;

/* Cycles of one step, by phase (every phase once per step; norm and the
 * layer phases summed over their 2L+1 and L occurrences). */
typedef struct ozk_step_model {
    uint64_t embed, norm, qkv, kv_write, att_scores, att_values, att_recip, att_out, wo, w1, w2, head, freq;
    uint64_t total;
} ozk_step_model;

OZ_INLINE uint64_t ozkm_up(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

OZ_INLINE void ozkm_step(const ozk_dims *dm, const ozk_arch *a, ozk_step_model *s)
{
    uint64_t L = dm->L, D = dm->D, F = dm->F, H = dm->H, W = dm->W, Dp = dm->Dp;
    uint64_t Dk = ozkm_up(D, a->lanes), Dpk = ozkm_up(Dp, a->lanes), Fk = ozkm_up(F, a->lanes);
    const uint64_t dM = OZK_DEPTH_MAC, dE = OZK_DEPTH_EL;
    s->embed = a->pe * Dk + dE;
    s->norm = (2 * L + 1) * (OZK_LAT_ISQRT + OZK_LAT_DIV_NORM + ozkm_up(D, a->wide) + dE);
    s->qkv = L * (3 * D * Dk + dM);
    s->kv_write = L * (2 * Dpk + dE);
    s->att_scores = L * (W * Dpk + dM);
    s->att_values = L * (W * Dpk + dM);
    s->att_recip = L * (H + OZK_LAT_DIV_ATT);
    s->att_out = L * (ozkm_up(Dp, a->wide) + dE);
    s->wo = L * (D * Dpk + dM);
    s->w1 = L * (F * Dk + dM);
    s->w2 = L * (D * Fk + dM);
    s->head = 256 * Dk + dM;
    s->freq = 2 * (256 / a->flanes + dE) + OZK_LAT_DIV_FREQ + (256 / a->wide + dE) + OZK_LAT_FIND + OZK_LAT_RANS;
    s->total = s->embed + s->norm + s->qkv + s->kv_write + s->att_scores + s->att_values + s->att_recip +
               s->att_out + s->wo + s->w1 + s->w2 + s->head + s->freq;
}

/* ---- resources of one compute unit (docs/fpga.md, "Resources") ----
 * Estimated from the kernel's unroll and partition factors and a cost per
 * operator; Vitis reports the real figures after synthesis. */
#define OZKM_DSP_MAC 1    /* int8 x int8 multiply-accumulate lane */
#define OZKM_DSP_RQ 2     /* 27 x 31-bit product: a row end, an attention logit, an embedding lane */
#define OZKM_DSP_WIDE 12  /* one wide lane of each: x^2 (2), x * inv (3), acc * R (4), e * R (3) */
#define OZKM_LUT_EV 70    /* 16 x 8-bit multiplier in fabric (the e * v lanes, BIND_OP impl=fabric) */
#define OZKM_LUT_LANE 24  /* adder tree and accumulator per MAC lane */
#define OZKM_LUT_DIV 4000 /* one pipelined 64-bit divider per PE (norm, attention, frequencies) */
#define OZKM_LUT_PE 3000  /* isqrt, comparators, muxes, stream bookkeeping per PE */
#define OZKM_LUT_EXP 64   /* one exp2 table read port (256 x 16 bits in LUTs) */
#define OZKM_LUT_TOP 20000 /* m_axi adapters, s_axilite, control */
#define OZKM_URAM_WORDS 4096 /* a URAM is 4096 x 72 bits: 8 side by side hold 4096 words of 64 bytes */
#define OZKM_BRAM_BYTES 4096 /* a BRAM36 as 1024 x 32 bits */

typedef struct ozk_res {
    double dsp, lut, bram36, uram;
} ozk_res;

OZ_INLINE void ozkm_resources(const ozk_arch *a, ozk_res *r)
{
    double P = a->pe, K = a->lanes, WL = a->wide, FL = a->flanes, uram_w = 8.0 * a->lanes / 64;
    double per_pe_dsp = K * OZKM_DSP_MAC + OZKM_DSP_RQ * (1 + K / OZK_DHP_MIN) + OZKM_DSP_WIDE * WL;
    r->dsp = P * per_pe_dsp + K * OZKM_DSP_RQ; /* + the shared embedding unit */
    r->lut = P * (K * (OZKM_LUT_EV + OZKM_LUT_LANE) + OZKM_LUT_DIV + OZKM_LUT_PE + FL * OZKM_LUT_EXP) + OZKM_LUT_TOP;
    /* per PE: the key/value ring in URAM; shared: the weights */
    r->uram = P * uram_w * (double)ozkm_up(OZK_KV_WORDS, OZKM_URAM_WORDS) +
              uram_w * (double)ozkm_up(OZK_W_WORDS, OZKM_URAM_WORDS);
    /* per PE: attention logits (4 banks), input words (8 banks of 18 Kb), output bytes (one 18 Kb);
     * shared: the requantisation pairs */
    r->bram36 = P * ((double)ozkm_up(4 * OZK_ZS, OZKM_BRAM_BYTES) + 4.0 + 0.5) +
                2.0 * (double)ozkm_up(4 * OZK_RQ_ROWS, OZKM_BRAM_BYTES);
}

/* The build this file is compiled with. */
OZ_INLINE ozk_arch ozkm_this_build(void)
{
    ozk_arch a;
    a.pe = OZK_PE;
    a.lanes = OZK_LANES;
    a.wide = OZK_WIDE;
    a.flanes = OZK_FLANES;
    return a;
}

#endif
