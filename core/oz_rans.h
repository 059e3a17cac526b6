/* oz_rans.h - rANS entropy coder: 64-bit state, 32-bit word I/O.
 *
 * Why rANS and not a range coder: decoding needs no division (one multiply,
 * one table search), which is what a one-symbol-per-cycle hardware decoder
 * wants, and the 64-bit state keeps the coding loss negligible at 20-bit
 * probability precision. Encoding runs backwards over the symbols; the
 * encoder knows every probability up front, so this costs nothing.
 *
 * State x lies in [L, 2^63) with L = 2^31 between symbols. With precision
 * `pb` bits (a symbol has start c and frequency f, sum of f = 2^pb, pb <= 24):
 *   encode: if x >= 2^(63-pb) * f / 2^(31-pb)... i.e. x >= ((L >> pb) << 32) * f:
 *               emit the low 32 bits of x, x >>= 32
 *           x = (x / f) << pb + (x mod f) + c
 *   decode: slot = x mod 2^pb; find s with c_s <= slot < c_s + f_s
 *           x = f * (x >> pb) + slot - c
 *           if x < L: x = (x << 32) | next 32-bit word
 * The stream is the final encoder state (8 bytes, little-endian) followed by
 * the emitted words in decoding order (little-endian). A correct decode ends
 * with x == L and every byte consumed; oz_rdec_done() checks both.
 */
#ifndef OZ_RANS_H
#define OZ_RANS_H

#include "oz_bytes.h"

#define OZ_RANS_L ((uint64_t)1 << 31)

/* Encoder: writes words backwards from `end` towards `begin`. */
typedef struct oz_renc {
    uint64_t x;
    uint8_t *begin, *ptr; /* ptr: first byte written so far */
    int overflow;         /* set when the buffer was too small */
} oz_renc;

OZ_INLINE void oz_renc_init(oz_renc *e, uint8_t *begin, uint8_t *end)
{
    e->x = OZ_RANS_L;
    e->begin = begin;
    e->ptr = end;
    e->overflow = 0;
}

OZ_INLINE void oz_renc_put(oz_renc *e, uint32_t start, uint32_t freq, int pb)
{
    uint64_t x = e->x;
    uint64_t xmax = ((OZ_RANS_L >> pb) << 32) * freq;
    if (x >= xmax) {
        if (e->ptr - e->begin < 4) {
            e->overflow = 1;
        } else {
            e->ptr -= 4;
            oz_wr32(e->ptr, (uint32_t)x);
        }
        x >>= 32;
    }
    e->x = ((x / freq) << pb) + (x % freq) + start;
}

/* Writes the final state; returns the stream start (NULL on overflow). */
OZ_INLINE uint8_t *oz_renc_finish(oz_renc *e)
{
    if (e->overflow || e->ptr - e->begin < 8)
        return 0;
    e->ptr -= 8;
    oz_wr64(e->ptr, e->x);
    return e->ptr;
}

typedef struct oz_rdec {
    uint64_t x;
    OZ_MEM const uint8_t *ptr, *end;
    int err; /* 1: ran past the end of the stream, 2: bad initial state */
} oz_rdec;

/* The decoding arithmetic, for backends that fetch the words themselves
 * (hls/): a valid initial state, the state after a symbol, the state after
 * taking in a word (needed when the state fell below L). */
OZ_INLINE int oz_rans_state_ok(uint64_t x)
{
    return x >= OZ_RANS_L && x < ((uint64_t)1 << 63);
}

/* x stays below 2^63 whatever the input: f * (x >> pb) < 2^pb * 2^(63-pb). */
OZ_INLINE uint64_t oz_rans_dec(uint64_t x, uint32_t start, uint32_t freq, int pb)
{
    return (uint64_t)freq * (x >> pb) + (x & (((uint64_t)1 << pb) - 1)) - start;
}

/* The state fell below L: it takes in the next word. */
OZ_INLINE int oz_rans_low(uint64_t x)
{
    return x < OZ_RANS_L;
}

OZ_INLINE uint64_t oz_rans_pull(uint64_t x, uint32_t word)
{
    return (x << 32) | word;
}

OZ_INLINE uint32_t oz_rans_slot(uint64_t x, int pb)
{
    return (uint32_t)(x & (((uint64_t)1 << pb) - 1));
}

/* A stream decoded consistently: final state L and `left` bytes unread = 0. */
OZ_INLINE int oz_rans_end_ok(uint64_t x, uint64_t left)
{
    return x == OZ_RANS_L && left == 0;
}

OZ_INLINE void oz_rdec_init(oz_rdec *d, OZ_MEM const uint8_t *buf, uint64_t len)
{
    d->err = 0;
    d->ptr = buf;
    d->end = buf + len;
    d->x = OZ_RANS_L;
    if (len < 8) {
        d->err = 1;
        d->ptr = d->end;
        return;
    }
    d->x = oz_rd64(buf);
    d->ptr = buf + 8;
    if (!oz_rans_state_ok(d->x)) {
        d->err = 2;
        d->x = OZ_RANS_L;
    }
}

OZ_INLINE uint32_t oz_rdec_slot(const oz_rdec *d, int pb)
{
    return oz_rans_slot(d->x, pb);
}

OZ_INLINE void oz_rdec_advance(oz_rdec *d, uint32_t start, uint32_t freq, int pb)
{
    uint64_t x = oz_rans_dec(d->x, start, freq, pb);
    if (oz_rans_low(x)) {
        if (d->end - d->ptr < 4) {
            d->err = 1;
            x = OZ_RANS_L; /* keep the state valid; the caller reports the error */
        } else {
            x = oz_rans_pull(x, oz_rd32(d->ptr));
            d->ptr += 4;
        }
    }
    d->x = x;
}

/* Symbol s with cum[s] <= slot < cum[s+1]; cum has 257 non-decreasing entries,
 * cum[0] = 0 and cum[256] = 2^pb > slot. Eight probes. */
OZ_INLINE uint32_t oz_cum_find(OZ_MEM const uint32_t *cum, uint32_t slot)
{
    uint32_t lo = 0, step;
    for (step = 128; step != 0; step >>= 1)
        if (cum[lo + step] <= slot)
            lo += step;
    return lo;
}

/* 1 if the stream decoded consistently: final state is L and input used up. */
OZ_INLINE int oz_rdec_done(const oz_rdec *d)
{
    return d->err == 0 && oz_rans_end_ok(d->x, (uint64_t)(d->end - d->ptr));
}

#endif /* OZ_RANS_H */
