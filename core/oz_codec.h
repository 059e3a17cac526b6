/* oz_codec.h - model-coded streams and the compact model coding (OZW).
 *
 * A model stream is the bytes of one stream coded with rANS, each byte with
 * the frequencies the integer model gives it from the bytes before it in the
 * same stream (the first byte sees the token 0). Streams are independent.
 *
 * OZW codes a model image with an adaptive binary model (one bit tree per
 * region kind, 12-bit probabilities) and rANS; see docs/format.md.
 */
#ifndef OZ_CODEC_H
#define OZ_CODEC_H

#include "oz_model.h"
#include "oz_rans.h"

/* ---- model streams ---- */

/* Positions the encoder runs through oz_forward_chunk() at a time. */
#define OZ_ENC_BLOCK 256u
/* Ring length a state needs for encoding with OZ_ENC_BLOCK blocks. */
#define OZ_ENC_CAP(ctx) ((ctx) + OZ_ENC_BLOCK)

/* Scratch for oz_encode_stream: chunk workspace, logits and per-symbol
 * (start, freq) for n bytes. */
uint64_t oz_encode_scratch_bytes(const oz_config *cfg, uint64_t n);
/* Largest payload oz_encode_stream can produce for n bytes. */
uint64_t oz_encode_bound(uint64_t n);
/* Encodes data[n]; st must have cap >= OZ_ENC_CAP(ctx) (it is reset here).
 * Writes at most oz_encode_bound(n) bytes to out; *out_len receives the size.
 * Returns OZ_CORE_OK or OZ_CORE_EPARAM. */
int oz_encode_stream(const oz_model *m, oz_state *st, void *scratch, const uint8_t *data, uint64_t n,
                     uint8_t *out, uint64_t *out_len);

/* Decodes n bytes from in[len]. st: cap >= ctx (reset here); ws: oz_step_ws_bytes().
 * Returns OZ_CORE_OK, OZ_CORE_ETRUNC or OZ_CORE_ECORRUPT. */
int oz_decode_stream(const oz_model *m, oz_state *st, void *ws, const uint8_t *in, uint64_t len,
                     uint8_t *out, uint64_t n);

/* One decoding step given the cumulative frequencies of the next byte
 * (oz_freq_cum): returns the byte and advances the decoder. */
OZ_INLINE uint32_t oz_decode_cum(oz_rdec *d, const uint32_t *cum)
{
    uint32_t s = oz_cum_find(cum, oz_rdec_slot(d, OZ_PROB_BITS));
    oz_rdec_advance(d, cum[s], cum[s + 1] - cum[s], OZ_PROB_BITS);
    return s;
}

/* One decoding step of a stream, for backends that interleave streams:
 * given the logits for the next byte, returns it and advances the decoder. */
OZ_INLINE uint32_t oz_decode_symbol(oz_rdec *d, const int32_t *z, uint32_t *cum)
{
    oz_freq_cum(z, cum);
    return oz_decode_cum(d, cum);
}

/* ---- model image coding (OZW) ---- */

uint64_t oz_wcode_scratch_bytes(uint32_t image_size);
uint64_t oz_wcode_bound(uint32_t image_size);
/* image must be a valid image (its header is read for the layout). */
int oz_wcode_encode(const uint8_t *image, uint32_t size, void *scratch, uint8_t *out, uint64_t cap,
                    uint64_t *out_len);
/* Decodes exactly `size` image bytes; checks the header and that the coded
 * data is consumed exactly. */
int oz_wcode_decode(const uint8_t *in, uint64_t len, uint8_t *image, uint32_t size);

#endif /* OZ_CODEC_H */
