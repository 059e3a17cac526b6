/* oz_format.h - the .oz container: frame header, model descriptor, stream
 * index (specified in docs/format.md; keep the two in step).
 *
 * Layout of a frame:
 *   frame header (48 bytes)
 *   model descriptor (24 bytes, if a model is used)
 *   stream index (12 bytes per stream)
 *   header checksum (4 bytes: low 32 bits of XXH64 of everything above, seed 0)
 *   model payload (stored_size bytes, if the model is embedded)
 *   stream payloads, in index order
 *
 * Checksums are computed by the caller (XXH64 from libxxhash in the host);
 * core/ only lays out and checks the fields.
 */
#ifndef OZ_FORMAT_H
#define OZ_FORMAT_H

#include "oz_bytes.h"

#define OZ_MAGIC_LEN 8
#define OZ_FORMAT_MAJOR 1
#define OZ_FORMAT_MINOR 0
#define OZ_FRAME_HEADER 48
#define OZ_MODEL_DESC 24
#define OZ_INDEX_ENTRY 12

/* frame flags */
#define OZ_F_MODEL 1u          /* streams use a model (descriptor present) */
#define OZ_F_MODEL_EXTERNAL 2u /* model not in this file: referenced by its XXH64 */
#define OZ_F_KNOWN (OZ_F_MODEL | OZ_F_MODEL_EXTERNAL)

/* stream methods */
enum { OZ_M_RAW = 0, OZ_M_MODEL = 1, OZ_M_LZMA2 = 2, OZ_M_ZSTD = 3, OZ_M_BZIP2 = 4, OZ_M_BROTLI = 5, OZ_M_COUNT = 6 };
/* model payload codings */
enum { OZ_MC_RAW = 0, OZ_MC_OZW = 1, OZ_MC_COUNT = 2 };

typedef struct oz_frame {
    uint32_t major, minor;
    uint32_t flags;
    uint32_t stream_count;
    uint64_t original_size;
    uint64_t content_xxh64;
    uint32_t stream_block; /* uncompressed bytes per stream (last may be shorter) */
    /* model descriptor (valid when flags & OZ_F_MODEL) */
    uint32_t model_coding;  /* OZ_MC_* */
    uint32_t model_size;    /* bytes of the decoded model image */
    uint32_t model_stored;  /* bytes of the model payload in this file (0 if external) */
    uint64_t model_xxh64;   /* XXH64 of the decoded model image, seed 0 */
} oz_frame;

typedef struct oz_index_entry {
    uint32_t method;      /* OZ_M_* */
    uint32_t stored_size; /* payload bytes */
    uint32_t xxh32;       /* low 32 bits of XXH64 of the stream's original bytes */
} oz_index_entry;

extern const uint8_t OZ_MAGIC[OZ_MAGIC_LEN];

/* Bytes from the start of the file to the first payload byte. */
uint64_t oz_header_bytes(const oz_frame *f);
/* Writes frame header + descriptor + index (not the checksum); returns bytes written. */
uint64_t oz_frame_write(const oz_frame *f, const oz_index_entry *idx, uint8_t *out);
/* Parses the fixed 48-byte frame header (and the descriptor when present,
 * buf holds at least min(len, 72) bytes). */
int oz_frame_read(const uint8_t *buf, uint64_t len, oz_frame *f);
/* Parses index entry i (0-based) from a buffer holding the whole header. */
int oz_index_read(const uint8_t *buf, const oz_frame *f, uint32_t i, oz_index_entry *e);
/* Uncompressed size of stream i. */
uint64_t oz_stream_len(const oz_frame *f, uint32_t i);
/* Nonzero if buf starts with the magic. */
int oz_is_frame(const uint8_t *buf, uint64_t len);

#endif /* OZ_FORMAT_H */
