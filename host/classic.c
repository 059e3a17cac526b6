/* classic.c - LZMA2 and zstd stream methods (see docs/format.md, "Stream methods"). */
#include "classic.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <bzlib.h>
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

uint8_t *classic_bzip2_encode(const uint8_t *src, size_t n, size_t *out_n)
{
    unsigned int cap = (unsigned int)(n + n / 100 + 600);
    uint8_t *out;
    if (n > 0x7FFFFFFF)
        return NULL;
    out = malloc(cap);
    if (!out)
        return NULL;
    if (BZ2_bzBuffToBuffCompress((char *)out, &cap, (char *)(uintptr_t)src, (unsigned int)n, 9, 0, 0) != BZ_OK) {
        free(out);
        return NULL;
    }
    *out_n = cap;
    return out;
}

int classic_bzip2_decode(const uint8_t *src, size_t sn, uint8_t *dst, size_t n)
{
    bz_stream z;
    int r;
    if (sn > 0xFFFFFFFFu || n > 0xFFFFFFFFu)
        return 1;
    memset(&z, 0, sizeof z);
    if (BZ2_bzDecompressInit(&z, 0, 0) != BZ_OK)
        return 1;
    z.next_in = (char *)(uintptr_t)src;
    z.avail_in = (unsigned int)sn;
    z.next_out = (char *)dst;
    z.avail_out = (unsigned int)n;
    r = BZ2_bzDecompress(&z);
    /* one complete stream, exactly n bytes, no input left over */
    r = !(r == BZ_STREAM_END && z.avail_out == 0 && z.avail_in == 0);
    BZ2_bzDecompressEnd(&z);
    return r;
}

uint8_t *classic_brotli_encode(const uint8_t *src, size_t n, int quality, size_t *out_n)
{
    size_t cap = BrotliEncoderMaxCompressedSize(n);
    uint8_t *out;
    if (cap == 0)
        cap = n + 1024;
    out = malloc(cap);
    if (!out)
        return NULL;
    if (!BrotliEncoderCompress(quality, 24, BROTLI_MODE_GENERIC, n, src, &cap, out)) {
        free(out);
        return NULL;
    }
    *out_n = cap;
    return out;
}

int classic_brotli_decode(const uint8_t *src, size_t sn, uint8_t *dst, size_t n)
{
    BrotliDecoderState *d = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    size_t avail_in = sn, avail_out = n;
    const uint8_t *in = src;
    uint8_t *out = dst;
    BrotliDecoderResult r;
    int bad;
    if (!d)
        return 1;
    r = BrotliDecoderDecompressStream(d, &avail_in, &in, &avail_out, &out, NULL);
    /* finished, exactly n bytes, no input left over, nothing more pending */
    bad = !(r == BROTLI_DECODER_RESULT_SUCCESS && avail_out == 0 && avail_in == 0 && !BrotliDecoderHasMoreOutput(d));
    BrotliDecoderDestroyInstance(d);
    return bad;
}

const char *classic_versions(void)
{
    static char buf[160];
    uint32_t bv = BrotliEncoderVersion();
    snprintf(buf, sizeof buf, "liblzma %s, libzstd %s, libbz2 %s, libbrotli %u.%u.%u", lzma_version_string(),
             ZSTD_versionString(), BZ2_bzlibVersion(), bv >> 24, (bv >> 12) & 0xFFF, bv & 0xFFF);
    return buf;
}
