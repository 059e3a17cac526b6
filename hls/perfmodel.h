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

static uint64_t ozkm_up(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

static void ozkm_step(const ozk_dims *dm, const ozk_arch *a, ozk_step_model *s)
{
    uint64_t L = dm->L, D = dm->D, F = dm->F, H = dm->H, W = dm->W, Dp = dm->Dp;
    uint64_t Dk = ozkm_up(D, a->lanes), Dpk = ozkm_up(Dp, a->lanes), Fk = ozkm_up(F, a->lanes);
    const uint64_t dM = OZK_DEPTH_MAC, dE = OZK_DEPTH_EL;
    s->embed = a->pe * Dk + dE;
    s->norm = (2 * L + 1) * (2 * (ozkm_up(D, a->wide) + dE) + OZK_LAT_ISQRT + OZK_LAT_DIV);
    s->qkv = L * (3 * D * Dk + dM);
    s->kv_write = L * (2 * Dpk + dE);
    s->att_scores = L * (W * Dpk + dM);
    s->att_values = L * (W * Dpk + dM);
    s->att_recip = L * (H + OZK_LAT_DIV);
    s->att_out = L * (ozkm_up(Dp, a->wide) + dE);
    s->wo = L * (D * Dpk + dM);
    s->w1 = L * (F * Dk + dM);
    s->w2 = L * (D * Fk + dM);
    s->head = 256 * Dk + dM;
    s->freq = 3 * (256 / a->flanes + dE) + OZK_LAT_DIV + (256 / a->wide + dE) + OZK_LAT_FIND + OZK_LAT_RANS;
    s->total = s->embed + s->norm + s->qkv + s->kv_write + s->att_scores + s->att_values + s->att_recip +
               s->att_out + s->wo + s->w1 + s->w2 + s->head + s->freq;
}

/* The build this file is compiled with. */
static ozk_arch ozkm_this_build(void)
{
    ozk_arch a;
    a.pe = OZK_PE;
    a.lanes = OZK_LANES;
    a.wide = OZK_WIDE;
    a.flanes = OZK_FLANES;
    return a;
}

#endif
