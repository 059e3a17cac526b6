/* train_cuda.cu - the CUDA trainer: train_cpu.c's model and training, made
 * fast on one NVIDIA GPU. train_cpu.c is the reference; read its header for
 * the forward pass of a layer. Everything here computes the same functions:
 * same parameter layout and initialisation (train_common.c), the same
 * fake quantisation with the straight-through estimator at the same points,
 * the same activation-scale EMA, residual range tracking, ALiBi slopes,
 * AdamW, clipping and schedule, and the same windows for a seed. What differs
 * is the order of floating-point operations and, by default, TF32 tensor
 * cores in the matrix products (FP32 accumulate, FP32 master weights), so the
 * two trainers agree to a tolerance (tests/test_cuda.c), not bit for bit. The
 * exported integer model is what decoders use, and it is exported on the host
 * by the same tr_export(), so files trained here decode everywhere.
 *
 * Where the work goes:
 *  - matrix products: cuBLAS (cublasGemmEx), row-major tensors seen as their
 *    column-major transposes;
 *  - attention: fused causal sliding-window kernels with ALiBi, FlashAttention
 *    style: the forward pass keeps only the output and the log-sum-exp of each
 *    row (no (T, W) probability matrix), the backward pass recomputes the
 *    probabilities; dQ is computed per query and dK, dV per key, so every
 *    gradient element is summed by one thread in a fixed order (deterministic,
 *    no atomics). Tiled kernels (K/V or Q/dO chunks in shared memory, one
 *    query or key per thread) for head widths <= 32, warp-per-row kernels for
 *    any width up to 256;
 *  - RMS norm + fake quantisation, GELU + fake quantisation, softmax +
 *    cross-entropy, the STE masks, per-row weight quantisation, AdamW with the
 *    global-norm clip: one fused kernel each;
 *  - reductions that feed a value (loss, gradient norm) are two-level with a
 *    fixed order, so a run is deterministic for a seed on a given GPU;
 *    max-abs reductions use integer atomicMax on the float bits (order-free).
 * A whole optimiser step (about 25 launches per layer) is captured once as a
 * CUDA graph and replayed; the learning rate and bias corrections reach it
 * through the staging buffer, not as launch arguments.
 *
 * The input never goes to the GPU as a whole: each step's windows are drawn
 * on the host (the same generator as the CPU trainer) into one of two pinned
 * staging buffers, with the token->position index the embedding gradient
 * needs, and copied asynchronously while the previous step runs. So inputs of
 * any size train in the GPU memory of one batch.
 */
#ifndef OZ_CUDA_EMU
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_api.h"

#ifndef OZ_CUDA_ARCHS
#define OZ_CUDA_ARCHS "?"
#endif

#define OZ_EXPORT extern "C" __attribute__((visibility("default")))

/* Every launch goes through LAUNCH(kernel, grid, block)(args) on the
 * trainer's stream; tests/cuda_emu/ defines it (and the CUDA API) to run
 * this file on a CPU. */
#ifndef LAUNCH_ON
#define LAUNCH_ON(kernel, grid, block, stream) kernel<<<(grid), (block), 0, (stream)>>>
#endif
#ifndef LAUNCH
#define LAUNCH(kernel, grid, block) LAUNCH_ON(kernel, grid, block, t->s)
#endif

namespace {

const float LOG2E = 1.4426950408889634f;
const float GELU_C = 0.7978845608028654f; /* sqrt(2/pi) */
const int EW_THREADS = 256;               /* elementwise kernels */
const int ROW_THREADS = 256;              /* warp-per-row kernels: 8 rows per block */
const int NPART = 256;                    /* blocks of the gradient-norm reduction */
const int ATT_TQ = 64;                    /* tiled attention: queries (or keys) per block */
const int ATT_KC = 64;                    /* tiled attention: keys (or queries) per shared chunk */
static_assert(ATT_KC == ATT_TQ, "attn_dkv_tiled loads one row of lse and dsum per thread");
const size_t CUBLAS_WS = (size_t)32 << 20;

/* ------------------------------------------------------------- helpers */

__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Max of v over the block, folded into *out with an integer atomicMax on the
 * bits (non-negative floats order like their bit patterns). */
__device__ void block_max_to(float v, unsigned *out)
{
    __shared__ float sm[32];
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    if (lane == 0)
        sm[w] = v;
    __syncthreads();
    if (w == 0) {
        v = lane < nw ? sm[lane] : 0.0f;
        v = warp_max(v);
        if (lane == 0)
            atomicMax(out, __float_as_uint(v));
    }
}

/* Sum of v over a block of exactly `n` threads (power of two), fixed order. */
template <int n> __device__ double block_sum_fixed(double v)
{
    __shared__ double sm[n];
    sm[threadIdx.x] = v;
    __syncthreads();
#pragma unroll
    for (int s = n / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s)
            sm[threadIdx.x] += sm[threadIdx.x + s];
        __syncthreads();
    }
    double r = sm[0];
    __syncthreads();
    return r;
}

/* tr_fq (trainer.h) on the device: same operations in the same order. */
__device__ __forceinline__ float fq(float x, float step, float qmax)
{
    float q = x / step;
    q = q > qmax ? qmax : (q < -qmax ? -qmax : q);
    return (float)(int)(q + (q >= 0 ? 0.5f : -0.5f)) * step;
}

__device__ __forceinline__ float gelu_f(float x)
{
    return 0.5f * x * (1.0f + tanhf(GELU_C * (x + 0.044715f * x * x * x)));
}

__device__ __forceinline__ float gelu_d(float x)
{
    float u = GELU_C * (x + 0.044715f * x * x * x), th = tanhf(u);
    return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * GELU_C * (1.0f + 3.0f * 0.044715f * x * x);
}

/* ------------------------------------------------------ elementwise kernels */

/* Per-row fake quantisation of every weight matrix: rows are listed in
 * (row_off, row_cols); one warp per row. wq = fq(p, max|row| / qmax). */
__global__ void fq_weights_kernel(const float *p, float *wq, const unsigned long long *row_off,
                                  const unsigned *row_cols, unsigned rows, float qmax)
{
    unsigned r = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (r >= rows)
        return;
    const float *w = p + row_off[r];
    float *d = wq + row_off[r];
    unsigned n = row_cols[r];
    float mx = 0;
    for (unsigned i = lane; i < n; i += 32)
        mx = fmaxf(mx, fabsf(w[i]));
    mx = warp_max(mx);
    float s = mx / qmax;
    for (unsigned i = lane; i < n; i += 32)
        d[i] = s > 0 ? fq(w[i], s, qmax) : 0.0f;
}

/* x0 (N, D) = wq_emb[token]; tok (B, T+1) */
__global__ void embed_kernel(const unsigned char *tok, const float *emb, float *x, unsigned T, unsigned D, size_t n)
{
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < n; e += (size_t)gridDim.x * blockDim.x) {
        size_t i = e / D;
        unsigned d = (unsigned)(e % D), b = (unsigned)(i / T), tt = (unsigned)(i % T);
        x[e] = emb[(size_t)tok[(size_t)b * (T + 1) + tt] * D + d];
    }
}

/* dEmb[v] += dX rows of the positions holding byte v, in position order (the
 * CPU trainer's order). off (257) / pos (N): positions grouped by byte. */
__global__ void embed_bwd_kernel(const float *dx, const int *off, const int *pos, float *gemb, unsigned D)
{
    unsigned v = blockIdx.x, d = blockIdx.y * blockDim.x + threadIdx.x;
    if (d >= D)
        return;
    const int end = off[v + 1];
    float acc = gemb[(size_t)v * D + d];
    /* 16 independent loads in flight, then added in position order */
    for (int k = off[v]; k < end; k += 16) {
        float x[16];
#pragma unroll
        for (int u = 0; u < 16; u++)
            x[u] = k + u < end ? dx[(size_t)pos[k + u] * D + d] : 0.0f;
#pragma unroll
        for (int u = 0; u < 16; u++)
            if (k + u < end)
                acc += x[u];
    }
    gemb[(size_t)v * D + d] = acc;
}

/* y = fq(x / rms(x), 1/32) per row; r = rms. One warp per row. Also folds
 * max|x| into *resmax (the residual range the exporter needs). */
__global__ void rms_fwd_kernel(const float *x, float *r, float *y, unsigned N, unsigned D, int q, unsigned *resmax)
{
    unsigned row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= N)
        return;
    const float *xr = x + (size_t)row * D;
    float *yr = y + (size_t)row * D, ss = 0, mx = 0;
    for (unsigned d = lane; d < D; d += 32) {
        float v = xr[d];
        ss += v * v;
        mx = fmaxf(mx, fabsf(v));
    }
    ss = warp_sum(ss);
    float rr = sqrtf(ss / D + 1e-12f);
    if (lane == 0)
        r[row] = rr;
    for (unsigned d = lane; d < D; d += 32) {
        float n = xr[d] / rr;
        yr[d] = q ? fq(n, 1.0f / 32.0f, 127.0f) : n;
    }
    if (resmax) {
        mx = warp_max(mx);
        if (lane == 0)
            atomicMax(resmax, __float_as_uint(mx));
    }
}

/* dx (+)= d(rms_fwd)/dx applied to dy, STE through the clip. */
__global__ void rms_bwd_kernel(const float *x, const float *r, const float *dy, float *dx, unsigned N, unsigned D,
                               int q, int accumulate)
{
    unsigned row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= N)
        return;
    const float lim = 127.5f / 32.0f;
    const float *xr = x + (size_t)row * D, *dyr = dy + (size_t)row * D;
    float *dxr = dx + (size_t)row * D, rr = r[row], dot = 0;
    for (unsigned d = lane; d < D; d += 32) {
        float n = xr[d] / rr, g = (q && fabsf(n) > lim) ? 0.0f : dyr[d];
        dot += g * n;
    }
    dot = warp_sum(dot) / (float)D;
    for (unsigned d = lane; d < D; d += 32) {
        float n = xr[d] / rr, g = (q && fabsf(n) > lim) ? 0.0f : dyr[d];
        float v = (g - n * dot) / rr;
        dxr[d] = accumulate ? dxr[d] + v : v;
    }
}

/* max|x| over column group blockIdx.y of a (rows, cols) matrix whose column
 * groups are gcols wide -> mx[group]. */
__global__ void maxabs_kernel(const float *x, size_t rows, unsigned cols, unsigned gcols, unsigned *mx)
{
    size_t n = rows * gcols;
    unsigned g = blockIdx.y;
    float m = 0;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < n; e += (size_t)gridDim.x * blockDim.x)
        m = fmaxf(m, fabsf(x[(e / gcols) * cols + g * gcols + e % gcols]));
    block_max_to(m, &mx[g]);
}

/* The CPU trainer's ema_scale for `count` consecutive scales. */
__global__ void ema_kernel(float *sc, const unsigned *mx, int count, int init)
{
    int i = threadIdx.x;
    if (i < count) {
        float v = __uint_as_float(mx[i]) / 127.0f;
        if (v <= 0)
            v = 1e-6f;
        sc[i] = init ? v : 0.9f * sc[i] + 0.1f * v;
    }
}

__global__ void res_update_kernel(float *res_max, const unsigned *mx, int init)
{
    float r = __uint_as_float(*mx);
    *res_max = init ? r : fmaxf(0.98f * *res_max, r);
}

/* y = fq(x, sc[group]) with column groups gcols wide in rows of cols. */
__global__ void fq_groups_kernel(const float *x, float *y, size_t n, unsigned cols, unsigned gcols, const float *sc)
{
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < n; e += (size_t)gridDim.x * blockDim.x)
        y[e] = fq(x[e], sc[(unsigned)(e % cols) / gcols], 127.0f);
}

/* STE: zero dx where x was clipped by fq(., sc[group]). */
__global__ void ste_groups_kernel(const float *x, float *dx, size_t n, unsigned cols, unsigned gcols, const float *sc)
{
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < n; e += (size_t)gridDim.x * blockDim.x)
        if (fabsf(x[e]) > 127.5f * sc[(unsigned)(e % cols) / gcols])
            dx[e] = 0;
}

/* hq = fq(hp, s_h); g = gelu(hq); max|g| -> *gmax */
__global__ void act_fwd_kernel(const float *hp, float *hq, float *g, size_t n, const float *sh, int q, unsigned *gmax)
{
    float m = 0, s = *sh;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < n; e += (size_t)gridDim.x * blockDim.x) {
        float h = q ? fq(hp[e], s, 127.0f) : hp[e], v = gelu_f(h);
        hq[e] = h;
        g[e] = v;
        m = fmaxf(m, fabsf(v));
    }
    if (gmax)
        block_max_to(m, gmax);
}

/* dh = dgq * [g not clipped by s_g] * gelu'(hq) * [hp not clipped by s_h] */
__global__ void act_bwd_kernel(const float *hp, const float *hq, const float *g, float *dh, size_t n, const float *sh,
                               const float *sg, int q)
{
    const float limh = 127.5f * *sh, limg = 127.5f * *sg;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < n; e += (size_t)gridDim.x * blockDim.x) {
        float d = dh[e] * gelu_d(hq[e]);
        if (q && (fabsf(hp[e]) > limh || fabsf(g[e]) > limg))
            d = 0;
        dh[e] = d;
    }
}

/* Softmax + cross-entropy over 256 logits per row (one warp per row): the
 * row's loss in nats -> lossrow; with grad, lg is overwritten by dloss/dlogits
 * of the mean loss. Targets: tok (B, T+1), position t+1. */
__global__ void softmax_ce_kernel(float *lg, const unsigned char *tok, float *lossrow, unsigned N, unsigned T,
                                  int grad)
{
    unsigned row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= N)
        return;
    float *l = lg + (size_t)row * 256, v[8], mx = -INFINITY, sum = 0;
    unsigned b = row / T, tt = row % T, y = tok[(size_t)b * (T + 1) + tt + 1];
#pragma unroll
    for (int k = 0; k < 8; k++) {
        v[k] = l[lane + 32 * k];
        mx = fmaxf(mx, v[k]);
    }
    mx = warp_max(mx);
#pragma unroll
    for (int k = 0; k < 8; k++) {
        v[k] = expf(v[k] - mx);
        sum += v[k];
    }
    sum = warp_sum(sum);
    float ly = l[y];
    __syncwarp();
    if (lane == 0)
        lossrow[row] = logf(sum) + mx - ly;
    if (grad) {
        float inv = 1.0f / ((float)N * sum);
#pragma unroll
        for (int k = 0; k < 8; k++) {
            unsigned s = lane + 32 * k;
            l[s] = v[k] * inv - (s == y ? 1.0f / (float)N : 0.0f);
        }
    }
}

/* *out = mean of x[n] (double, fixed order; one block of 1024 threads) */
__global__ void mean_kernel(const float *x, unsigned n, double *out)
{
    double s = 0;
    for (unsigned i = threadIdx.x; i < n; i += 1024)
        s += x[i];
    s = block_sum_fixed<1024>(s);
    if (threadIdx.x == 0)
        *out = s / n;
}

/* Partial sums of g^2 for the global-norm clip: NPART blocks of 256 threads,
 * each element always lands in the same partial (deterministic). */
__global__ void sumsq_kernel(const float *g, size_t n, double *part)
{
    double s = 0;
    for (size_t i = blockIdx.x * (size_t)256 + threadIdx.x; i < n; i += (size_t)NPART * 256)
        s += (double)g[i] * g[i];
    s = block_sum_fixed<256>(s);
    if (threadIdx.x == 0)
        part[blockIdx.x] = s;
}

/* What one optimiser step needs from the host; at the start of the staging
 * buffer so that a replayed CUDA graph reads the current values. */
struct stage_hdr {
    double lr, c1, c2;
    unsigned B, pad;
};

/* AdamW exactly as the CPU trainer's adamw(): clip by the global norm (from
 * the partials, summed in the same order by every block), no weight decay on
 * the embedding rows [e0, e1). Blocks of 256 threads. */
__global__ void adamw_kernel(float *p, const float *g, float *m, float *v, size_t n, const double *part,
                             const stage_hdr *hdr, double b1, double b2, float wd, double clip, size_t e0, size_t e1)
{
    double nrm = block_sum_fixed<256>(threadIdx.x < NPART ? part[threadIdx.x] : 0.0), sc = 1;
    const double lr = hdr->lr, c1 = hdr->c1, c2 = hdr->c2;
    nrm = sqrt(nrm);
    if (clip > 0 && nrm > clip)
        sc = clip / nrm;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float gi = (float)(g[i] * sc);
        float w = (i >= e0 && i < e1) ? 0.0f : wd;
        m[i] = (float)(b1 * m[i] + (1 - b1) * gi);
        v[i] = (float)(b2 * v[i] + (1 - b2) * gi * gi);
        p[i] -= (float)(lr * ((m[i] / c1) / (sqrt(v[i] / c2) + 1e-8) + w * p[i]));
    }
}

/* ------------------------------------------------------ attention kernels
 * qkv (B*T, 3D): row b*T+t holds q | k | v, head h in columns h*Dh..h*Dh+Dh-1.
 * Query t attends to keys j in [t-W+1, t] of its own row b, with score
 * (q.k)/sqrt(Dh) - slope_h * (t - j) (nats). The kernels work in base 2:
 * q is pre-scaled by scale*log2(e), slopes by log2(e); lse is the base-2
 * log-sum-exp of a query's scores, so p = exp2(s - lse). */
struct attn_args {
    const float *qkv; /* (N, 3D) quantised q, k, v */
    float *o;         /* (N, D) forward output; read by the backward */
    float *lse;       /* (N, H) */
    const float *dout;/* (N, D) gradient of o */
    float *dqkv;      /* (N, 3D) */
    float *dsum;      /* (N, H) dout . o, written by the dq kernel, read by dkv */
    unsigned B, T, D, H, Dh, W;
    float scale;      /* 1/sqrt(Dh) */
    float slope2[OZ_MAX_HEADS];
};

/* a . b over DP columns, a in registers, b a row in shared memory; four
 * partial sums keep the dependency chains short. */
template <int DP> __device__ __forceinline__ float dot_row(const float *a, const float4 *b)
{
    float4 s = {0, 0, 0, 0};
#pragma unroll
    for (int d = 0; d < DP / 4; d++) {
        float4 x = b[d];
        s.x += a[4 * d] * x.x;
        s.y += a[4 * d + 1] * x.y;
        s.z += a[4 * d + 2] * x.z;
        s.w += a[4 * d + 3] * x.w;
    }
    return (s.x + s.y) + (s.z + s.w);
}

/* acc += c * b over DP columns, b a row in shared memory */
template <int DP> __device__ __forceinline__ void axpy_row(float *acc, float c, const float4 *b)
{
#pragma unroll
    for (int d = 0; d < DP / 4; d++) {
        float4 x = b[d];
        acc[4 * d] += c * x.x;
        acc[4 * d + 1] += c * x.y;
        acc[4 * d + 2] += c * x.z;
        acc[4 * d + 3] += c * x.w;
    }
}

/* Online softmax: folds score s (base 2) into the running max m and sum l,
 * rescaling the n accumulators when the max moves; returns the new term's
 * weight exp2(s - m). */
template <int n> __device__ __forceinline__ float online_softmax(float s, float &m, float &l, float *acc)
{
    if (s > m) {
        float c = exp2f(m - s);
        l *= c;
#pragma unroll
        for (int d = 0; d < n; d++)
            acc[d] *= c;
        m = s;
    }
    float pe = exp2f(s - m);
    l += pe;
    return pe;
}

/* The key walk of the tiled forward and dQ kernels. Block = (query tile of
 * ATT_TQ, head, row), thread = query t. The keys the tile can see are loaded
 * in chunks of ATT_KC into shared memory (head width padded to DP with zeros)
 * and walked newest first: the ALiBi bias falls with distance, so the running
 * max of the forward is found early and rescales are rare. Bounds are
 * warp-uniform, so every lane reads the same key (a shared-memory broadcast);
 * body(j, k, v) runs for the keys in t's window. */
template <int DP, class Body>
__device__ __forceinline__ void for_each_key(const attn_args &a, const float *base, int t0, int t, bool valid,
                                             float (*Ks)[DP], float (*Vs)[DP], Body body)
{
    const int T = (int)a.T, W = (int)a.W, Dh = (int)a.Dh, tid = (int)threadIdx.x;
    const size_t rs = 3 * (size_t)a.D;
    const int jlo = max(0, t0 - W + 1), jhi = min(T - 1, t0 + ATT_TQ - 1), nch = (jhi - jlo) / ATT_KC + 1;
    const int tw0 = t0 + (tid & ~31), tw1 = min(tw0 + 31, T - 1);
    for (int c = 0; c < nch; c++) {
        const int cend = jhi - c * ATT_KC, cst = max(jlo, cend - ATT_KC + 1), cn = cend - cst + 1;
        __syncthreads();
        /* a fixed trip count, every slot written (zeros past the chunk) */
#pragma unroll 4
        for (int i = 0; i < ATT_KC * DP / ATT_TQ; i++) {
            const int e = tid + i * ATT_TQ, r = e / DP, d = e % DP;
            const bool in = r < cn && d < Dh;
            const float *row = base + (size_t)(cst + (in ? r : 0)) * rs;
            Ks[r][d] = in ? row[a.D + d] : 0.0f;
            Vs[r][d] = in ? row[2 * a.D + d] : 0.0f;
        }
        __syncthreads();
        if (tw0 < T) {
            const int jb = min(cend, tw1), je = max(cst, tw0 - W + 1);
            for (int j = jb; j >= je; j--)
                if (valid && j <= t && j > t - W)
                    body(j, reinterpret_cast<const float4 *>(Ks[j - cst]),
                         reinterpret_cast<const float4 *>(Vs[j - cst]));
        }
    }
}

/* Tiled forward: online softmax over the window; writes o and the base-2
 * log-sum-exp of each query. */
template <int DP> __global__ void __launch_bounds__(ATT_TQ) attn_fwd_tiled(attn_args a)
{
    __shared__ __align__(16) float Ks[ATT_KC][DP];
    __shared__ __align__(16) float Vs[ATT_KC][DP];
    const unsigned b = blockIdx.z, h = blockIdx.y;
    const int T = (int)a.T, Dh = (int)a.Dh, t0 = blockIdx.x * ATT_TQ, t = t0 + (int)threadIdx.x;
    const size_t rs = 3 * (size_t)a.D;
    const float *base = a.qkv + (size_t)b * T * rs + h * Dh;
    const float qs = a.scale * LOG2E, sl = a.slope2[h];
    const bool valid = t < T;
    float q[DP], acc[DP], m = -INFINITY, l = 0;
#pragma unroll
    for (int d = 0; d < DP; d++) {
        q[d] = (valid && d < Dh) ? base[(size_t)t * rs + d] * qs : 0.0f;
        acc[d] = 0;
    }
    for_each_key<DP>(a, base, t0, t, valid, Ks, Vs, [&](int j, const float4 *k4, const float4 *v4) {
        axpy_row<DP>(acc, online_softmax<DP>(dot_row<DP>(q, k4) - sl * (float)(t - j), m, l, acc), v4);
    });
    if (valid) {
        float inv = 1.0f / l, *orow = a.o + ((size_t)b * T + t) * a.D + h * Dh;
#pragma unroll
        for (int d = 0; d < DP; d++)
            if (d < Dh)
                orow[d] = acc[d] * inv;
        a.lse[((size_t)b * T + t) * a.H + h] = m + log2f(l);
    }
}

/* Tiled dQ: per query recompute p, then ds = p (dout.v - dout.o),
 * dq = scale * sum ds k. Writes dsum = dout.o for the dK, dV kernel. */
template <int DP> __global__ void __launch_bounds__(ATT_TQ) attn_dq_tiled(attn_args a)
{
    __shared__ __align__(16) float Ks[ATT_KC][DP];
    __shared__ __align__(16) float Vs[ATT_KC][DP];
    const unsigned b = blockIdx.z, h = blockIdx.y;
    const int T = (int)a.T, Dh = (int)a.Dh, t0 = blockIdx.x * ATT_TQ, t = t0 + (int)threadIdx.x;
    const size_t rs = 3 * (size_t)a.D, row = (size_t)b * T + t;
    const float *base = a.qkv + (size_t)b * T * rs + h * Dh;
    const float qs = a.scale * LOG2E, sl = a.slope2[h];
    const bool valid = t < T;
    float q[DP], go[DP], dq[DP], Dt = 0, lse = 0;
#pragma unroll
    for (int d = 0; d < DP; d++) {
        bool in = valid && d < Dh;
        q[d] = in ? base[(size_t)t * rs + d] * qs : 0.0f;
        go[d] = in ? a.dout[row * a.D + h * Dh + d] : 0.0f;
        Dt += in ? go[d] * a.o[row * a.D + h * Dh + d] : 0.0f;
        dq[d] = 0;
    }
    if (valid)
        lse = a.lse[row * a.H + h];
    for_each_key<DP>(a, base, t0, t, valid, Ks, Vs, [&](int j, const float4 *k4, const float4 *v4) {
        float p = exp2f(dot_row<DP>(q, k4) - sl * (float)(t - j) - lse);
        axpy_row<DP>(dq, p * (dot_row<DP>(go, v4) - Dt), k4);
    });
    if (valid) {
        float *out = a.dqkv + row * rs + h * Dh;
#pragma unroll
        for (int d = 0; d < DP; d++)
            if (d < Dh)
                out[d] = dq[d] * a.scale;
        a.dsum[row * a.H + h] = Dt;
    }
}

/* Tiled dK, dV: block = (key tile, head, row); thread = key j; the queries
 * t in [j, j+W-1] that see it are walked in shared chunks of (q, dout, lse,
 * dsum). dv = sum p dout, dk = scale * sum ds q. */
template <int DP> __global__ void __launch_bounds__(ATT_TQ) attn_dkv_tiled(attn_args a)
{
    __shared__ __align__(16) float Qs[ATT_KC][DP];
    __shared__ __align__(16) float Gs[ATT_KC][DP];
    __shared__ float Ls[ATT_KC], Ds[ATT_KC];
    const unsigned b = blockIdx.z, h = blockIdx.y, tid = threadIdx.x;
    const int T = (int)a.T, W = (int)a.W, Dh = (int)a.Dh, j0 = blockIdx.x * ATT_TQ, j = j0 + (int)tid;
    const size_t rs = 3 * (size_t)a.D, rowb = (size_t)b * T;
    const float *base = a.qkv + rowb * rs + h * Dh;
    const float qs = a.scale * LOG2E, sl = a.slope2[h];
    const bool valid = j < T;
    float k[DP], v[DP], dk[DP], dv[DP];
#pragma unroll
    for (int d = 0; d < DP; d++) {
        bool in = valid && d < Dh;
        k[d] = in ? base[(size_t)j * rs + a.D + d] : 0.0f;
        v[d] = in ? base[(size_t)j * rs + 2 * a.D + d] : 0.0f;
        dk[d] = dv[d] = 0;
    }
    const int tlo = j0, thi = min(T - 1, j0 + ATT_TQ - 1 + W - 1), nch = (thi - tlo) / ATT_KC + 1;
    const int jw0 = j0 + (int)(tid & ~31u), jw1 = min(jw0 + 31, T - 1);
    for (int c = 0; c < nch; c++) {
        const int cst = tlo + c * ATT_KC, cn = min(ATT_KC, thi - cst + 1);
        __syncthreads();
        /* a fixed trip count, every slot written (zeros past the chunk) */
#pragma unroll 4
        for (int i = 0; i < ATT_KC * DP / ATT_TQ; i++) {
            const int e = (int)tid + i * ATT_TQ, r = e / DP, d = e % DP;
            const bool in = r < cn && d < Dh;
            const size_t rw = rowb + (size_t)(cst + (in ? r : 0));
            Qs[r][d] = in ? a.qkv[rw * rs + h * Dh + d] * qs : 0.0f;
            Gs[r][d] = in ? a.dout[rw * a.D + h * Dh + d] : 0.0f;
        }
        {
            /* ATT_KC == ATT_TQ: one row's lse and dsum per thread */
            const bool in = (int)tid < cn;
            const size_t rw = rowb + (size_t)(cst + (in ? (int)tid : 0));
            Ls[tid] = in ? a.lse[rw * a.H + h] : 0.0f;
            Ds[tid] = in ? a.dsum[rw * a.H + h] : 0.0f;
        }
        __syncthreads();
        if (jw0 >= T)
            continue;
        const int tb = max(cst, jw0), te = min(cst + cn - 1, jw1 + W - 1);
        for (int t = tb; t <= te; t++) {
            if (!valid || t < j || t >= j + W)
                continue;
            const float4 *q4 = reinterpret_cast<const float4 *>(Qs[t - cst]);
            const float4 *g4 = reinterpret_cast<const float4 *>(Gs[t - cst]);
            float p = exp2f(dot_row<DP>(k, q4) - sl * (float)(t - j) - Ls[t - cst]);
            axpy_row<DP>(dk, p * (dot_row<DP>(v, g4) - Ds[t - cst]), q4);
            axpy_row<DP>(dv, p, g4);
        }
    }
    if (valid) {
        float *out = a.dqkv + (rowb + j) * rs + h * Dh;
#pragma unroll
        for (int d = 0; d < DP; d++)
            if (d < Dh) {
                out[a.D + d] = dk[d] / LOG2E; /* Qs holds q * scale * log2(e) */
                out[2 * a.D + d] = dv[d];
            }
    }
}

/* Warp-per-row kernels for any head width up to 256 (8 columns per lane):
 * one warp per query (forward, dq) or key (dkv), scores reduced across the
 * warp (the xor butterfly leaves the same sum in every lane). Slower than the
 * tiled ones; used where Dh > 32 and as a second implementation in tests. */
#define GEN_R 8
/* This warp's query or key: row b, head h, position t; false past the end. */
__device__ __forceinline__ bool gen_item(const attn_args &a, unsigned *b, unsigned *h, int *t)
{
    unsigned long long w = blockIdx.x * (unsigned long long)(blockDim.x >> 5) + (threadIdx.x >> 5);
    if (w >= (unsigned long long)a.B * a.H * a.T)
        return false;
    *t = (int)(w % a.T);
    *h = (unsigned)((w / a.T) % a.H);
    *b = (unsigned)(w / ((unsigned long long)a.T * a.H));
    return true;
}

__global__ void attn_fwd_generic(attn_args a)
{
    const int lane = threadIdx.x & 31;
    unsigned b, h;
    int t;
    if (!gen_item(a, &b, &h, &t))
        return;
    const int Dh = (int)a.Dh;
    const size_t rs = 3 * (size_t)a.D;
    const float *base = a.qkv + (size_t)b * a.T * rs + h * Dh;
    const float qs = a.scale * LOG2E, sl = a.slope2[h];
    float q[GEN_R], acc[GEN_R], m = -INFINITY, l = 0;
#pragma unroll
    for (int r = 0; r < GEN_R; r++) {
        int d = lane + 32 * r;
        q[r] = d < Dh ? base[(size_t)t * rs + d] * qs : 0.0f;
        acc[r] = 0;
    }
    for (int j = t; j >= 0 && j > t - (int)a.W; j--) {
        const float *kr = base + (size_t)j * rs + a.D, *vr = kr + a.D;
        float s = 0;
#pragma unroll
        for (int r = 0; r < GEN_R; r++) {
            int d = lane + 32 * r;
            if (d < Dh)
                s += q[r] * kr[d];
        }
        float pe = online_softmax<GEN_R>(warp_sum(s) - sl * (float)(t - j), m, l, acc);
#pragma unroll
        for (int r = 0; r < GEN_R; r++) {
            int d = lane + 32 * r;
            if (d < Dh)
                acc[r] += pe * vr[d];
        }
    }
    size_t row = (size_t)b * a.T + t;
#pragma unroll
    for (int r = 0; r < GEN_R; r++) {
        int d = lane + 32 * r;
        if (d < Dh)
            a.o[row * a.D + h * Dh + d] = acc[r] / l;
    }
    if (lane == 0)
        a.lse[row * a.H + h] = m + log2f(l);
}

__global__ void attn_dq_generic(attn_args a)
{
    const int lane = threadIdx.x & 31;
    unsigned b, h;
    int t;
    if (!gen_item(a, &b, &h, &t))
        return;
    const int Dh = (int)a.Dh;
    const size_t rs = 3 * (size_t)a.D, row = (size_t)b * a.T + t;
    const float *base = a.qkv + (size_t)b * a.T * rs + h * Dh;
    const float qs = a.scale * LOG2E, sl = a.slope2[h], lse = a.lse[row * a.H + h];
    float q[GEN_R], go[GEN_R], dq[GEN_R], Dt = 0;
#pragma unroll
    for (int r = 0; r < GEN_R; r++) {
        int d = lane + 32 * r;
        q[r] = d < Dh ? base[(size_t)t * rs + d] * qs : 0.0f;
        go[r] = d < Dh ? a.dout[row * a.D + h * Dh + d] : 0.0f;
        Dt += d < Dh ? go[r] * a.o[row * a.D + h * Dh + d] : 0.0f;
        dq[r] = 0;
    }
    Dt = warp_sum(Dt);
    for (int j = t; j >= 0 && j > t - (int)a.W; j--) {
        const float *kr = base + (size_t)j * rs + a.D, *vr = kr + a.D;
        float s = 0, dp = 0;
#pragma unroll
        for (int r = 0; r < GEN_R; r++) {
            int d = lane + 32 * r;
            if (d < Dh) {
                s += q[r] * kr[d];
                dp += go[r] * vr[d];
            }
        }
        s = warp_sum(s);
        dp = warp_sum(dp);
        float p = exp2f(s - sl * (float)(t - j) - lse), ds = p * (dp - Dt);
#pragma unroll
        for (int r = 0; r < GEN_R; r++) {
            int d = lane + 32 * r;
            if (d < Dh)
                dq[r] += ds * kr[d];
        }
    }
#pragma unroll
    for (int r = 0; r < GEN_R; r++) {
        int d = lane + 32 * r;
        if (d < Dh)
            a.dqkv[row * rs + h * Dh + d] = dq[r] * a.scale;
    }
    if (lane == 0)
        a.dsum[row * a.H + h] = Dt;
}

__global__ void attn_dkv_generic(attn_args a)
{
    const int lane = threadIdx.x & 31;
    unsigned b, h;
    int j;
    if (!gen_item(a, &b, &h, &j))
        return;
    const int Dh = (int)a.Dh, T = (int)a.T;
    const size_t rs = 3 * (size_t)a.D, rowb = (size_t)b * a.T;
    const float *base = a.qkv + rowb * rs + h * Dh;
    const float qs = a.scale * LOG2E, sl = a.slope2[h];
    float k[GEN_R], v[GEN_R], dk[GEN_R], dv[GEN_R];
#pragma unroll
    for (int r = 0; r < GEN_R; r++) {
        int d = lane + 32 * r;
        k[r] = d < Dh ? base[(size_t)j * rs + a.D + d] : 0.0f;
        v[r] = d < Dh ? base[(size_t)j * rs + 2 * a.D + d] : 0.0f;
        dk[r] = dv[r] = 0;
    }
    for (int t = j; t < T && t < j + (int)a.W; t++) {
        const float *qr = base + (size_t)t * rs, *gr = a.dout + (rowb + t) * a.D + h * Dh;
        float s = 0, dp = 0;
#pragma unroll
        for (int r = 0; r < GEN_R; r++) {
            int d = lane + 32 * r;
            if (d < Dh) {
                s += qr[d] * qs * k[r];
                dp += gr[d] * v[r];
            }
        }
        s = warp_sum(s);
        dp = warp_sum(dp);
        float p = exp2f(s - sl * (float)(t - j) - a.lse[(rowb + t) * a.H + h]);
        float ds = p * (dp - a.dsum[(rowb + t) * a.H + h]);
#pragma unroll
        for (int r = 0; r < GEN_R; r++) {
            int d = lane + 32 * r;
            if (d < Dh) {
                dv[r] += p * gr[d];
                dk[r] += ds * qr[d] * qs;
            }
        }
    }
#pragma unroll
    for (int r = 0; r < GEN_R; r++) {
        int d = lane + 32 * r;
        if (d < Dh) {
            a.dqkv[(rowb + j) * rs + a.D + h * Dh + d] = dk[r] / LOG2E;
            a.dqkv[(rowb + j) * rs + 2 * a.D + h * Dh + d] = dv[r];
        }
    }
}

} /* namespace */

/* ------------------------------------------------------------ the trainer */

struct cuda_trainer {
    tr_opts o;
    cuda_opts co;
    oz_config a;
    tr_layout lay;
    size_t np, N;
    uint32_t B, T, W, D, F, H, Dh, L;
    uint64_t rng, step;
    int sc_init; /* tr_scales.init: the scales were set by a forward pass */
    int act_q;   /* activation fake quantisation in the current pass */
    /* host copies */
    float *hp, *hg;
    tr_scales hsc;
    float hres;
    /* device: parameters, gradients, AdamW moments, quantised weights (np each) */
    float *p, *g, *m, *v, *wq;
    unsigned long long *row_off;
    unsigned *row_cols, nrows;
    /* device activations, as in train_cpu.c (no attention probabilities: LSE instead) */
    float *X[OZ_MAX_LAYERS + 1], *XM[OZ_MAX_LAYERS], *R1[OZ_MAX_LAYERS], *Y1[OZ_MAX_LAYERS];
    float *QKV[OZ_MAX_LAYERS], *QKVq[OZ_MAX_LAYERS], *O[OZ_MAX_LAYERS], *LSE[OZ_MAX_LAYERS], *Oq[OZ_MAX_LAYERS];
    float *R2[OZ_MAX_LAYERS], *Y2[OZ_MAX_LAYERS], *Hp[OZ_MAX_LAYERS], *Hq[OZ_MAX_LAYERS], *G[OZ_MAX_LAYERS];
    float *Gq[OZ_MAX_LAYERS];
    float *RF, *YF, *LG, *dX, *dXM, *dY, *dQKV, *dO, *dH, *Dsum, *lossrow;
    /* device state: scales [l][q k v h g], their max-abs (+ residual), ... */
    float *sc, *resmax;
    unsigned *mx;
    double *loss, *part;
    /* staging: header | csr offsets (257) | csr positions (N) | tokens (B, T+1) */
    unsigned char *dstage, *hstage[2];
    size_t stage_bytes, off_csr, off_pos, off_tok;
    double *hloss; /* pinned, 2 */
    cudaEvent_t ev_copy[2], ev_done[2];
    cudaStream_t s;
    cublasHandle_t cb;
    cublasComputeType_t ct;
    void *ws;
    cudaGraph_t graph;
    cudaGraphExec_t gexec;
    int graph_state; /* 0 not yet captured, 1 ready, -1 unavailable */
    int capturing;
    float slope2[OZ_MAX_HEADS];
    void *allocs[64 + 16 * OZ_MAX_LAYERS];
    int nallocs;
    int failed;
    char err[512], name[256];
};

namespace {

void set_err(cuda_trainer *t, const char *fmt, ...)
{
    va_list ap;
    if (t->failed)
        return;
    va_start(ap, fmt);
    vsnprintf(t->err, sizeof t->err, fmt, ap);
    va_end(ap);
    if (!t->capturing)
        t->failed = 1;
}

bool ck(cuda_trainer *t, cudaError_t e, const char *what, int line)
{
    if (e == cudaSuccess)
        return true;
    set_err(t, "CUDA error at train_cuda.cu:%d (%s): %s", line, what, cudaGetErrorString(e));
    return false;
}

bool ckb(cuda_trainer *t, cublasStatus_t e, const char *what, int line)
{
    if (e == CUBLAS_STATUS_SUCCESS)
        return true;
    set_err(t, "cuBLAS error at train_cuda.cu:%d (%s): %s", line, what, cublasGetStatusString(e));
    return false;
}

#define CU(x)                                                                                                    \
    do {                                                                                                         \
        if (!ck(t, (x), #x, __LINE__))                                                                           \
            return -1;                                                                                           \
    } while (0)
#define CB(x)                                                                                                    \
    do {                                                                                                         \
        if (!ckb(t, (x), #x, __LINE__))                                                                          \
            return -1;                                                                                           \
    } while (0)
#define LAUNCHED() CU(cudaGetLastError())

unsigned ew_blocks(size_t n)
{
    size_t b = (n + EW_THREADS - 1) / EW_THREADS;
    return (unsigned)(b < 1 ? 1 : (b > 8192 ? 8192 : b));
}

unsigned row_blocks(size_t rows) { return (unsigned)((rows + ROW_THREADS / 32 - 1) / (ROW_THREADS / 32)); }

float *dalloc(cuda_trainer *t, size_t nfloats)
{
    void *p = NULL;
    if (t->nallocs >= (int)(sizeof t->allocs / sizeof t->allocs[0])) {
        set_err(t, "internal: too many device buffers");
        return NULL;
    }
    if (!ck(t, cudaMalloc(&p, (nfloats ? nfloats : 1) * sizeof(float)), "cudaMalloc", __LINE__))
        return NULL;
    t->allocs[t->nallocs++] = p;
    return (float *)p;
}

/* ---- matrix products (row-major tensors; cuBLAS sees their transposes) */

/* out (N, O) = beta out + in (N, K) W^T, W (O, K) */
int mm_fwd(cuda_trainer *t, const float *in, const float *W, float *out, size_t N, size_t O, size_t K, float beta)
{
    const float one = 1.0f;
    CB(cublasGemmEx(t->cb, CUBLAS_OP_T, CUBLAS_OP_N, (int)O, (int)N, (int)K, &one, W, CUDA_R_32F, (int)K, in,
                    CUDA_R_32F, (int)K, &beta, out, CUDA_R_32F, (int)O, t->ct, CUBLAS_GEMM_DEFAULT));
    return 0;
}

/* din (N, K) = dout (N, O) W;  dW (O, K) += dout^T in */
int mm_bwd(cuda_trainer *t, const float *in, const float *W, const float *dout, float *din, float *dW, size_t N,
           size_t O, size_t K)
{
    const float one = 1.0f, zero = 0.0f;
    if (din)
        CB(cublasGemmEx(t->cb, CUBLAS_OP_N, CUBLAS_OP_N, (int)K, (int)N, (int)O, &one, W, CUDA_R_32F, (int)K, dout,
                        CUDA_R_32F, (int)O, &zero, din, CUDA_R_32F, (int)K, t->ct, CUBLAS_GEMM_DEFAULT));
    CB(cublasGemmEx(t->cb, CUBLAS_OP_N, CUBLAS_OP_T, (int)K, (int)O, (int)N, &one, in, CUDA_R_32F, (int)K, dout,
                    CUDA_R_32F, (int)O, &one, dW, CUDA_R_32F, (int)K, t->ct, CUBLAS_GEMM_DEFAULT));
    return 0;
}

/* ---- small launch wrappers */

int rms_fwd(cuda_trainer *t, const float *x, float *r, float *y, size_t N, int upd)
{
    LAUNCH(rms_fwd_kernel, row_blocks(N), ROW_THREADS)(x, r, y, (unsigned)N, t->D, t->act_q,
                                                             upd ? t->mx + 5 * t->L : NULL);
    LAUNCHED();
    return 0;
}

int rms_bwd(cuda_trainer *t, const float *x, const float *r, const float *dy, float *dx, size_t N, int acc)
{
    LAUNCH(rms_bwd_kernel, row_blocks(N), ROW_THREADS)(x, r, dy, dx, (unsigned)N, t->D, t->act_q, acc);
    LAUNCHED();
    return 0;
}

/* scales[0..ngroups) <- EMA of max-abs over column groups of x (rows, cols) */
int update_scales(cuda_trainer *t, const float *x, size_t rows, unsigned cols, unsigned ngroups, unsigned idx,
                  int init)
{
    size_t per = rows * (cols / ngroups);
    LAUNCH(maxabs_kernel, dim3(ew_blocks(per) > 1024 ? 1024 : ew_blocks(per), ngroups), EW_THREADS)(
        x, rows, cols, cols / ngroups, t->mx + idx);
    LAUNCHED();
    LAUNCH(ema_kernel, 1, 32)(t->sc + idx, t->mx + idx, (int)ngroups, init);
    LAUNCHED();
    return 0;
}

int fq_groups(cuda_trainer *t, const float *x, float *y, size_t rows, unsigned cols, unsigned gcols, unsigned idx)
{
    size_t n = rows * cols;
    if (!t->act_q) {
        CU(cudaMemcpyAsync(y, x, n * sizeof(float), cudaMemcpyDeviceToDevice, t->s));
        return 0;
    }
    LAUNCH(fq_groups_kernel, ew_blocks(n), EW_THREADS)(x, y, n, cols, gcols, t->sc + idx);
    LAUNCHED();
    return 0;
}

int ste_groups(cuda_trainer *t, const float *x, float *dx, size_t rows, unsigned cols, unsigned gcols, unsigned idx)
{
    size_t n = rows * cols;
    if (!t->act_q)
        return 0;
    LAUNCH(ste_groups_kernel, ew_blocks(n), EW_THREADS)(x, dx, n, cols, gcols, t->sc + idx);
    LAUNCHED();
    return 0;
}

attn_args attn_of(cuda_trainer *t, uint32_t B, uint32_t l)
{
    attn_args a;
    memset(&a, 0, sizeof a);
    a.qkv = t->QKVq[l];
    a.o = t->O[l];
    a.lse = t->LSE[l];
    a.dout = t->dO;
    a.dqkv = t->dQKV;
    a.dsum = t->Dsum;
    a.B = B;
    a.T = t->T;
    a.D = t->D;
    a.H = t->H;
    a.Dh = t->Dh;
    a.W = t->W;
    a.scale = 1.0f / sqrtf((float)t->Dh);
    memcpy(a.slope2, t->slope2, sizeof a.slope2);
    return a;
}

/* The tiled kernels' padded head width for Dh (16 or 32), 0 where only the
 * generic kernels serve (Dh > 32). */
int attn_tiled_width(unsigned Dh) { return Dh <= 16 ? 16 : (Dh <= 32 ? 32 : 0); }
int attn_tiled_dp(cuda_trainer *t) { return t->co.generic_attn ? 0 : attn_tiled_width(t->Dh); }

/* The attention kernels on a: tiled with padded head width dp (16 or 32),
 * generic for dp 0 (also tests/gpu/attn_check.cu's entry points). */
void attn_fwd_launch(const attn_args &a, int dp, cudaStream_t s)
{
    dim3 grid((a.T + ATT_TQ - 1) / ATT_TQ, a.H, a.B);
    if (dp == 16)
        LAUNCH_ON(attn_fwd_tiled<16>, grid, ATT_TQ, s)(a);
    else if (dp == 32)
        LAUNCH_ON(attn_fwd_tiled<32>, grid, ATT_TQ, s)(a);
    else
        LAUNCH_ON(attn_fwd_generic, row_blocks((size_t)a.B * a.H * a.T), ROW_THREADS, s)(a);
}

void attn_bwd_launch(const attn_args &a, int dp, cudaStream_t s)
{
    dim3 grid((a.T + ATT_TQ - 1) / ATT_TQ, a.H, a.B);
    unsigned gb = row_blocks((size_t)a.B * a.H * a.T);
    if (dp == 16) {
        LAUNCH_ON(attn_dq_tiled<16>, grid, ATT_TQ, s)(a);
        LAUNCH_ON(attn_dkv_tiled<16>, grid, ATT_TQ, s)(a);
    } else if (dp == 32) {
        LAUNCH_ON(attn_dq_tiled<32>, grid, ATT_TQ, s)(a);
        LAUNCH_ON(attn_dkv_tiled<32>, grid, ATT_TQ, s)(a);
    } else {
        LAUNCH_ON(attn_dq_generic, gb, ROW_THREADS, s)(a);
        LAUNCH_ON(attn_dkv_generic, gb, ROW_THREADS, s)(a);
    }
}

int attn_fwd(cuda_trainer *t, uint32_t B, uint32_t l)
{
    attn_fwd_launch(attn_of(t, B, l), attn_tiled_dp(t), t->s);
    LAUNCHED();
    return 0;
}

int attn_bwd(cuda_trainer *t, uint32_t B, uint32_t l)
{
    attn_bwd_launch(attn_of(t, B, l), attn_tiled_dp(t), t->s);
    LAUNCHED();
    return 0;
}

unsigned char *dtok(cuda_trainer *t) { return t->dstage + t->off_tok; }

/* ---- forward, backward, optimiser (train_cpu.c's forward/backward/adamw) */

/* Forward over the staged tokens (B rows). upd: move the activation scales;
 * grad: leave dloss/dlogits in LG. The mean loss (nats) lands in *t->loss. */
int forward(cuda_trainer *t, uint32_t B, int upd, int grad)
{
    const uint32_t D = t->D, F = t->F, L = t->L, T = t->T;
    const size_t N = (size_t)B * T;
    const int init = !t->sc_init;
    t->act_q = t->o.qat && (t->sc_init || upd);
    if (upd)
        CU(cudaMemsetAsync(t->mx, 0, (5 * L + 1) * sizeof(unsigned), t->s));
    if (t->o.qat) {
        LAUNCH(fq_weights_kernel, row_blocks(t->nrows), ROW_THREADS)(
            t->p, t->wq, t->row_off, t->row_cols, t->nrows, (float)((1 << (t->a.wbits - 1)) - 1));
        LAUNCHED();
    } else {
        CU(cudaMemcpyAsync(t->wq, t->p, t->np * sizeof(float), cudaMemcpyDeviceToDevice, t->s));
    }
    LAUNCH(embed_kernel, ew_blocks(N * D), EW_THREADS)(dtok(t), t->wq + t->lay.emb, t->X[0], T, D, N * D);
    LAUNCHED();
    for (uint32_t l = 0; l < L; l++) {
        const unsigned si = 5 * l; /* scales of this layer: q k v h g */
        if (rms_fwd(t, t->X[l], t->R1[l], t->Y1[l], N, upd) ||
            mm_fwd(t, t->Y1[l], t->wq + t->lay.wqkv[l], t->QKV[l], N, 3 * D, D, 0.0f))
            return -1;
        if (upd && update_scales(t, t->QKV[l], N, 3 * D, 3, si, init))
            return -1;
        if (fq_groups(t, t->QKV[l], t->QKVq[l], N, 3 * D, D, si) || attn_fwd(t, B, l) ||
            fq_groups(t, t->O[l], t->Oq[l], N, D, D, si + 2))
            return -1;
        CU(cudaMemcpyAsync(t->XM[l], t->X[l], N * D * sizeof(float), cudaMemcpyDeviceToDevice, t->s));
        if (mm_fwd(t, t->Oq[l], t->wq + t->lay.wo[l], t->XM[l], N, D, D, 1.0f) ||
            rms_fwd(t, t->XM[l], t->R2[l], t->Y2[l], N, upd) ||
            mm_fwd(t, t->Y2[l], t->wq + t->lay.w1[l], t->Hp[l], N, F, D, 0.0f))
            return -1;
        if (upd && update_scales(t, t->Hp[l], N, F, 1, si + 3, init))
            return -1;
        LAUNCH(act_fwd_kernel, ew_blocks(N * F), EW_THREADS)(t->Hp[l], t->Hq[l], t->G[l], N * F,
                                                                  t->sc + si + 3, t->act_q,
                                                                  upd ? t->mx + si + 4 : NULL);
        LAUNCHED();
        if (upd) {
            LAUNCH(ema_kernel, 1, 32)(t->sc + si + 4, t->mx + si + 4, 1, init);
            LAUNCHED();
        }
        if (fq_groups(t, t->G[l], t->Gq[l], N, F, F, si + 4))
            return -1;
        CU(cudaMemcpyAsync(t->X[l + 1], t->XM[l], N * D * sizeof(float), cudaMemcpyDeviceToDevice, t->s));
        if (mm_fwd(t, t->Gq[l], t->wq + t->lay.w2[l], t->X[l + 1], N, D, F, 1.0f))
            return -1;
    }
    if (rms_fwd(t, t->X[L], t->RF, t->YF, N, upd))
        return -1;
    if (upd) {
        LAUNCH(res_update_kernel, 1, 1)(t->resmax, t->mx + 5 * L, init);
        LAUNCHED();
        t->sc_init = 1;
    }
    if (mm_fwd(t, t->YF, t->wq + t->lay.head, t->LG, N, 256, D, 0.0f))
        return -1;
    LAUNCH(softmax_ce_kernel, row_blocks(N), ROW_THREADS)(t->LG, dtok(t), t->lossrow, (unsigned)N, T, grad);
    LAUNCHED();
    LAUNCH(mean_kernel, 1, 1024)(t->lossrow, (unsigned)N, t->loss);
    LAUNCHED();
    return 0;
}

/* Gradients of the last forward (with grad) into g; needs the staged csr. */
int backward(cuda_trainer *t, uint32_t B)
{
    const uint32_t D = t->D, F = t->F, L = t->L;
    const size_t N = (size_t)B * t->T;
    float *g = t->g;
    CU(cudaMemsetAsync(g, 0, t->np * sizeof(float), t->s));
    if (mm_bwd(t, t->YF, t->wq + t->lay.head, t->LG, t->dY, g + t->lay.head, N, 256, D) ||
        rms_bwd(t, t->X[L], t->RF, t->dY, t->dX, N, 0))
        return -1;
    for (uint32_t l = L; l-- > 0;) {
        const unsigned si = 5 * l;
        if (mm_bwd(t, t->Gq[l], t->wq + t->lay.w2[l], t->dX, t->dH, g + t->lay.w2[l], N, D, F))
            return -1;
        LAUNCH(act_bwd_kernel, ew_blocks(N * F), EW_THREADS)(t->Hp[l], t->Hq[l], t->G[l], t->dH, N * F,
                                                                  t->sc + si + 3, t->sc + si + 4, t->act_q);
        LAUNCHED();
        if (mm_bwd(t, t->Y2[l], t->wq + t->lay.w1[l], t->dH, t->dY, g + t->lay.w1[l], N, F, D))
            return -1;
        CU(cudaMemcpyAsync(t->dXM, t->dX, N * D * sizeof(float), cudaMemcpyDeviceToDevice, t->s));
        if (rms_bwd(t, t->XM[l], t->R2[l], t->dY, t->dXM, N, 1) ||
            mm_bwd(t, t->Oq[l], t->wq + t->lay.wo[l], t->dXM, t->dO, g + t->lay.wo[l], N, D, D) ||
            ste_groups(t, t->O[l], t->dO, N, D, D, si + 2) || attn_bwd(t, B, l) ||
            ste_groups(t, t->QKV[l], t->dQKV, N, 3 * D, D, si) ||
            mm_bwd(t, t->Y1[l], t->wq + t->lay.wqkv[l], t->dQKV, t->dY, g + t->lay.wqkv[l], N, 3 * D, D))
            return -1;
        CU(cudaMemcpyAsync(t->dX, t->dXM, N * D * sizeof(float), cudaMemcpyDeviceToDevice, t->s));
        if (rms_bwd(t, t->X[l], t->R1[l], t->dY, t->dX, N, 1))
            return -1;
    }
    LAUNCH(embed_bwd_kernel, dim3(256, (D + 127) / 128), 128)(
        t->dX, (const int *)(t->dstage + t->off_csr), (const int *)(t->dstage + t->off_pos), g + t->lay.emb, D);
    LAUNCHED();
    return 0;
}

int adamw(cuda_trainer *t)
{
    LAUNCH(sumsq_kernel, NPART, 256)(t->g, t->np, t->part);
    LAUNCHED();
    LAUNCH(adamw_kernel, ew_blocks(t->np), 256)(t->p, t->g, t->m, t->v, t->np, t->part,
                                                    (const stage_hdr *)t->dstage, t->o.beta1, t->o.beta2,
                                                    (float)t->o.wd, t->o.clip, t->lay.emb,
                                                    t->lay.emb + 256 * (size_t)t->D);
    LAUNCHED();
    return 0;
}

/* One optimiser step on the staged full batch. */
int train_step(cuda_trainer *t)
{
    if (forward(t, t->B, 1, 1) || backward(t, t->B) || adamw(t))
        return -1;
    return 0;
}

/* Runs one training step: the first directly (it initialises the scales),
 * later ones by replaying a graph captured from the second. */
int run_train_step(cuda_trainer *t)
{
    if (t->graph_state == 0 && t->sc_init && !t->co.no_graph) {
        cudaError_t e;
        t->graph_state = -1;
        t->capturing = 1;
        e = cudaStreamBeginCapture(t->s, cudaStreamCaptureModeThreadLocal);
        if (e == cudaSuccess) {
            int rc = train_step(t);
            e = cudaStreamEndCapture(t->s, &t->graph);
            if (rc == 0 && e == cudaSuccess && t->graph &&
                cudaGraphInstantiate(&t->gexec, t->graph, 0) == cudaSuccess)
                t->graph_state = 1;
        }
        t->capturing = 0;
        if (t->graph_state != 1) {
            /* not fatal: keep launching directly */
            (void)cudaGetLastError();
            t->err[0] = 0;
        }
    }
    if (t->graph_state == 1) {
        CU(cudaGraphLaunch(t->gexec, t->s));
        return 0;
    }
    return train_step(t);
}

/* Counting sort of the B*T input positions by byte: off (257), pos (N), in
 * position order within a byte (the CPU trainer's summation order). */
void build_csr(const uint8_t *tok, uint32_t B, uint32_t T, int *off, int *pos)
{
    int cnt[257];
    uint32_t b, tt;
    memset(cnt, 0, sizeof cnt);
    for (b = 0; b < B; b++)
        for (tt = 0; tt < T; tt++)
            cnt[tok[(size_t)b * (T + 1) + tt] + 1]++;
    off[0] = 0;
    for (int v = 0; v < 256; v++)
        off[v + 1] = off[v] + cnt[v + 1];
    memcpy(cnt, off, 256 * sizeof(int));
    for (b = 0; b < B; b++)
        for (tt = 0; tt < T; tt++)
            pos[cnt[tok[(size_t)b * (T + 1) + tt]]++] = (int)(b * T + tt);
}

/* Fills staging slot k (tokens already in place) and queues its copy. */
int stage_send(cuda_trainer *t, int k, uint32_t B, int csr, double lr)
{
    unsigned char *h = t->hstage[k];
    stage_hdr *hd = (stage_hdr *)h;
    size_t bytes = t->off_tok + (size_t)B * (t->T + 1);
    hd->lr = lr;
    hd->c1 = 1 - pow(t->o.beta1, (double)t->step);
    hd->c2 = 1 - pow(t->o.beta2, (double)t->step);
    hd->B = B;
    if (csr)
        build_csr(h + t->off_tok, B, t->T, (int *)(h + t->off_csr), (int *)(h + t->off_pos));
    CU(cudaMemcpyAsync(t->dstage, h, bytes, cudaMemcpyHostToDevice, t->s));
    CU(cudaEventRecord(t->ev_copy[k], t->s));
    return 0;
}

/* Explicit windows (tests, eval): waits for slot 0, stages tok (B, T+1). */
int stage_tokens(cuda_trainer *t, const uint8_t *tok, uint32_t B, int csr)
{
    CU(cudaEventSynchronize(t->ev_copy[0]));
    memcpy(t->hstage[0] + t->off_tok, tok, (size_t)B * (t->T + 1));
    return stage_send(t, 0, B, csr, 0.0);
}

double read_loss(cuda_trainer *t)
{
    if (!ck(t, cudaMemcpyAsync(t->hloss, t->loss, sizeof(double), cudaMemcpyDeviceToHost, t->s), "loss copy",
            __LINE__) ||
        !ck(t, cudaStreamSynchronize(t->s), "cudaStreamSynchronize", __LINE__))
        return -1;
    return t->hloss[0];
}

int download(cuda_trainer *t, void *dst, const void *src, size_t bytes)
{
    CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, t->s));
    CU(cudaStreamSynchronize(t->s));
    return 0;
}

void free_all(cuda_trainer *t)
{
    int i;
    if (t->gexec)
        cudaGraphExecDestroy(t->gexec);
    if (t->graph)
        cudaGraphDestroy(t->graph);
    for (i = 0; i < t->nallocs; i++)
        cudaFree(t->allocs[i]);
    for (i = 0; i < 2; i++) {
        if (t->hstage[i])
            cudaFreeHost(t->hstage[i]);
        if (t->ev_copy[i])
            cudaEventDestroy(t->ev_copy[i]);
        if (t->ev_done[i])
            cudaEventDestroy(t->ev_done[i]);
    }
    if (t->hloss)
        cudaFreeHost(t->hloss);
    if (t->ws)
        cudaFree(t->ws);
    if (t->cb)
        cublasDestroy(t->cb);
    if (t->s)
        cudaStreamDestroy(t->s);
    free(t->hp);
    free(t->hg);
}

int check_shape(const tr_opts *o, char *err, size_t n)
{
    const oz_config *a = &o->arch;
    if (a->n_layer < 1 || a->n_layer > OZ_MAX_LAYERS || a->d_model < 16 || a->d_model > OZ_MAX_DMODEL ||
        a->n_head < 1 || a->n_head > OZ_MAX_HEADS || a->d_model % a->n_head || a->d_model / a->n_head > OZ_MAX_DHEAD ||
        a->d_ff < 16 || a->d_ff > OZ_MAX_DFF || a->ctx < 1 || a->ctx > OZ_MAX_CTX || a->wbits < 2 || a->wbits > 8 ||
        o->seq < 1 || o->batch < 1) {
        snprintf(err, n, "model shape or batch outside the CUDA trainer's limits");
        return -1;
    }
    return 0;
}

/* Everything the constructor allocates on the device and host; -1 on failure. */
int setup(cuda_trainer *t)
{
    const size_t N = t->N, D = t->D, F = t->F, H = t->H;
    const uint32_t L = t->L;
    size_t need, fr = 0, tot = 0;
    cudaDeviceProp prop;
    uint32_t r = 0, l, i;
    unsigned long long *roff;
    unsigned *rcols;
    CU(cudaSetDevice(0));
    CU(cudaGetDeviceProperties(&prop, 0));
    snprintf(t->name, sizeof t->name, "%s", prop.name);
    /* floats: 5 parameter-sized arrays; per position, per layer X XM Y1 O Oq Y2
     * (D each), QKV QKVq (3D), Hp Hq G Gq (F), R1 R2, LSE (H); then X[L], RF,
     * YF, LG (256), dX dXM dY dO (D), dQKV (3D), dH (F), Dsum (H), lossrow */
    need = (5 * t->np +
            N * (L * (12 * D + 4 * F + 2 + H) + D + 1 + D + 256 + 4 * D + 3 * D + F + H + 1)) * sizeof(float);
    CU(cudaMemGetInfo(&fr, &tot));
    if (need + CUBLAS_WS + ((size_t)64 << 20) > fr) {
        set_err(t, "the model and a batch of %u x %u need %.2f GiB of GPU memory; %.2f GiB are free", t->B, t->T,
                need / 1073741824.0, fr / 1073741824.0);
        return -1;
    }
    CU(cudaStreamCreateWithFlags(&t->s, cudaStreamNonBlocking));
    CB(cublasCreate(&t->cb));
    CB(cublasSetStream(t->cb, t->s));
    CU(cudaMalloc(&t->ws, CUBLAS_WS));
    CB(cublasSetWorkspace(t->cb, t->ws, CUBLAS_WS));
    CB(cublasSetMathMode(t->cb, t->co.fp32_math ? CUBLAS_DEFAULT_MATH : CUBLAS_TF32_TENSOR_OP_MATH));
    t->ct = t->co.fp32_math ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_FAST_TF32;
#define A(ptr, n)                                                                                                \
    do {                                                                                                         \
        if (!((ptr) = dalloc(t, (n))))                                                                           \
            return -1;                                                                                           \
    } while (0)
    A(t->p, t->np);
    A(t->g, t->np);
    A(t->m, t->np);
    A(t->v, t->np);
    A(t->wq, t->np);
    for (l = 0; l <= L; l++) {
        A(t->X[l], N * D);
        if (l == L)
            break;
        A(t->XM[l], N * D);
        A(t->R1[l], N);
        A(t->Y1[l], N * D);
        A(t->QKV[l], N * 3 * D);
        A(t->QKVq[l], N * 3 * D);
        A(t->O[l], N * D);
        A(t->LSE[l], N * H);
        A(t->Oq[l], N * D);
        A(t->R2[l], N);
        A(t->Y2[l], N * D);
        A(t->Hp[l], N * F);
        A(t->Hq[l], N * F);
        A(t->G[l], N * F);
        A(t->Gq[l], N * F);
    }
    A(t->RF, N);
    A(t->YF, N * D);
    A(t->LG, N * 256);
    A(t->dX, N * D);
    A(t->dXM, N * D);
    A(t->dY, N * D);
    A(t->dQKV, N * 3 * D);
    A(t->dO, N * D);
    A(t->dH, N * F);
    A(t->Dsum, N * H);
    A(t->lossrow, N);
    A(t->sc, 5 * L);
    A(t->resmax, 1);
    t->mx = (unsigned *)dalloc(t, 5 * L + 1);
    t->loss = (double *)dalloc(t, 2);
    t->part = (double *)dalloc(t, 2 * NPART);
    if (!t->mx || !t->loss || !t->part)
        return -1;
    /* weight rows for the per-row fake quantisation */
    t->nrows = 256 * ((t->a.flags & OZ_CFG_TIED) ? 1 : 2) + L * (5 * D + F);
    roff = (unsigned long long *)malloc(t->nrows * sizeof *roff);
    rcols = (unsigned *)malloc(t->nrows * sizeof *rcols);
    if (!roff || !rcols) {
        free(roff);
        free(rcols);
        set_err(t, "out of host memory");
        return -1;
    }
    {
        /* every tensor is (rows, cols) row-major and the tensors are contiguous */
        size_t off = 0;
        uint32_t k;
        uint32_t nt = 0, rows[2 + 4 * OZ_MAX_LAYERS], cols[2 + 4 * OZ_MAX_LAYERS];
        rows[nt] = 256, cols[nt++] = (uint32_t)D;
        if (!(t->a.flags & OZ_CFG_TIED))
            rows[nt] = 256, cols[nt++] = (uint32_t)D;
        for (l = 0; l < L; l++) {
            rows[nt] = 3 * (uint32_t)D, cols[nt++] = (uint32_t)D;
            rows[nt] = (uint32_t)D, cols[nt++] = (uint32_t)D;
            rows[nt] = (uint32_t)F, cols[nt++] = (uint32_t)D;
            rows[nt] = (uint32_t)D, cols[nt++] = (uint32_t)F;
        }
        for (k = 0; k < nt; k++)
            for (i = 0; i < rows[k]; i++, r++) {
                roff[r] = off;
                rcols[r] = cols[k];
                off += cols[k];
            }
    }
    t->row_off = (unsigned long long *)dalloc(t, 2 * (size_t)t->nrows);
    t->row_cols = (unsigned *)dalloc(t, t->nrows);
    if (!t->row_off || !t->row_cols ||
        !ck(t, cudaMemcpy(t->row_off, roff, t->nrows * sizeof *roff, cudaMemcpyHostToDevice), "rows", __LINE__) ||
        !ck(t, cudaMemcpy(t->row_cols, rcols, t->nrows * sizeof *rcols, cudaMemcpyHostToDevice), "rows",
            __LINE__)) {
        free(roff);
        free(rcols);
        return -1;
    }
    free(roff);
    free(rcols);
    /* staging */
    t->off_csr = 64;
    t->off_pos = t->off_csr + 1088;
    t->off_tok = t->off_pos + 4 * N;
    t->stage_bytes = t->off_tok + (size_t)t->B * (t->T + 1);
    t->dstage = (unsigned char *)dalloc(t, (t->stage_bytes + 3) / 4);
    if (!t->dstage)
        return -1;
    for (i = 0; i < 2; i++) {
        CU(cudaHostAlloc((void **)&t->hstage[i], t->stage_bytes, cudaHostAllocDefault));
        memset(t->hstage[i], 0, t->stage_bytes);
        CU(cudaEventCreateWithFlags(&t->ev_copy[i], cudaEventDisableTiming));
        CU(cudaEventCreateWithFlags(&t->ev_done[i], cudaEventDisableTiming));
        CU(cudaEventRecord(t->ev_copy[i], t->s));
    }
    CU(cudaHostAlloc((void **)&t->hloss, 2 * sizeof(double), cudaHostAllocDefault));
    /* state */
    CU(cudaMemcpy(t->p, t->hp, t->np * sizeof(float), cudaMemcpyHostToDevice));
    CU(cudaMemset(t->m, 0, t->np * sizeof(float)));
    CU(cudaMemset(t->v, 0, t->np * sizeof(float)));
    CU(cudaMemset(t->g, 0, t->np * sizeof(float)));
    CU(cudaMemset(t->sc, 0, 5 * L * sizeof(float)));
    CU(cudaMemset(t->resmax, 0, sizeof(float)));
    CU(cudaDeviceSynchronize());
    return 0;
#undef A
}

/* ------------------------------------------------------------ the API */

cuda_trainer *cuda_trainer_new(const tr_opts *o, const cuda_opts *co, char *err, size_t n)
{
    cuda_trainer *t;
    uint32_t h;
    if (check_shape(o, err, n))
        return NULL;
    t = (cuda_trainer *)calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, n, "out of host memory");
        return NULL;
    }
    t->o = *o;
    if (co)
        t->co = *co;
    t->a = o->arch;
    tr_layout_of(&t->a, &t->lay);
    t->np = t->lay.total;
    t->L = t->a.n_layer;
    t->D = t->a.d_model;
    t->F = t->a.d_ff;
    t->H = t->a.n_head;
    t->Dh = t->D / t->H;
    t->W = t->a.ctx;
    t->B = o->batch;
    t->T = o->seq;
    t->N = (size_t)t->B * t->T;
    for (h = 0; h < t->H; h++)
        t->slope2[h] = tr_alibi_nats(tr_alibi_slope(h, t->H)) * LOG2E;
    t->hp = (float *)malloc(t->np * sizeof(float));
    t->hg = (float *)malloc(t->np * sizeof(float));
    if (!t->hp || !t->hg) {
        free(t->hp);
        free(t->hg);
        free(t);
        snprintf(err, n, "out of host memory");
        return NULL;
    }
    /* the CPU trainer's initialisation, from the same generator */
    t->rng = tr_rng_seed(o->seed);
    tr_init_params(&t->a, &t->rng, t->hp);
    if (setup(t)) {
        snprintf(err, n, "%s", t->err[0] ? t->err : "cannot set up the CUDA trainer");
        free_all(t);
        free(t);
        return NULL;
    }
    return t;
}

void cuda_trainer_free(cuda_trainer *t)
{
    if (!t)
        return;
    if (t->s)
        cudaStreamSynchronize(t->s);
    free_all(t);
    free(t);
}

/* Loss of step s (already queued): waits for it, keeps the tail mean and
 * calls the progress callback. Returns nonzero to stop. */
int report(cuda_trainer *t, uint64_t s, uint64_t tail, double *tail_sum, uint64_t *ntail, tr_progress_fn cb,
           void *ctx)
{
    double loss;
    if (!ck(t, cudaEventSynchronize(t->ev_done[s & 1]), "step", __LINE__))
        return 1;
    loss = t->hloss[s & 1];
    if (s + tail >= t->o.steps) {
        *tail_sum += loss;
        (*ntail)++;
    }
    return cb && cb(ctx, s + 1, t->o.steps, loss / log(2.0));
}

double cuda_trainer_fit(cuda_trainer *t, const uint8_t *data, size_t n, tr_progress_fn cb, void *ctx)
{
    const uint32_t T = t->T, B = t->B;
    uint64_t s = 0, tail = t->o.steps / 20 + 1, ntail = 0;
    double tail_sum = 0;
    int stop = 0;
    if (t->failed || n < (size_t)T + 1)
        return -1;
    /* Step s is queued before the loss of step s-1 is read, so the host draws
     * the next windows while the GPU trains. */
    while (s < t->o.steps && !stop) {
        int k = (int)(s & 1);
        if (!ck(t, cudaEventSynchronize(t->ev_copy[k]), "staging", __LINE__))
            return -1;
        tr_sample_windows(&t->rng, data, n, T, B, t->hstage[k] + t->off_tok);
        t->step++;
        if (stage_send(t, k, B, 1, tr_lr_at(&t->o, s)) || run_train_step(t) ||
            !ck(t, cudaMemcpyAsync(&t->hloss[k], t->loss, sizeof(double), cudaMemcpyDeviceToHost, t->s), "loss",
                __LINE__) ||
            !ck(t, cudaEventRecord(t->ev_done[k], t->s), "event", __LINE__))
            return -1;
        if (s > 0)
            stop = report(t, s - 1, tail, &tail_sum, &ntail, cb, ctx);
        s++;
    }
    if (t->failed || !ck(t, cudaStreamSynchronize(t->s), "cudaStreamSynchronize", __LINE__))
        return -1;
    if (!stop && s > 0)
        report(t, s - 1, tail, &tail_sum, &ntail, cb, ctx);
    if (t->failed)
        return -1;
    return ntail ? tail_sum / ntail / log(2.0) : -1;
}

void cuda_trainer_set_steps(cuda_trainer *t, uint64_t steps) { t->o.steps = steps ? steps : 1; }

double cuda_trainer_loss_grad(cuda_trainer *t, const uint8_t *tok, uint32_t B, int update_scales)
{
    if (t->failed)
        return -1;
    if (B > t->B)
        B = t->B;
    if (stage_tokens(t, tok, B, 1) || forward(t, B, update_scales, 1) || backward(t, B))
        return -1;
    return read_loss(t);
}

double cuda_trainer_loss(cuda_trainer *t, const uint8_t *tok, uint32_t B)
{
    if (t->failed)
        return -1;
    if (B > t->B)
        B = t->B;
    if (stage_tokens(t, tok, B, 0) || forward(t, B, 0, 0))
        return -1;
    return read_loss(t);
}

double eval_loss(void *t, const uint8_t *tok, uint32_t b) { return cuda_trainer_loss((cuda_trainer *)t, tok, b); }

double cuda_trainer_eval(cuda_trainer *t, const uint8_t *data, size_t n)
{
    return t->failed ? -1 : tr_eval_windows(data, n, t->T, t->B, eval_loss, t);
}

float *cuda_trainer_params(cuda_trainer *t)
{
    return download(t, t->hp, t->p, t->np * sizeof(float)) ? NULL : t->hp;
}

int cuda_trainer_params_changed(cuda_trainer *t)
{
    /* on the trainer's stream: a plain cudaMemcpy would not wait for it */
    CU(cudaMemcpyAsync(t->p, t->hp, t->np * sizeof(float), cudaMemcpyHostToDevice, t->s));
    CU(cudaStreamSynchronize(t->s));
    return 0;
}

float *cuda_trainer_grads(cuda_trainer *t)
{
    return download(t, t->hg, t->g, t->np * sizeof(float)) ? NULL : t->hg;
}

tr_scales *cuda_trainer_scales(cuda_trainer *t)
{
    float sc[5 * OZ_MAX_LAYERS];
    if (download(t, sc, t->sc, 5 * t->L * sizeof(float)))
        return NULL;
    for (uint32_t l = 0; l < t->L; l++) {
        t->hsc.q[l] = sc[5 * l];
        t->hsc.k[l] = sc[5 * l + 1];
        t->hsc.v[l] = sc[5 * l + 2];
        t->hsc.h[l] = sc[5 * l + 3];
        t->hsc.g[l] = sc[5 * l + 4];
    }
    t->hsc.init = t->sc_init;
    return &t->hsc;
}

float cuda_trainer_res_max(cuda_trainer *t)
{
    if (download(t, &t->hres, t->resmax, sizeof(float)))
        return -1;
    return t->hres;
}

const char *cuda_trainer_error(cuda_trainer *t) { return t->err; }

const char *cuda_trainer_device(cuda_trainer *t) { return t->name; }

/* Is GPU 0 usable? Checks, in order, what a user can act on. */
int cuda_probe(char *msg, size_t n)
{
    int cnt = 0, drv = 0;
    cudaError_t e;
    cudaDeviceProp prop;
    if (!dlopen("libcuda.so.1", RTLD_LAZY | RTLD_GLOBAL)) {
        snprintf(msg, n, "no NVIDIA driver (libcuda.so.1 not found)");
        return 0;
    }
    e = cudaGetDeviceCount(&cnt);
    if (e == cudaErrorInsufficientDriver) {
        cudaDriverGetVersion(&drv);
        snprintf(msg, n, "the NVIDIA driver (CUDA %d.%d) is older than this build's CUDA %d.%d runtime", drv / 1000,
                 drv % 1000 / 10, CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10);
        return 0;
    }
    if (e == cudaErrorNoDevice || (e == cudaSuccess && cnt == 0)) {
        snprintf(msg, n, "no CUDA GPU found (the driver is installed)");
        return 0;
    }
    if (e != cudaSuccess) {
        snprintf(msg, n, "CUDA cannot start: %s", cudaGetErrorString(e));
        return 0;
    }
    if ((e = cudaGetDeviceProperties(&prop, 0)) != cudaSuccess) {
        snprintf(msg, n, "CUDA cannot read GPU 0: %s", cudaGetErrorString(e));
        return 0;
    }
    if (prop.major < 8) {
        snprintf(msg, n, "GPU 0 (%s, sm_%d%d) is older than this build supports (sm_80 and newer)", prop.name,
                 prop.major, prop.minor);
        return 0;
    }
    if ((e = cudaSetDevice(0)) != cudaSuccess || (e = cudaFree(0)) != cudaSuccess) {
        snprintf(msg, n, "GPU 0 (%s) cannot be used: %s", prop.name, cudaGetErrorString(e));
        return 0;
    }
    cudaDriverGetVersion(&drv);
    snprintf(msg, n, "%s (sm_%d%d, %d SMs, %.0f GiB), driver CUDA %d.%d", prop.name, prop.major, prop.minor,
             prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0, drv / 1000, drv % 1000 / 10);
    return 1;
}

char build_desc[128];

} /* namespace */

OZ_EXPORT const oz_cuda_api *oz_cuda_get_api(void)
{
    static oz_cuda_api api;
    if (!api.version) {
        int v = 0;
        cublasGetProperty(MAJOR_VERSION, &v);
        snprintf(build_desc, sizeof build_desc, "CUDA %d.%d runtime (static), cuBLAS %d, kernels %s",
                 CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10, v, OZ_CUDA_ARCHS);
        api.opts_size = sizeof(tr_opts);
        api.scales_size = sizeof(tr_scales);
        api.build = build_desc;
        api.probe = cuda_probe;
        api.create = cuda_trainer_new;
        api.destroy = cuda_trainer_free;
        api.fit = cuda_trainer_fit;
        api.set_steps = cuda_trainer_set_steps;
        api.loss_grad = cuda_trainer_loss_grad;
        api.loss = cuda_trainer_loss;
        api.eval = cuda_trainer_eval;
        api.params = cuda_trainer_params;
        api.params_changed = cuda_trainer_params_changed;
        api.grads = cuda_trainer_grads;
        api.scales = cuda_trainer_scales;
        api.res_max = cuda_trainer_res_max;
        api.error = cuda_trainer_error;
        api.device = cuda_trainer_device;
        api.version = OZ_CUDA_API_VERSION;
    }
    return &api;
}
