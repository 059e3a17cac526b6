/* internal.h - shared by the host library files (not installed). */
#ifndef OZ_HOST_INTERNAL_H
#define OZ_HOST_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/oz_codec.h"
#include "../core/oz_format.h"
#include "../include/ozip.h"

#define OZ_DEFAULT_STREAM (256u << 10)
#define OZ_DEFAULT_LEVEL 6
/* Largest input the classic methods are run on as a whole (one stream). */
#define OZ_CLASSIC_WHOLE_MAX ((uint64_t)1 << 30)

/* Records a detailed message for the caller (params->errbuf) and returns s. */
ozip_status oz_fail(const ozip_params *p, ozip_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps an OZ_CORE_* code to a public status. */
ozip_status oz_from_core(int rc);
int oz_threads(const ozip_params *p);
double oz_now(void);
void oz_log(const ozip_params *p, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* parallel for: fn(ctx, task) for task in [0, ntasks) on up to nthreads threads */
void oz_parallel(int nthreads, uint32_t ntasks, void (*fn)(void *ctx, uint32_t task), void *ctx);

/* aligned allocation (64 bytes); free with free() */
void *oz_aligned_alloc(size_t n);

/* ---- model files (.ozm) and model payloads ---- */
extern const uint8_t OZ_MODEL_MAGIC[8];
#define OZM_HEADER 36 /* magic 8, version 1, reserved 3, descriptor 24 */

/* A decoded model: its image and the bound oz_model. */
typedef struct oz_loaded_model {
    uint8_t *image;
    uint32_t size;
    uint64_t xxh64;
    oz_model m;
} oz_loaded_model;

/* Encodes an image as the smallest model payload; fills coding / stored. */
ozip_status oz_model_encode(const uint8_t *image, uint32_t size, uint8_t **payload, uint32_t *stored,
                            uint32_t *coding, const ozip_params *p);
/* Decodes and checks a model payload (size, XXH64, structure) and binds it. */
ozip_status oz_model_decode(const uint8_t *payload, uint64_t stored, uint32_t coding, uint32_t size,
                            uint64_t xxh, oz_loaded_model *out, const ozip_params *p);
/* Parses an .ozm file into a loaded model. */
ozip_status oz_model_file_load(const void *buf, size_t n, oz_loaded_model *out, const ozip_params *p);
/* Builds an .ozm file from an image. */
ozip_status oz_model_file_make(const uint8_t *image, uint32_t size, void **dst, size_t *dst_n,
                               const ozip_params *p);
void oz_loaded_model_free(oz_loaded_model *lm);

/* ---- training (host/train_host.c) ---- */
typedef struct oz_train_result {
    uint8_t *image; /* aligned, free() */
    uint32_t size;
    double bpb, seconds;
    char device[32];
} oz_train_result;
/* Parses "L=2,D=64,H=4,F=128,W=64,wbits=8,tied=1" onto cfg. */
ozip_status oz_parse_arch(const char *spec, oz_config *cfg, const ozip_params *p);
void oz_arch_string(const oz_config *c, char *buf, size_t n);
/* Model shapes to try for n bytes at a level (first = preferred); returns count. */
int oz_arch_candidates(uint64_t n, int level, oz_config *out, int max);
/* Trains one model on data[n]. */
ozip_status oz_train(const uint8_t *data, size_t n, const oz_config *arch, int level, const ozip_params *p,
                     oz_train_result *res);

/* ---- the CUDA trainer plugin (host/cuda_plugin.c, gpu_train/cuda_api.h) ---- */
struct oz_cuda_api;
/* The loaded plugin, or NULL (not built, or it does not load). */
const struct oz_cuda_api *oz_cuda_api_get(void);
/* The plugin when GPU 0 can train, else NULL with the reason in why. */
const struct oz_cuda_api *oz_cuda_usable(char *why, size_t n);
/* One line for `ozip -V -v`: the plugin, its build, the GPU or why none. */
void oz_cuda_describe(char *buf, size_t n);

/* ---- model-stream decoding backends (host/backend_*.c) ---- */
typedef struct oz_stream_job {
    const uint8_t *in;
    uint64_t in_len;
    uint8_t *out;
    uint64_t out_len;
    int rc; /* OZ_CORE_* result */
} oz_stream_job;

typedef struct oz_backend {
    const char *name;
    /* Decodes every job with the model; sets jobs[i].rc. Returns OZIP_OK
     * unless the device itself failed (then msg says why). */
    ozip_status (*decode)(const oz_loaded_model *lm, oz_stream_job *jobs, uint32_t njobs, int threads,
                          const ozip_params *p);
} oz_backend;

extern const oz_backend oz_backend_cpu;
/* Picks the backend for params->device (decoding). */
ozip_status oz_backend_for(const ozip_params *p, const oz_backend **out);

/* encode the model streams of data with the model (threads) */
ozip_status oz_encode_streams(const oz_loaded_model *lm, const uint8_t *data, uint64_t n, uint32_t block,
                              uint8_t **payloads, uint64_t *sizes, const ozip_params *p);

#endif
