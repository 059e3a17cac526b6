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
/* Input is cut into frames of this many bytes unless ozip_params.frame_size
 * says otherwise: the whole-input classic trial's limit, so every frame
 * gets it (docs/architecture.md, "Input larger than memory") */
#define OZ_FRAME_DEFAULT OZ_CLASSIC_WHOLE_MAX

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
/* The ladder of shapes the candidates come from, smallest first; returns its length. */
int oz_arch_ladder(const oz_config **out);
/* Trains one model on data[n]. */
ozip_status oz_train(const uint8_t *data, size_t n, const oz_config *arch, int level, const ozip_params *p,
                     oz_train_result *res);

/* ---- running the integer model on the CPU (host/backend_cpu.c) ---- */
#include "fast/ozf.h"
/* The engine: an ozf ISA (>= 0), or core's reference code. */
#define OZ_ENGINE_REF (-2)
/* Chooses from the CPU and OZIP_FORCE_ISA (scalar|avx2|avx512|ref). */
ozip_status oz_engine_pick(const ozip_params *p, int *engine);
const char *oz_engine_name(int engine);

/* ---- the CUDA trainer plugin (host/cuda_plugin.c, gpu_train/cuda_api.h) ---- */
struct oz_cuda_api;
/* The loaded plugin, or NULL (not built, or it does not load). */
const struct oz_cuda_api *oz_cuda_api_get(void);
/* The plugin when GPU 0 can train, else NULL with the reason in why. */
const struct oz_cuda_api *oz_cuda_usable(char *why, size_t n);
/* One line for `ozip -V -v`: the plugin, its build, the GPU or why none. */
void oz_cuda_describe(char *buf, size_t n);

/* ---- model-stream decoding backends (host/backend_*.c) ---- */
typedef ozf_job oz_stream_job; /* input payload, output buffer, OZ_CORE_* result */

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
/* Space-separated names of the backends compiled in ("cpu emu opencl xrt fpga"). */
const char *oz_backend_names(void);

/* ---- the FPGA decode kernel (hls/lmdec.h) on a device ----
 * Every device that runs the kernel - the emulated card (a native build of
 * the kernel, loaded with dlopen), an OpenCL runtime, XRT - is driven through
 * the same buffer / launch interface; host/backend_fpga.c does the rest
 * (limits, packing, batches, results, the report). */
typedef struct oz_kdev oz_kdev; /* a device with the kernel loaded */
typedef struct oz_kbuf oz_kbuf; /* a buffer in the device's memory */
/* kernel arguments that are buffers, in argument order */
enum { OZ_KARG_MODEL, OZ_KARG_DESC, OZ_KARG_IN, OZ_KARG_OUT, OZ_KARG_STATUS, OZ_KARG_NBUF };
typedef struct oz_kdev_ops {
    const char *name;
    ozip_status (*open)(oz_kdev **d, const ozip_params *p);
    /* a buffer for kernel argument `arg` (the device places it in that argument's bank) */
    ozip_status (*alloc)(oz_kdev *d, int arg, size_t n, oz_kbuf **b, const ozip_params *p);
    ozip_status (*write)(oz_kdev *d, oz_kbuf *b, const void *src, size_t n, const ozip_params *p);
    ozip_status (*read)(oz_kdev *d, oz_kbuf *b, void *dst, size_t n, const ozip_params *p);
    /* one launch, waited for */
    ozip_status (*run)(oz_kdev *d, oz_kbuf *const *bufs, uint32_t nstreams, const ozip_params *p);
    void (*release)(oz_kdev *d, oz_kbuf *b);
    void (*close)(oz_kdev *d);
    /* what the device is, for -v: e.g. "PoCL pthread-skylake..., kernel built from source" */
    const char *(*describe)(oz_kdev *d);
} oz_kdev_ops;
extern const oz_kdev_ops oz_kdev_emu, oz_kdev_opencl, oz_kdev_opencl_card, oz_kdev_xrt;
/* Decodes the jobs with the kernel on the first of ops[nops] that opens
 * (`what` names the backend in messages). */
ozip_status oz_kernel_decode(const oz_kdev_ops *const *ops, int nops, const char *what, const oz_loaded_model *lm,
                             oz_stream_job *jobs, uint32_t njobs, const ozip_params *p);
extern const oz_backend oz_backend_emu, oz_backend_opencl, oz_backend_xrt, oz_backend_fpga;
/* A folder this program's files may be in: the executable's own folder (for
 * build/libozip_kernel_emu.so, hls/lmdec.c, lmdec.xclbin). */
const char *oz_exe_dir(void);

/* encode the model streams of data with the model (threads) */
ozip_status oz_encode_streams(const oz_loaded_model *lm, const uint8_t *data, uint64_t n, uint32_t block,
                              uint8_t **payloads, uint64_t *sizes, const ozip_params *p);

#endif
