/* oz_model.h - the integer byte-level Transformer (reference definition).
 *
 * A model is an "image": one little-endian byte array holding a 64-byte
 * header and every tensor at a 64-byte aligned offset (layout below and in
 * docs/format.md, "Model image"). oz_model_bind() checks an image and points
 * an oz_model at its tensors; nothing is copied.
 *
 * Two entry points compute the same numbers:
 *  - oz_forward_chunk(): many positions at once (encoding: every byte is known);
 *  - oz_forward_step():  one position (decoding), with a key/value ring buffer.
 * tests/test_model.c proves they agree at every position of real data.
 *
 * Shapes are written (rows, cols); D = d_model, F = d_ff, H = n_head,
 * Dh = D/H, W = ctx (attention window), L = n_layer.
 */
#ifndef OZ_MODEL_H
#define OZ_MODEL_H

#include "oz_int.h"

#define OZ_MAX_LAYERS 16
#define OZ_MAX_DMODEL 1024
#define OZ_MAX_DFF 4096
#define OZ_MAX_HEADS 16
#define OZ_MAX_DHEAD 256
#define OZ_MAX_CTX 512
#define OZ_MAX_SLOPE 65536 /* ALiBi slope, in 1/256 bit per position */

#define OZ_IMAGE_MAGIC 0x494D5A4Fu /* "OZMI" little-endian */
#define OZ_IMAGE_VERSION 1
#define OZ_IMAGE_HEADER 64
#define OZ_IMAGE_ALIGN 64

#define OZ_CFG_TIED 1u /* output head shares the embedding matrix */

typedef struct oz_config {
    uint32_t n_layer; /* L, 1..16 */
    uint32_t d_model; /* D, multiple of 16, 16..1024 */
    uint32_t n_head;  /* H, divides D, 1..16, D/H <= 256 */
    uint32_t d_ff;    /* F, multiple of 16, 16..4096 */
    uint32_t ctx;     /* W, attention window in bytes, 1..512 */
    uint32_t wbits;   /* weight precision used by the trainer, 2..8 (storage is int8) */
    uint32_t flags;   /* OZ_CFG_* */
} oz_config;

/* Requantisation parameters are stored as int32 pairs (m, s); see oz_rq(). */
typedef struct oz_layer {
    const int8_t *wqkv;    /* (3D, D): rows 0..D-1 -> q, D..2D-1 -> k, 2D..3D-1 -> v */
    const int32_t *rq_qkv; /* (3D, 2): to int8 q, k, v */
    const int32_t *att;    /* (2): attention score -> logit (1/256 bit) */
    const int32_t *slope;  /* (H): ALiBi slope per head, 1/256 bit per position */
    const int8_t *wo;      /* (D, D) */
    const int32_t *rq_o;   /* (D, 2): to residual units */
    const int8_t *w1;      /* (F, D) */
    const int32_t *rq_1;   /* (F, 2): to int8 pre-activation */
    const int8_t *act;     /* (256): activation table, index h + 128 */
    const int8_t *w2;      /* (D, F) */
    const int32_t *rq_2;   /* (D, 2): to residual units */
} oz_layer;

typedef struct oz_model {
    oz_config cfg;
    const int8_t *emb;     /* (256, D) token embedding */
    const int32_t *rq_emb; /* (256, 2): to residual units, per token */
    const int8_t *head;    /* (256, D) output head (== emb when tied) */
    const int32_t *rq_head;/* (256, 2): to logits in 1/256 bit */
    oz_layer layer[OZ_MAX_LAYERS];
} oz_model;

/* One region of the image, for the exporter and the weight coder. */
enum { OZ_REG_HEADER = 0, OZ_REG_I8 = 1, OZ_REG_I32 = 2, OZ_REG_TABLE = 3 };
typedef struct oz_region {
    uint32_t offset, size; /* bytes */
    uint32_t kind;         /* OZ_REG_* */
} oz_region;
/* the header, emb, rq_emb, head (untied only), rq_head, then 11 per layer */
#define OZ_MAX_REGIONS (5 + 11 * OZ_MAX_LAYERS)

int oz_config_check(const oz_config *cfg);
/* Regions in image order; returns their count (0 if cfg is invalid). */
int oz_image_layout(const oz_config *cfg, oz_region *reg);
/* Total image size in bytes (0 if cfg is invalid). */
uint32_t oz_image_size(const oz_config *cfg);
/* Writes the 64-byte header for cfg into image[0..63]. */
void oz_image_write_header(const oz_config *cfg, uint8_t *image);
/* Reads the config from an image header. */
int oz_image_read_header(const uint8_t *image, uint32_t size, oz_config *cfg);
/* Checks an image and binds m to it. image must be 4-byte aligned. */
int oz_model_bind(oz_model *m, const uint8_t *image, uint32_t size);
/* Number of int8 multiply-accumulates per position at full context (for reports). */
uint64_t oz_model_macs(const oz_config *cfg);
/* Number of weights (int8 values) in the model. */
uint64_t oz_model_params(const oz_config *cfg);

/* Key/value cache of one stream: per layer a ring of cap positions. */
typedef struct oz_state {
    int8_t *k;    /* (L, cap, D) */
    int8_t *v;    /* (L, cap, D) */
    uint32_t cap; /* ring length, >= W */
    uint32_t pos; /* positions processed so far */
} oz_state;

uint64_t oz_state_bytes(const oz_config *cfg, uint32_t cap);
/* mem: oz_state_bytes() bytes. */
void oz_state_init(oz_state *st, const oz_config *cfg, void *mem, uint32_t cap);
void oz_state_reset(oz_state *st);

/* Scratch memory sizes (bytes, multiples of 64). */
uint64_t oz_step_ws_bytes(const oz_config *cfg);
uint64_t oz_chunk_ws_bytes(const oz_config *cfg, uint32_t n);

/* One position: feeds `token` (the previous byte, 0 before the first byte of a
 * stream) and writes the next byte's logits z[256] (1/256 bit). ws: aligned
 * scratch of oz_step_ws_bytes(). st->cap >= W. */
void oz_forward_step(const oz_model *m, oz_state *st, uint32_t token, void *ws, int32_t *z);

/* n positions at once: tokens[n] -> z[n][256]. Requires st->cap >= W + n - 1.
 * ws: aligned scratch of oz_chunk_ws_bytes(cfg, n). */
void oz_forward_chunk(const oz_model *m, oz_state *st, const uint8_t *tokens, uint32_t n,
                      void *ws, int32_t *z);

/* Logits -> cumulative frequencies cum[257], cum[0] = 0, cum[256] = 2^20,
 * every symbol's frequency >= 1. */
void oz_freq_cum(const int32_t *z, uint32_t *cum);

#endif /* OZ_MODEL_H */
