/* trainer.h - float32 training of the ozip Transformer with quantisation-aware
 * training, shared by the CPU trainer (train_cpu.c, OpenBLAS) and the CUDA
 * trainer (train_cuda.cu, cuBLAS; a plugin, see cuda_api.h). Float exists
 * only here: export.c turns the trained parameters into the integer model
 * image that core/ defines.
 *
 * Parameter layout (one contiguous float array, row-major, in this order):
 *   emb   (256, D)
 *   head  (256, D)            only when the head is not tied to emb
 *   per layer: wqkv (3D, D), wo (D, D), w1 (F, D), w2 (D, F)
 * Activation scales (not trained; running max-abs, see tr_scales):
 *   per layer: q, k, v, h (pre-activation), g (activation output)
 */
#ifndef OZ_TRAINER_H
#define OZ_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "../core/oz_model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tr_opts {
    oz_config arch;      /* model shape; arch.wbits = weight precision */
    uint32_t seq;        /* T: training sequence length (>= 1) */
    uint32_t batch;      /* B: sequences per step */
    double lr;           /* peak learning rate */
    double min_lr_frac;  /* final lr = lr * min_lr_frac (cosine) */
    double warmup_frac;  /* fraction of steps with linear warm-up */
    double wd;           /* AdamW weight decay */
    double beta1, beta2;
    double clip;         /* global gradient-norm clip, 0 = off */
    uint64_t steps;      /* total optimiser steps */
    uint64_t seed;
    int threads;         /* 0 = all */
    int qat;             /* 1: fake-quantise weights and activations */
} tr_opts;

void tr_opts_default(tr_opts *o);

/* Number of floats in the parameter array for a shape. */
size_t tr_param_count(const oz_config *a);

/* Offsets (in floats) of every tensor, for the exporter and the tests. */
typedef struct tr_layout {
    size_t emb, head; /* head == emb when tied */
    size_t wqkv[OZ_MAX_LAYERS], wo[OZ_MAX_LAYERS], w1[OZ_MAX_LAYERS], w2[OZ_MAX_LAYERS];
    size_t total;
} tr_layout;
void tr_layout_of(const oz_config *a, tr_layout *lay);

/* Running activation scales (real value of one int8 step). */
typedef struct tr_scales {
    float q[OZ_MAX_LAYERS], k[OZ_MAX_LAYERS], v[OZ_MAX_LAYERS];
    float h[OZ_MAX_LAYERS], g[OZ_MAX_LAYERS];
    int init; /* 0 until the first forward pass set them */
} tr_scales;

/* ALiBi slope of head h, integer units (1/256 bit per position), and the same
 * slope in nats per position as the float model uses it. */
int32_t tr_alibi_slope(uint32_t h, uint32_t n_head);
float tr_alibi_nats(int32_t slope);

/* Shared by both trainers (train_common.c), so that a seed gives the same
 * initial parameters, the same windows and the same schedule on either. */
uint64_t tr_rng_seed(uint64_t seed);
uint64_t tr_rng_next(uint64_t *state);
/* Initial parameters (layout of tr_layout_of) from the generator. */
void tr_init_params(const oz_config *a, uint64_t *rng, float *p);
/* B random windows of T+1 bytes of data[n] (n > T) into tok (B, T+1). */
void tr_sample_windows(uint64_t *rng, const uint8_t *data, size_t n, uint32_t T, uint32_t B, uint8_t *tok);
/* Learning rate of optimiser step `step` (0-based): linear warm-up, cosine. */
double tr_lr_at(const tr_opts *o, uint64_t step);
/* Mean bits/byte of loss() over consecutive windows of T+1 bytes covering
 * data[n], B at a time (the trainers' eval); -1 if a loss call fails. */
double tr_eval_windows(const uint8_t *data, size_t n, uint32_t T, uint32_t B,
                       double (*loss)(void *trainer, const uint8_t *tok, uint32_t b), void *trainer);

/* Fixed constants of the integer model that training mirrors. */
#define TR_NORM_STEP (1.0f / 32.0f) /* OZ_NORM_FRAC = 5 */

/* The progress callback receives (step, steps, train bits/byte of the last
 * step) and returns nonzero to stop early. */
typedef int (*tr_progress_fn)(void *ctx, uint64_t step, uint64_t steps, double bpb);

typedef struct cpu_trainer cpu_trainer;

/* OpenBLAS, loaded on first use (gpu_train/blas.c; nothing links it):
 * tr_blas_load returns 0, or -1 with the reason in tr_blas_error().
 * cpu_trainer_new loads it and fails without it. tr_sgemm is cblas_sgemm in
 * row-major order, single-threaded; tr_blas_describe names the build and
 * its kernel (loading it if need be). tr_blas_env sets, before the load,
 * OPENBLAS_NUM_THREADS=1 (OpenBLAS then starts no thread pool) and
 * OPENBLAS_CORETYPE from CPUID where the user has not set it: a program calls
 * it before it starts threads (it uses setenv). */
void tr_blas_env(void);
int tr_blas_load(void);
const char *tr_blas_error(void);
void tr_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc);
const char *tr_blas_describe(char *buf, size_t n);

cpu_trainer *cpu_trainer_new(const tr_opts *o);
void cpu_trainer_free(cpu_trainer *t);
float *cpu_trainer_params(cpu_trainer *t);
float *cpu_trainer_grads(cpu_trainer *t);
tr_scales *cpu_trainer_scales(cpu_trainer *t);
/* Forward + backward on explicit windows: tok (B, T+1) bytes, positions 0..T-1
 * are inputs, 1..T targets. Returns the mean loss in nats; gradients are
 * written (not accumulated) to cpu_trainer_grads(). update_scales: let this
 * pass move the running activation scales. */
double cpu_trainer_loss_grad(cpu_trainer *t, const uint8_t *tok, uint32_t B, int update_scales);
/* Loss only (no gradients), same inputs. */
double cpu_trainer_loss(cpu_trainer *t, const uint8_t *tok, uint32_t B);
/* Trains on data[n] for o->steps steps of random windows. Returns the mean
 * bits/byte of the last 5% of steps. */
double cpu_trainer_fit(cpu_trainer *t, const uint8_t *data, size_t n, tr_progress_fn cb, void *ctx);
/* Changes the total number of steps of a running fit (the schedule follows). */
void cpu_trainer_set_steps(cpu_trainer *t, uint64_t steps);
/* Mean bits/byte of the float (fake-quantised) model over windows covering data. */
double cpu_trainer_eval(cpu_trainer *t, const uint8_t *data, size_t n);

/* export.c: integer image from float parameters and scales. res_max: largest
 * |residual| seen (real units), for the residual fixed-point scale.
 * Returns a malloc'ed image (free()) and its size, or NULL. */
uint8_t *tr_export(const oz_config *a, const float *params, const tr_scales *sc, float res_max,
                   uint32_t *size);
float cpu_trainer_res_max(cpu_trainer *t);

/* Fake quantisation shared by both trainers: round half away from zero and
 * clamp to +-qmax, i.e. what export.c stores. */
static inline float tr_fq(float x, float step, float qmax)
{
    float q = x / step;
    q = q > qmax ? qmax : (q < -qmax ? -qmax : q);
    return (float)(int)(q + (q >= 0 ? 0.5f : -0.5f)) * step;
}

#ifdef __cplusplus
}
#endif

#endif /* OZ_TRAINER_H */
