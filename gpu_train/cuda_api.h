/* cuda_api.h - the CUDA trainer plugin (build/libozip_cuda.so, built from
 * train_cuda.cu when nvcc is present) as the host sees it.
 *
 * The plugin is loaded with dlopen (host/cuda_plugin.c), so the ozip binary
 * runs on machines with no CUDA library, driver or GPU. It exports one symbol,
 * oz_cuda_get_api(), returning a table of functions that mirror the CPU
 * trainer (trainer.h): same options, same parameter layout, same
 * initialisation and window sampling for a seed, same quantisation-aware
 * training. The host exports the downloaded parameters with the same
 * tr_export(), so a model trained on the GPU is an ordinary integer model.
 *
 * Parameters, gradients and scales live on the GPU; params()/grads()/scales()
 * download them into host copies owned by the trainer (valid until the next
 * call) and params_changed() uploads the host copy of the parameters after a
 * caller changed it (tests do). Every call that can fail records a message
 * that error() returns; fit/loss return a negative value on failure.
 */
#ifndef OZ_CUDA_API_H
#define OZ_CUDA_API_H

#include "trainer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever the table or tr_opts/tr_scales change. */
#define OZ_CUDA_API_VERSION 1

typedef struct cuda_trainer cuda_trainer;

/* Settings of the GPU path only (NULL = defaults, all zero). */
typedef struct cuda_opts {
    int fp32_math;    /* 1: full FP32 matrix products (default: TF32 tensor cores, FP32 accumulate) */
    int no_graph;     /* 1: launch every kernel of a step directly (default: replay a CUDA graph) */
    int generic_attn; /* 1: the warp-per-row attention kernels for any head width (default: the
                         tiled kernels where the head width is <= 32) */
} cuda_opts;

typedef struct oz_cuda_api {
    uint32_t version;     /* OZ_CUDA_API_VERSION */
    uint32_t opts_size;   /* sizeof(tr_opts), to catch a plugin built from other headers */
    uint32_t scales_size; /* sizeof(tr_scales) */
    const char *build;    /* e.g. "CUDA 13.0, cuBLAS 13.1.0, sm_80 sm_90" */
    /* 1 when GPU 0 can train; msg receives "NVIDIA H100 80GB HBM3 (sm_90, ...)"
     * or the reason it cannot (no driver, no GPU, too old). */
    int (*probe)(char *msg, size_t n);
    /* NULL on failure, with the reason in err. */
    cuda_trainer *(*create)(const tr_opts *o, const cuda_opts *co, char *err, size_t n);
    void (*destroy)(cuda_trainer *t);
    /* As cpu_trainer_fit: o->steps steps on random windows of data[n] (the
     * input stays in host memory; only each batch is copied). Returns the mean
     * bits/byte of the last 5% of steps, or < 0 on failure. The callback for
     * step s runs while step s+1 is already queued on the GPU. */
    double (*fit)(cuda_trainer *t, const uint8_t *data, size_t n, tr_progress_fn cb, void *ctx);
    void (*set_steps)(cuda_trainer *t, uint64_t steps);
    /* As cpu_trainer_loss_grad / cpu_trainer_loss / cpu_trainer_eval. */
    double (*loss_grad)(cuda_trainer *t, const uint8_t *tok, uint32_t B, int update_scales);
    double (*loss)(cuda_trainer *t, const uint8_t *tok, uint32_t B);
    double (*eval)(cuda_trainer *t, const uint8_t *data, size_t n);
    float *(*params)(cuda_trainer *t);
    int (*params_changed)(cuda_trainer *t);
    float *(*grads)(cuda_trainer *t);
    tr_scales *(*scales)(cuda_trainer *t);
    float (*res_max)(cuda_trainer *t);
    const char *(*error)(cuda_trainer *t);
    const char *(*device)(cuda_trainer *t); /* "NVIDIA H100 80GB HBM3" */
} oz_cuda_api;

typedef const oz_cuda_api *(*oz_cuda_get_api_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* OZ_CUDA_API_H */
