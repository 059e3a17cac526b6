/* classic.c - LZMA2 and zstd stream methods (see docs/format.md, "Stream methods"). */
#include "classic.h"

#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "../core/oz_bytes.h"

#define LZMA2_DICT_MAX (1536u << 20) /* what a decoder accepts */

uint8_t *classic_lzma2_encode(const uint8_t *src, size_t n, int preset, int extreme, size_t *out_n)
{
    lzma_options_lzma opt;
    lzma_filter f[2];
    size_t cap = n + n / 16 + 4096, pos = 4;
    uint8_t *out;
    if (lzma_lzma_preset(&opt, (uint32_t)preset | (extreme ? LZMA_PRESET_EXTREME : 0)))
        return NULL;
    /* A dictionary larger than the input changes nothing but decoder memory. */
    if (opt.dict_size > n)
        opt.dict_size = n < LZMA_DICT_SIZE_MIN ? LZMA_DICT_SIZE_MIN : (uint32_t)n;
    f[0].id = LZMA_FILTER_LZMA2;
    f[0].options = &opt;
    f[1].id = LZMA_VLI_UNKNOWN;
    f[1].options = NULL;
    out = malloc(cap);
    if (!out)
        return NULL;
    oz_wr32(out, opt.dict_size);
    if (lzma_raw_buffer_encode(f, NULL, src, n, out, &pos, cap) != LZMA_OK) {
        free(out);
        return NULL;
    }
    *out_n = pos;
    return out;
}

int classic_lzma2_decode(const uint8_t *src, size_t sn, uint8_t *dst, size_t n)
{
    lzma_options_lzma opt;
    lzma_filter f[2];
    size_t ip = 4, op = 0;
    lzma_ret r;
    if (sn < 5)
        return 1;
    memset(&opt, 0, sizeof opt);
    lzma_lzma_preset(&opt, 6);
    opt.dict_size = oz_rd32(src);
    if (opt.dict_size < LZMA_DICT_SIZE_MIN || opt.dict_size > LZMA2_DICT_MAX)
        return 1;
    f[0].id = LZMA_FILTER_LZMA2;
    f[0].options = &opt;
    f[1].id = LZMA_VLI_UNKNOWN;
    f[1].options = NULL;
    r = lzma_raw_buffer_decode(f, NULL, src, &ip, sn, dst, &op, n);
    /* The raw decoder stops at the LZMA2 end marker: all input must be used
     * and exactly n bytes produced. A longer output gives LZMA_BUF_ERROR. */
    if (r != LZMA_OK && r != LZMA_STREAM_END)
        return 1;
    return !(ip == sn && op == n);
}

uint8_t *classic_zstd_encode(const uint8_t *src, size_t n, int level, size_t *out_n)
{
    size_t cap = ZSTD_compressBound(n), r;
    uint8_t *out = malloc(cap ? cap : 1);
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (!out || !c) {
        free(out);
        ZSTD_freeCCtx(c);
        return NULL;
    }
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 0); /* ozip checks every stream itself */
    r = ZSTD_compress2(c, out, cap, src, n);
    ZSTD_freeCCtx(c);
    if (ZSTD_isError(r)) {
        free(out);
        return NULL;
    }
    *out_n = r;
    return out;
}

int classic_zstd_decode(const uint8_t *src, size_t sn, uint8_t *dst, size_t n)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    unsigned long long want = ZSTD_getFrameContentSize(src, sn);
    size_t r;
    if (!d)
        return 1;
    if (want != (unsigned long long)n) {
        ZSTD_freeDCtx(d);
        return 1;
    }
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 31);
    r = ZSTD_decompressDCtx(d, dst, n, src, sn);
    ZSTD_freeDCtx(d);
    return ZSTD_isError(r) || r != n || ZSTD_findFrameCompressedSize(src, sn) != sn;
}

const char *classic_versions(void)
{
    static char buf[96];
    snprintf(buf, sizeof buf, "liblzma %s, libzstd %s", lzma_version_string(), ZSTD_versionString());
    return buf;
}
