/* oz_ops.h - the operations of one position of the integer Transformer, one
 * element, row end or attention position at a time.
 *
 * core/oz_model.c (the one-step and whole-chunk forward passes, the
 * frequencies) is written with these functions, and so is every faster
 * backend: the FPGA kernel (hls/) arranges them in its own loops, lanes and
 * on-chip buffers, but computes each value with the function below. A backend
 * may sum products in any order and in any number of partial sums: every sum
 * on the decode path is exact (docs/integer-model.md gives the bounds), so the
 * order never changes a result. Anything else is defined here, once.
 *
 * Pointers are OZ_MEM (oz_types.h): __global when built as OpenCL C. */
#ifndef OZ_OPS_H
#define OZ_OPS_H

#include "oz_model.h"

/* ---- rows of the linear layers (acc: a whole row's int8 dot product) ---- */

/* Embedding value e of token t into the residual stream (m, s of that token). */
OZ_INLINE int32_t oz_embed1(int8_t e, int32_t m, int32_t s)
{
    return (int32_t)oz_clamp64(oz_rq(e, m, s), -OZ_RES_MAX, OZ_RES_MAX);
}

/* A row that produces an int8 activation (q, k, v, MLP pre-activation). */
OZ_INLINE int8_t oz_row_i8(int32_t acc, int32_t m, int32_t s)
{
    return oz_sat8(oz_rq(acc, m, s));
}

/* A row that adds to the residual x (attention output, MLP output). */
OZ_INLINE int32_t oz_row_res(int32_t x, int32_t acc, int32_t m, int32_t s)
{
    return oz_res_add(x, oz_rq(acc, m, s));
}

/* A row of the output head: a logit in 1/256 bit. */
OZ_INLINE int32_t oz_row_logit(int32_t acc, int32_t m, int32_t s)
{
    return (int32_t)oz_clamp64(oz_rq(acc, m, s), -OZ_Z_MAX, OZ_Z_MAX);
}

/* MLP activation: the layer's table (256 entries) at the pre-activation h. */
OZ_INLINE int8_t oz_act(OZ_MEM const int8_t *table, int8_t h)
{
    return table[h + 128];
}

/* ---- attention of one head (docs/integer-model.md, "Attention") ---- */

/* Below every logit an attention score can take: the start of a max. */
#define OZ_ATT_ZMIN (-2 * OZ_Z_MAX - OZ_MAX_SLOPE * OZ_MAX_CTX)

/* Logit of the key at distance dist = p - j (0 = the current position), from
 * the dot product q.k_j: |z| < 2^26. */
OZ_INLINE int32_t oz_att_logit(int32_t dot, int32_t m, int32_t s, int32_t slope, uint32_t dist)
{
    return (int32_t)oz_clamp64(oz_rq(dot, m, s), -OZ_Z_MAX, OZ_Z_MAX) - slope * (int32_t)dist;
}

/* Weight of a key: e = exp2q15(zmax - z) <= 2^15 (the maximum gets 2^15). */
OZ_INLINE uint32_t oz_att_weight(int32_t zmax, int32_t z)
{
    return oz_exp2q15(zmax - z);
}

/* acc_d + e * v_d: |acc| <= 2^15 * 127 * 512 < 2^31. */
OZ_INLINE int32_t oz_att_mac(int32_t acc, uint32_t e, int8_t v)
{
    return acc + (int32_t)e * v;
}

/* R = floor(2^46 / E), E = sum of the weights, 2^15 <= E <= 2^24. */
OZ_INLINE int64_t oz_att_recip(uint32_t E)
{
    return (int64_t)(((uint64_t)1 << 46) / E);
}

/* Output o_d = sat8(floor((acc_d * R + 2^45) / 2^46)). */
OZ_INLINE int8_t oz_att_out(int32_t acc, int64_t R)
{
    return oz_sat8(oz_sra64((int64_t)acc * R + ((int64_t)1 << 45), 46));
}

/* ---- logits -> frequencies (docs/integer-model.md, "Frequencies") ---- */

/* The symbol with the largest logit so far: symbols are visited in any
 * order, ties go to the smaller symbol. Returns 1 if (z, s) beats (zmax, best). */
OZ_INLINE int oz_freq_better(int32_t z, uint32_t s, int32_t zmax, uint32_t best)
{
    return z > zmax || (z == zmax && s < best);
}

/* R = floor((2^20 - 256) * 2^32 / E), E = sum of exp2q15(zmax - z_s). */
OZ_INLINE uint64_t oz_freq_recip(uint64_t E)
{
    return (((uint64_t)1 << OZ_PROB_BITS) - 256) * ((uint64_t)1 << 32) / E;
}

/* Frequency of a symbol of weight e = exp2q15(zmax - z): >= 1. */
OZ_INLINE uint32_t oz_freq1(uint32_t e, uint64_t R)
{
    return 1 + (uint32_t)(((uint64_t)e * R) >> 32);
}

/* What the best symbol gets on top of its frequency: 2^20 - sum of all. */
OZ_INLINE uint32_t oz_freq_rest(uint32_t sum)
{
    return ((uint32_t)1 << OZ_PROB_BITS) - sum;
}

#endif /* OZ_OPS_H */
