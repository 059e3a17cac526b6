/* classic.h - the classic fallback methods (raw LZMA2 via liblzma, zstd via
 * libzstd, bzip2 via libbz2, brotli via libbrotli) used for streams a model
 * cannot pay for. */
#ifndef OZ_CLASSIC_H
#define OZ_CLASSIC_H

#include <stddef.h>
#include <stdint.h>

/* LZMA2 payload: 4-byte little-endian dictionary size, then raw LZMA2 data.
 * preset: 0..9, extreme: 0/1. Returns a malloc'ed buffer or NULL. */
uint8_t *classic_lzma2_encode(const uint8_t *src, size_t n, int preset, int extreme, size_t *out_n);
/* zstd payload: one zstd frame (with content size). */
uint8_t *classic_zstd_encode(const uint8_t *src, size_t n, int level, size_t *out_n);
/* bzip2 payload: one bzip2 stream (libbz2, block size 900k). */
uint8_t *classic_bzip2_encode(const uint8_t *src, size_t n, size_t *out_n);
/* brotli payload: one brotli stream (libbrotlienc, quality 11, window 24). */
uint8_t *classic_brotli_encode(const uint8_t *src, size_t n, int quality, size_t *out_n);
/* Decoders: exactly n bytes must come out, else nonzero (corrupt/truncated). */
int classic_bzip2_decode(const uint8_t *src, size_t sn, uint8_t *dst, size_t n);
int classic_brotli_decode(const uint8_t *src, size_t sn, uint8_t *dst, size_t n);
int classic_lzma2_decode(const uint8_t *src, size_t sn, uint8_t *dst, size_t n);
int classic_zstd_decode(const uint8_t *src, size_t sn, uint8_t *dst, size_t n);
const char *classic_versions(void);

#endif
