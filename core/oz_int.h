/* oz_int.h - the integer primitives of the ozip model (the contract).
 *
 * Every operation the encoder and decoder perform to turn bytes into
 * probabilities is built from the functions in this file. Their exact
 * definitions, widths and overflow bounds are written down in
 * docs/integer-model.md; keep the two in step.
 *
 * Rules that hold here:
 *  - no float, no libm, no implementation-defined behaviour: right shifts of
 *    negative values go through oz_sra64 (floor division by 2^s), narrowing
 *    conversions are preceded by a clamp;
 *  - every accumulator has a written bound (see the doc).
 */
#ifndef OZ_INT_H
#define OZ_INT_H

#include "oz_types.h"
#include "oz_tables.h"

/* Activation range: int8 activations are clamped to [-127, 127] (symmetric). */
#define OZ_ACT_MAX 127
/* The residual stream is int32 clamped to +-(2^23 - 1). */
#define OZ_RES_MAX 8388607
/* Logits (attention and output) are in units of 1/256 bit (log2), clamped to +-2^24. */
#define OZ_Z_MAX 16777216
/* RMS normalisation output has 5 fractional bits: y = round(32 * r / rms(r)). */
#define OZ_NORM_FRAC 5
/* Probability precision of the frequency tables (total = 2^20). */
#define OZ_PROB_BITS 20

/* floor(x / 2^s) for 0 <= s <= 62, without relying on the implementation-
 * defined right shift of a negative value (~x = -x-1 is non-negative). */
OZ_INLINE int64_t oz_sra64(int64_t x, int s)
{
    return x >= 0 ? (x >> s) : ~((~x) >> s);
}

OZ_INLINE int64_t oz_clamp64(int64_t x, int64_t lo, int64_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* Saturate to the int8 activation range [-127, 127]. */
OZ_INLINE int8_t oz_sat8(int64_t x)
{
    return (int8_t)oz_clamp64(x, -OZ_ACT_MAX, OZ_ACT_MAX);
}

/* Fixed-point requantisation: floor((acc * m + 2^(s-1)) / 2^s), i.e. acc*m/2^s
 * rounded half up. Preconditions (checked when a model is bound):
 * 0 <= m < 2^31, 1 <= s <= 62, |acc| < 2^31, so |acc*m| < 2^62 and the sum
 * stays below 2^63. */
OZ_INLINE int64_t oz_rq(int32_t acc, int32_t m, int32_t s)
{
    return oz_sra64((int64_t)acc * (int64_t)m + ((int64_t)1 << (s - 1)), s);
}

/* Dot product of two int8 vectors, n <= 4096: |sum| <= 128*128*4096 = 2^26. */
OZ_INLINE int32_t oz_dot_i8(OZ_MEM const int8_t *a, OZ_MEM const int8_t *b, int n)
{
    int32_t acc = 0;
    int i;
    for (i = 0; i < n; i++)
        acc += (int32_t)a[i] * (int32_t)b[i];
    return acc;
}

/* floor(sqrt(v)) for any 64-bit v, exact. */
OZ_INLINE uint32_t oz_isqrt64(uint64_t v)
{
    /* The classic bit-by-bit method: from the highest power of 4 not above v,
     * subtract res + bit whenever it fits. The step is written without a
     * data-dependent branch (a mask), which CPUs run without mispredictions. */
    uint64_t res = 0, bit = (uint64_t)1 << 62;
    while (bit > v)
        bit >>= 2;
    while (bit != 0) {
        uint64_t t = res + bit;
        uint64_t fits = (uint64_t)0 - (uint64_t)(v >= t); /* all ones if it fits */
        v -= t & fits;
        res = (res >> 1) + (bit & fits);
        bit >>= 2;
    }
    return (uint32_t)res;
}

/* 2^(-t/256) in Q15 for t >= 0: OZ_EXP2_Q15[t mod 256] >> (t div 256), and 0
 * once t >= 16*256. Result in [0, 32768]; equals 32768 only at t = 0. */
OZ_INLINE uint32_t oz_exp2q15(int32_t t)
{
    int32_t i = t >> 8; /* t >= 0: shift of a non-negative value */
    return i < 16 ? ((uint32_t)OZ_EXP2_Q15[t & 255] >> i) : 0u;
}

/* Residual add: x + clamp(delta), clamped to the residual range. */
OZ_INLINE int32_t oz_res_add(int32_t x, int64_t delta)
{
    int64_t d = oz_clamp64(delta, -OZ_RES_MAX, OZ_RES_MAX);
    return (int32_t)oz_clamp64((int64_t)x + d, -OZ_RES_MAX, OZ_RES_MAX);
}

/* RMS normalisation of one residual vector x[n] (|x_i| <= 2^23 - 1, n <= 1024)
 * to int8 with OZ_NORM_FRAC fractional bits:
 *   ss  = sum x_i^2            (< 2^46 * 2^10 = 2^56, fits uint64)
 *   rms = isqrt(floor(ss / n))
 *   inv = floor(2^37 / rms)     (<= 2^37)
 *   y_i = sat8(floor((x_i * inv + 2^31) / 2^32))   (|x_i * inv| < 2^60)
 * which is y_i = round(32 * x_i / rms). rms == 0 means y = 0; inv = 0 gives
 * exactly that (floor(2^31 / 2^32) = 0), so it needs no branch.
 * The three steps are separate functions so that a backend may sum the
 * squares in any order and lanes (the sum is exact) and still compute the
 * same inv and y. */
OZ_INLINE uint64_t oz_sq(int32_t x)
{
    return (uint64_t)((int64_t)x * (int64_t)x);
}

/* inv from the root: floor(2^37 / rms), 0 for rms = 0 */
OZ_INLINE int64_t oz_inv_rms(uint32_t rms)
{
    return rms == 0 ? 0 : (int64_t)(((uint64_t)1 << 37) / rms);
}

OZ_INLINE int64_t oz_rms_inv(uint64_t ss, uint32_t n)
{
    return oz_inv_rms(oz_isqrt64(ss / (uint64_t)n));
}

OZ_INLINE int8_t oz_norm(int32_t x, int64_t inv)
{
    return oz_sat8(oz_sra64((int64_t)x * inv + ((int64_t)1 << 31), 32));
}

OZ_INLINE void oz_rmsnorm(OZ_MEM const int32_t *x, OZ_MEM int8_t *y, int n)
{
    uint64_t ss = 0;
    int64_t inv;
    int i;
    for (i = 0; i < n; i++)
        ss += oz_sq(x[i]);
    inv = oz_rms_inv(ss, (uint32_t)n);
    for (i = 0; i < n; i++)
        y[i] = oz_norm(x[i], inv);
}

#endif /* OZ_INT_H */
