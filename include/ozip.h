/* ozip.h - public C API of libozip.
 *
 * ozip compresses a file by training a small byte-level Transformer on it,
 * freezing it as an integer-only model and range-coding the file with it.
 * The .oz format is specified in docs/format.md.
 *
 * Stability: functions and types in this header keep their meaning across
 * minor versions; new fields are only appended to ozip_params/ozip_info and
 * ozip_params_init() gives them defaults. Link with -lozip and the libraries
 * `make` reports (OpenBLAS, libxxhash, liblzma, libzstd, pthreads).
 */
#ifndef OZIP_H
#define OZIP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OZIP_VERSION_MAJOR 0
#define OZIP_VERSION_MINOR 1
#define OZIP_VERSION_PATCH 0
#define OZIP_VERSION_NUMBER (OZIP_VERSION_MAJOR * 10000 + OZIP_VERSION_MINOR * 100 + OZIP_VERSION_PATCH)
#define OZIP_VERSION_STRING "0.1.0"

/* Run-time version, to compare with the header the caller was built with. */
unsigned ozip_version_number(void);
const char *ozip_version_string(void);

typedef enum ozip_status {
    OZIP_OK = 0,
    OZIP_ERR_IO = 1,             /* reading or writing failed (see errno / the detail) */
    OZIP_ERR_NOMEM = 2,          /* out of memory */
    OZIP_ERR_NOT_OZIP = 3,       /* input is not an .oz file */
    OZIP_ERR_VERSION = 4,        /* made by a newer ozip, or uses an unknown feature */
    OZIP_ERR_TRUNCATED = 5,      /* input ends early */
    OZIP_ERR_CORRUPT = 6,        /* structure or coded data is inconsistent */
    OZIP_ERR_CHECKSUM = 7,       /* decoded bytes do not match their checksum */
    OZIP_ERR_MODEL_REQUIRED = 8, /* the file references an external model: pass it */
    OZIP_ERR_MODEL_MISMATCH = 9, /* the model passed is not the one the file needs */
    OZIP_ERR_PARAM = 10,         /* invalid argument or option */
    OZIP_ERR_DEVICE = 11,        /* the requested device is not available */
    OZIP_ERR_INTERRUPTED = 12,   /* stopped by the progress callback */
    OZIP_ERR_INTERNAL = 13       /* a bug: please report it */
} ozip_status;

/* Short English description of a status; never NULL. */
const char *ozip_strerror(ozip_status s);

/* Progress reports. The callback may be called from worker threads, but never
 * from two threads at once. */
enum { OZIP_PHASE_CLASSIC = 1, OZIP_PHASE_TRAIN = 2, OZIP_PHASE_ENCODE = 3, OZIP_PHASE_DECODE = 4 };
typedef struct ozip_progress {
    int phase;       /* OZIP_PHASE_* */
    uint64_t done;   /* units done: steps (train) or bytes */
    uint64_t total;  /* units in all */
    double bpb;      /* train: current loss in bits per byte */
    double epochs;   /* train: epochs done */
    const char *what;/* a short label, e.g. the model shape */
    uint32_t frame;  /* input of several frames: which one (from 1) these units
                        count in, done and total being that frame's; 0 otherwise.
                        ozip_decompress_stream numbers every frame, the first
                        too (it cannot tell whether more follow) */
} ozip_progress;
/* Return nonzero to interrupt (the call then fails with OZIP_ERR_INTERRUPTED). */
typedef int (*ozip_progress_fn)(void *user, const ozip_progress *p);

/* What a compression did (filled when ozip_params.report is set). */
typedef struct ozip_report {
    uint64_t original_size;
    uint64_t compressed_size;   /* whole .oz */
    uint64_t header_bytes;      /* frame header, descriptor, index */
    uint64_t model_bytes;       /* model payload stored in the file */
    uint64_t stream_bytes;      /* all stream payloads */
    uint32_t streams, model_streams;
    uint64_t xz_size;           /* raw LZMA2 preset 9 (xz -9 without its container) on the whole input, 0 if not run */
    uint64_t zstd_size;         /* libzstd level 19 on the whole input, 0 if not run */
    double train_bpb;           /* last training loss (float model), 0 if no training */
    double train_seconds, encode_seconds;
    char model_desc[96];        /* e.g. "L2 D64 H4 F128 W64 w8 (82k params)" or "none: ..." */
    char device[32];            /* device that trained the model */
    /* decoding (ozip_decompress, ozip_decompress_range): the backend that
     * decoded the model streams and, for the emulated FPGA kernel, the cycles
     * its cycle model counts (docs/fpga.md) */
    char decode_device[160];    /* e.g. "emu: native kernel, 64 PEs x 64 lanes, ..." */
    uint64_t device_cycles;     /* modelled kernel cycles, 0 when not modelled */
    uint32_t device_mhz;        /* the kernel clock those cycles are counted at */
    uint64_t device_bytes;      /* bytes the device decoded (model-coded streams) */
    /* compressing input of several frames (ozip_params.frame_size): the sizes,
     * counts and times above are added up over the frames; model_desc,
     * device and train_bpb are the first frame's */
    uint32_t frames;
} ozip_report;

typedef struct ozip_params {
    int level;              /* 1..9 (default 6): time vs ratio */
    int threads;            /* 0 = all online CPUs */
    const char *device;     /* "auto" (default), "cpu", "cuda", "opencl", "fpga", "emu", "xrt" */
    double train_seconds;   /* > 0: stop training after this long (not reproducible) */
    double epochs;          /* > 0: override the level's training budget */
    uint32_t stream_size;   /* bytes per stream, 0 = default (256 KiB) */
    const char *arch;       /* expert: model shape, "L=2,D=64,H=4,F=128,W=64,wbits=8,tied=1" */
    int force_model;        /* 1: code with a model even where it does not pay */
    int no_model;           /* 1: classic methods only */
    const void *model;      /* a model file (.ozm) to use instead of training, or */
    size_t model_size;      /*   to decode a file that references it */
    int model_external;     /* with model: reference it by hash instead of embedding it */
    uint64_t seed;          /* training seed (default 1) */
    int verbose;            /* 0..3, messages to stderr from the library (default 0) */
    ozip_progress_fn progress;
    void *progress_user;
    ozip_report *report;    /* optional out */
    uint64_t train_sample;  /* > 0: train on about this many bytes, taken as evenly
                               spaced 1 MiB pieces of the input (large inputs) */
    char *errbuf;           /* optional: receives a detailed message on error */
    size_t errbuf_size;
    uint64_t decode_buffer; /* ozip_decompress_to, ozip_decompress_file: bytes of output
                               held at once, 0 = 256 MiB (a stream is never split) */
    uint64_t frame_size;    /* compressing: a frame per this many bytes of input, 0 =
                               1 GiB; the streaming calls hold one frame of input at a
                               time. The first model a frame uses codes the frames
                               after it too (embedded in each) */
    int train_each_frame;   /* 1: every frame trains its own model instead */
} ozip_params;

void ozip_params_init(ozip_params *p);

/* Compress src[n] into a new buffer *dst (free with ozip_free): one frame,
 * or above params.frame_size (default 1 GiB) one frame per that many bytes,
 * back to back. */
ozip_status ozip_compress(const void *src, size_t n, void **dst, size_t *dst_n, const ozip_params *p);
/* Decompress a whole .oz buffer; verifies every checksum. A buffer that holds
 * several frames back to back (concatenated .oz files) decompresses to their
 * contents, one after the other, as gzip, xz and zstd do. */
ozip_status ozip_decompress(const void *src, size_t n, void **dst, size_t *dst_n, const ozip_params *p);
/* Where ozip_decompress_to delivers the output: n bytes, in order. Return 0,
 * or nonzero (an errno value where there is one) to stop with OZIP_ERR_IO. */
typedef int (*ozip_write_fn)(void *user, const void *data, size_t n);
/* Decompress a whole .oz buffer to write(), holding at most
 * params.decode_buffer bytes of output at once: for outputs larger than
 * memory. Content that fits is decoded and checked whole before the one
 * write. Larger content comes in pieces of whole streams, each written once
 * its streams have matched their checksums (a frame's last piece once the
 * frame's content checksum has matched too); so after an error some pieces
 * may have been written already: discard them (ozip_decompress_file writes
 * to a temporary file that it then removes). */
ozip_status ozip_decompress_to(const void *src, size_t n, ozip_write_fn write, void *user, const ozip_params *p);
/* Where ozip_decompress_stream reads the .oz input: up to n bytes into buf,
 * the count in *got (0 only at the end of the input). Return 0, or nonzero
 * (an errno value where there is one) to stop with OZIP_ERR_IO. */
typedef int (*ozip_read_fn)(void *user, void *buf, size_t n, size_t *got);
/* ozip_decompress_to for input that comes in as it is read (a pipe): it holds
 * one frame of .oz input at a time (plus at most one read ahead) and decodes
 * each frame as soon as it is in, so the input is never held whole. Output
 * goes to write() as ozip_decompress_to sends it, frame by frame. Unlike the
 * buffer calls it cannot check a later frame's header before an earlier
 * frame's content is written: after an error, the earlier frames' contents
 * (each checked) have been written. Error messages are those of the buffer
 * calls, the frame named ("frame 3 (at byte N): ..."). */
ozip_status ozip_decompress_stream(ozip_read_fn read, void *ruser, ozip_write_fn write, void *wuser,
                                   const ozip_params *p);
/* Compress to write(): the input a frame per params.frame_size bytes (the
 * same bytes as ozip_compress), each frame given to write() whole, in one
 * call, as soon as it is made. ozip_compress_stream reads the input from
 * read() (a pipe), holding one frame of it at a time. After an error the
 * frames before it have been written. */
ozip_status ozip_compress_to(const void *src, size_t n, ozip_write_fn write, void *user, const ozip_params *p);
ozip_status ozip_compress_stream(ozip_read_fn read, void *ruser, ozip_write_fn write, void *wuser,
                                 const ozip_params *p);
/* Decompress bytes [offset, offset+len) of the original (of all frames'
 * contents, one after the other) only, decoding just the streams that hold
 * them (each verified by its own checksum). */
ozip_status ozip_decompress_range(const void *src, size_t n, uint64_t offset, uint64_t len, void *dst,
                                  const ozip_params *p);
void ozip_free(void *p);

/* Files: the output is written to a temporary file in the same directory and
 * renamed over `out` only on success; it gets the input's permissions, times
 * and (where allowed) owner and group. Decompression holds at most
 * params.decode_buffer bytes of output in memory (ozip_decompress_to). */
ozip_status ozip_compress_file(const char *in, const char *out, const ozip_params *p);
ozip_status ozip_decompress_file(const char *in, const char *out, const ozip_params *p);

typedef struct ozip_info {
    uint64_t original_size, compressed_size;
    uint32_t format_major, format_minor;
    uint32_t streams, model_streams, stream_block;
    uint32_t method_count[6];  /* streams per method: stored, model, xz (LZMA2), zstd, bzip2, brotli */
    uint64_t model_bytes;      /* model payload in the file (0 if external or none) */
    uint64_t model_image_bytes;/* decoded model size (0 if none) */
    uint64_t stream_bytes;
    uint64_t content_xxh64, model_xxh64;
    int has_model, model_external;
    uint32_t n_layer, d_model, n_head, d_ff, ctx, wbits, tied; /* 0 if not known */
    uint64_t model_params;
    uint32_t frames;           /* frames in the buffer (concatenated .oz files), >= 1 */
} ozip_info;

/* Reads the headers, indexes and embedded models of an .oz buffer without
 * decoding streams. The header checksums and the model checksums are verified.
 * A buffer may hold several frames back to back (`cat a.oz b.oz`, or `ozip -c
 * a b`): sizes and counts are then totals over the frames; the format
 * version, stream_block and content_xxh64 are the first frame's, the model
 * fields those of the first frame with a model. */
ozip_status ozip_get_info(const void *src, size_t n, ozip_info *info, const ozip_params *p);

/* Model files (.ozm): extract the model of an .oz buffer (of its first frame
 * that has one), to share it. */
ozip_status ozip_extract_model(const void *src, size_t n, void **dst, size_t *dst_n, const ozip_params *p);

/* Checks a model file (.ozm) as compression and decompression load it: its
 * header, size and XXH64, and the model's shape and parameters. OZIP_OK if
 * it can be given as params.model; the error says why not. */
ozip_status ozip_check_model(const void *src, size_t n, const ozip_params *p);

/* Backends and features compiled into this library, space separated,
 * e.g. "cpu cuda emu opencl xrt". "cuda" (the CUDA trainer) is a plugin,
 * listed when libozip_cuda.so is found and loads; it needs a GPU to train. */
const char *ozip_backends(void);

#ifdef __cplusplus
}
#endif

#endif /* OZIP_H */
