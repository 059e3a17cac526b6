/* model_io.c - model payloads inside .oz files and standalone model files (.ozm). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "internal.h"

const uint8_t OZ_MODEL_MAGIC[8] = {0x89, 'O', 'Z', 'M', 0x0D, 0x0A, 0x1A, 0x0A};

/* Largest image any valid config produces is well below this. */
#define OZ_MAX_IMAGE (512u << 20)

ozip_status oz_model_encode(const uint8_t *image, uint32_t size, uint8_t **payload, uint32_t *stored,
                            uint32_t *coding, const ozip_params *p)
{
    void *scratch = malloc(oz_wcode_scratch_bytes(size));
    uint64_t cap = oz_wcode_bound(size), len = 0;
    uint8_t *out = malloc(cap);
    int rc;
    if (!scratch || !out) {
        free(scratch);
        free(out);
        return oz_fail(p, OZIP_ERR_NOMEM, "out of memory coding the model");
    }
    rc = oz_wcode_encode(image, size, scratch, out, cap, &len);
    free(scratch);
    if (rc != OZ_CORE_OK) {
        free(out);
        return oz_fail(p, OZIP_ERR_INTERNAL, "model coding failed (%d)", rc);
    }
    if (len < size) {
        *coding = OZ_MC_OZW;
        *stored = (uint32_t)len;
    } else {
        memcpy(out, image, size);
        *coding = OZ_MC_RAW;
        *stored = size;
    }
    *payload = out;
    return OZIP_OK;
}

/* oz_model_bind's refusal in words (its checks: docs/integer-model.md,
 * "Model image") */
static const char *bind_error(int rc, char *buf, size_t n)
{
    switch (rc) {
    case OZ_CORE_EVERSION:
        return "its image header has a version, flag or reserved byte this ozip does not know";
    case OZ_CORE_ELIMIT:
        snprintf(buf, n,
                 "its shape is outside the supported limits (L 1..%d; D 16..%d, a multiple of 16; H 1..%d, "
                 "dividing D, D / H <= %d; F 16..%d, a multiple of 16; W 1..%d; wbits 2..8)",
                 OZ_MAX_LAYERS, OZ_MAX_DMODEL, OZ_MAX_HEADS, OZ_MAX_DHEAD, OZ_MAX_DFF, OZ_MAX_CTX);
        return buf;
    case OZ_CORE_ETRUNC:
        return "the image is shorter than its header says";
    case OZ_CORE_EFORMAT:
        return "the image's magic, or its size, is not what its header gives";
    case OZ_CORE_ECORRUPT:
        return "a parameter is out of range (a requantisation multiplier or shift, an ALiBi slope, or an "
               "activation table entry below -127)";
    default:
        return "it cannot be used on this machine (big-endian, or the image is misaligned)";
    }
}

ozip_status oz_model_decode(const uint8_t *payload, uint64_t stored, uint32_t coding, uint32_t size,
                            uint64_t xxh, oz_loaded_model *out, const ozip_params *p)
{
    uint8_t *img;
    int rc;
    memset(out, 0, sizeof *out);
    if (size < OZ_IMAGE_HEADER || size > OZ_MAX_IMAGE)
        return oz_fail(p, OZIP_ERR_CORRUPT, "model size %u is not valid", size);
    img = oz_aligned_alloc(size);
    if (!img)
        return oz_fail(p, OZIP_ERR_NOMEM, "out of memory for a %u-byte model", size);
    if (coding == OZ_MC_RAW) {
        if (stored != size) {
            free(img);
            return oz_fail(p, OZIP_ERR_CORRUPT, "raw model payload has %llu bytes, expected %u",
                           (unsigned long long)stored, size);
        }
        memcpy(img, payload, size);
    } else if (coding == OZ_MC_OZW) {
        rc = oz_wcode_decode(payload, stored, img, size);
        if (rc != OZ_CORE_OK) {
            free(img);
            return oz_fail(p, OZIP_ERR_CORRUPT, "model payload is corrupt (it does not decode)");
        }
    } else {
        free(img);
        return oz_fail(p, OZIP_ERR_VERSION, "unknown model coding %u", coding);
    }
    if (XXH64(img, size, 0) != xxh) {
        free(img);
        return oz_fail(p, OZIP_ERR_CHECKSUM, "model checksum mismatch: the model is damaged");
    }
    rc = oz_model_bind(&out->m, img, size);
    if (rc != OZ_CORE_OK) {
        char why[200];
        free(img);
        return oz_fail(p, rc == OZ_CORE_EVERSION ? OZIP_ERR_VERSION : OZIP_ERR_CORRUPT, "invalid model: %s",
                       bind_error(rc, why, sizeof why));
    }
    out->image = img;
    out->size = size;
    out->xxh64 = xxh;
    return OZIP_OK;
}

void oz_loaded_model_free(oz_loaded_model *lm)
{
    if (lm) {
        free(lm->image);
        memset(lm, 0, sizeof *lm);
    }
}

/* .ozm: magic (8), version (1) = 1, reserved (3) = 0, model descriptor (24,
 * as in the frame), payload. */
ozip_status oz_model_file_make(const uint8_t *image, uint32_t size, void **dst, size_t *dst_n,
                               const ozip_params *p)
{
    uint8_t *payload, *out;
    uint32_t stored, coding;
    ozip_status s = oz_model_encode(image, size, &payload, &stored, &coding, p);
    if (s != OZIP_OK)
        return s;
    out = malloc(OZM_HEADER + (size_t)stored);
    if (!out) {
        free(payload);
        return oz_fail(p, OZIP_ERR_NOMEM, "out of memory");
    }
    memset(out, 0, OZM_HEADER);
    memcpy(out, OZ_MODEL_MAGIC, 8);
    out[8] = 1;
    out[12] = (uint8_t)coding;
    oz_wr32(out + 16, size);
    oz_wr32(out + 20, stored);
    oz_wr64(out + 28, XXH64(image, size, 0));
    memcpy(out + OZM_HEADER, payload, stored);
    free(payload);
    *dst = out;
    *dst_n = OZM_HEADER + (size_t)stored;
    return OZIP_OK;
}

ozip_status oz_model_file_load(const void *buf, size_t n, oz_loaded_model *out, const ozip_params *p)
{
    const uint8_t *b = (const uint8_t *)buf;
    uint32_t stored;
    if (n < OZM_HEADER || memcmp(b, OZ_MODEL_MAGIC, 8) != 0)
        return oz_fail(p, OZIP_ERR_PARAM, "the model file is not an ozip model (.ozm)");
    if (b[8] != 1)
        return oz_fail(p, OZIP_ERR_VERSION, "model file version %u is not supported", b[8]);
    if (b[9] | b[10] | b[11] | b[13] | b[14] | b[15] | b[24] | b[25] | b[26] | b[27])
        return oz_fail(p, OZIP_ERR_CORRUPT, "model file header is corrupt");
    stored = oz_rd32(b + 20);
    if ((uint64_t)stored + OZM_HEADER != n)
        return oz_fail(p, n < (uint64_t)stored + OZM_HEADER ? OZIP_ERR_TRUNCATED : OZIP_ERR_CORRUPT,
                       "model file size does not match its header");
    return oz_model_decode(b + OZM_HEADER, stored, b[12], oz_rd32(b + 16), oz_rd64(b + 28), out, p);
}
