/* oz_codec.c - model-coded streams and the OZW model image coding. */
#include "oz_codec.h"

#define A64(x) (((x) + 63u) & ~(uint64_t)63u)

/* ------------------------------------------------------------ model streams */

uint64_t oz_encode_bound(uint64_t n)
{
    /* each symbol emits at most one 32-bit word per 11 bits of information...
     * bounded simply: at most one word per symbol, plus the 8-byte state. */
    return 4 * n + 8;
}

uint64_t oz_encode_scratch_bytes(const oz_config *c, uint64_t n)
{
    return A64(oz_chunk_ws_bytes(c, OZ_ENC_BLOCK)) + A64(4ull * 256 * OZ_ENC_BLOCK) + A64(4ull * 257) +
           A64(8 * n);
}

int oz_encode_stream(const oz_model *m, oz_state *st, void *scratch, const uint8_t *data, uint64_t n,
                     uint8_t *out, uint64_t *out_len)
{
    uint8_t *w = (uint8_t *)scratch;
    void *ws = w;
    int32_t *z = (int32_t *)(void *)(w += A64(oz_chunk_ws_bytes(&m->cfg, OZ_ENC_BLOCK)));
    uint32_t *cum = (uint32_t *)(void *)(w += A64(4ull * 256 * OZ_ENC_BLOCK));
    uint32_t *sf = (uint32_t *)(void *)(w += A64(4ull * 257)); /* (n, 2): start, freq */
    uint8_t tok[OZ_ENC_BLOCK];
    uint64_t i, b;
    oz_renc enc;
    uint8_t *start;

    if (st->cap < OZ_ENC_CAP(m->cfg.ctx))
        return OZ_CORE_EPARAM;
    oz_state_reset(st);
    for (b = 0; b < n; b += OZ_ENC_BLOCK) {
        uint32_t k, cnt = (uint32_t)(n - b < OZ_ENC_BLOCK ? n - b : OZ_ENC_BLOCK);
        for (k = 0; k < cnt; k++)
            tok[k] = (b + k == 0) ? 0 : data[b + k - 1];
        oz_forward_chunk(m, st, tok, cnt, ws, z);
        for (k = 0; k < cnt; k++) {
            uint32_t s = data[b + k];
            oz_freq_cum(z + (uint64_t)k * 256, cum);
            sf[2 * (b + k)] = cum[s];
            sf[2 * (b + k) + 1] = cum[s + 1] - cum[s];
        }
    }
    oz_renc_init(&enc, out, out + oz_encode_bound(n));
    for (i = n; i-- > 0;)
        oz_renc_put(&enc, sf[2 * i], sf[2 * i + 1], OZ_PROB_BITS);
    start = oz_renc_finish(&enc);
    if (!start)
        return OZ_CORE_EPARAM;
    /* move the stream to the front of out */
    *out_len = (uint64_t)(out + oz_encode_bound(n) - start);
    for (i = 0; i < *out_len; i++)
        out[i] = start[i];
    return OZ_CORE_OK;
}

int oz_decode_stream(const oz_model *m, oz_state *st, void *ws, const uint8_t *in, uint64_t len,
                     uint8_t *out, uint64_t n)
{
    oz_rdec d;
    int32_t z[256];
    uint32_t cum[257], prev = 0;
    uint64_t i;

    if (st->cap < m->cfg.ctx)
        return OZ_CORE_EPARAM;
    oz_state_reset(st);
    oz_rdec_init(&d, in, len);
    if (d.err)
        return d.err == 1 ? OZ_CORE_ETRUNC : OZ_CORE_ECORRUPT;
    for (i = 0; i < n; i++) {
        oz_forward_step(m, st, prev, ws, z);
        prev = oz_decode_symbol(&d, z, cum);
        out[i] = (uint8_t)prev;
        if (d.err)
            return OZ_CORE_ETRUNC;
    }
    return oz_rdec_done(&d) ? OZ_CORE_OK : OZ_CORE_ECORRUPT;
}

/* --------------------------------------------------------------------- OZW */

#define WPB 12 /* probability bits of the binary model */
#define WCTX 7 /* contexts: header/padding, int8 tensors, tables, int32 lanes 0..3 */

/* Context of every byte: from the region list of the image's config. */
static uint32_t byte_ctx(const oz_region *reg, int nreg, int *ri, uint32_t off)
{
    while (*ri < nreg && off >= reg[*ri].offset + reg[*ri].size)
        (*ri)++;
    if (*ri >= nreg || off < reg[*ri].offset)
        return 0; /* padding between regions, or the header */
    switch (reg[*ri].kind) {
    case OZ_REG_I8:
        return 1;
    case OZ_REG_TABLE:
        return 2;
    case OZ_REG_I32:
        return 3 + ((off - reg[*ri].offset) & 3);
    default:
        return 0;
    }
}

static void wmodel_init(uint16_t *p)
{
    int i;
    for (i = 0; i < WCTX * 256; i++)
        p[i] = 1 << (WPB - 1);
}

/* p is the probability of a 0 bit; stays in [15, 4081] */
OZ_INLINE void wmodel_update(uint16_t *p, uint32_t bit)
{
    if (bit)
        *p = (uint16_t)(*p - (*p >> 4));
    else
        *p = (uint16_t)(*p + (((1u << WPB) - *p) >> 4));
}

uint64_t oz_wcode_scratch_bytes(uint32_t size) { return A64(2ull * WCTX * 256) + A64(2ull * 8 * size); }

uint64_t oz_wcode_bound(uint32_t size) { return 4ull * 8 * size + 8; }

int oz_wcode_encode(const uint8_t *image, uint32_t size, void *scratch, uint8_t *out, uint64_t cap,
                    uint64_t *out_len)
{
    oz_config cfg;
    oz_region reg[OZ_MAX_REGIONS];
    int nreg, ri = 0, rc;
    uint16_t *prob = (uint16_t *)scratch;
    uint16_t *code = (uint16_t *)(void *)((uint8_t *)scratch + A64(2ull * WCTX * 256)); /* (8*size) p|bit<<15 */
    uint64_t k = 0, i;
    uint32_t off;
    oz_renc enc;
    uint8_t *start;

    rc = oz_image_read_header(image, size, &cfg);
    if (rc != OZ_CORE_OK)
        return rc;
    nreg = oz_image_layout(&cfg, reg);
    wmodel_init(prob);
    for (off = 0; off < size; off++) {
        uint16_t *tree = prob + 256 * byte_ctx(reg, nreg, &ri, off);
        uint32_t node = 1, b, byte = image[off];
        for (b = 0; b < 8; b++) {
            uint32_t bit = (byte >> (7 - b)) & 1;
            code[k++] = (uint16_t)(tree[node] | (bit << 15));
            wmodel_update(&tree[node], bit);
            node = 2 * node + bit;
        }
    }
    if (cap < oz_wcode_bound(size))
        return OZ_CORE_EPARAM;
    oz_renc_init(&enc, out, out + cap);
    for (i = k; i-- > 0;) {
        uint32_t p = code[i] & 0x7FFF, bit = code[i] >> 15;
        if (bit)
            oz_renc_put(&enc, p, (1u << WPB) - p, WPB);
        else
            oz_renc_put(&enc, 0, p, WPB);
    }
    start = oz_renc_finish(&enc);
    if (!start)
        return OZ_CORE_EPARAM;
    *out_len = (uint64_t)(out + cap - start);
    for (i = 0; i < *out_len; i++)
        out[i] = start[i];
    return OZ_CORE_OK;
}

int oz_wcode_decode(const uint8_t *in, uint64_t len, uint8_t *image, uint32_t size)
{
    uint16_t prob[WCTX * 256];
    oz_region reg[OZ_MAX_REGIONS];
    oz_config cfg;
    int nreg = 0, ri = 0, rc;
    uint32_t off;
    oz_rdec d;

    if (size < OZ_IMAGE_HEADER)
        return OZ_CORE_EFORMAT;
    wmodel_init(prob);
    oz_rdec_init(&d, in, len);
    if (d.err)
        return d.err == 1 ? OZ_CORE_ETRUNC : OZ_CORE_ECORRUPT;
    for (off = 0; off < size; off++) {
        uint16_t *tree;
        uint32_t node = 1, b;
        if (off == OZ_IMAGE_HEADER) {
            /* the header is known: the layout gives the contexts of the rest */
            rc = oz_image_read_header(image, size, &cfg);
            if (rc != OZ_CORE_OK)
                return OZ_CORE_ECORRUPT;
            nreg = oz_image_layout(&cfg, reg);
            ri = 0;
        }
        tree = prob + 256 * (off < OZ_IMAGE_HEADER ? 0 : byte_ctx(reg, nreg, &ri, off));
        for (b = 0; b < 8; b++) {
            uint32_t p = tree[node], bit = oz_rdec_slot(&d, WPB) >= p;
            if (bit)
                oz_rdec_advance(&d, p, (1u << WPB) - p, WPB);
            else
                oz_rdec_advance(&d, 0, p, WPB);
            wmodel_update(&tree[node], bit);
            node = 2 * node + bit;
        }
        image[off] = (uint8_t)(node - 256);
        if (d.err)
            return OZ_CORE_ETRUNC;
    }
    return oz_rdec_done(&d) ? OZ_CORE_OK : OZ_CORE_ECORRUPT;
}
