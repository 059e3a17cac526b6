/* emu.h - a CPU emulation of the part of CUDA and cuBLAS that
 * gpu_train/train_cuda.cu uses, so that the real trainer source (kernels and
 * host code) runs and is tested where no GPU is: CI, and every `make test`.
 *
 * Built with: g++ -x c++ -DOZ_CUDA_EMU -include tests/cuda_emu/emu.h
 * gpu_train/train_cuda.cu tests/cuda_emu/emu.cpp (the Makefile's
 * build/tests/emu/libozip_cuda.so).
 *
 * Model: the blocks of a launch run one after another; the threads of a block
 * are cooperative contexts (ucontext) that all run up to their next barrier
 * (__syncthreads, __syncwarp, each half of a warp shuffle) before any goes on,
 * so static "shared" arrays and shuffles behave as on a GPU for code whose
 * barriers are reached uniformly (which CUDA requires anyway). Device memory
 * is host memory, poisoned with 0xff bytes (NaN) when allocated, so a kernel
 * that reads what nothing wrote shows up as NaN. Streams and events are
 * synchronous; stream capture records the operations and a graph launch
 * replays them, with kernel arguments fixed at capture as in CUDA. cuBLAS
 * GEMM is a plain loop, with TF32 input rounding in the TF32 compute mode.
 *
 * What it cannot show: races between blocks (they never overlap here), code
 * that relies on warp-synchronous execution without a barrier, performance,
 * and anything about the real cuBLAS or driver. */
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <functional>
#include <tuple>
#include <vector>

using std::max;
using std::min;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(x)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define CUDART_VERSION 13000

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct alignas(16) float4 {
    float x, y, z, w;
};

extern dim3 threadIdx, blockIdx, blockDim, gridDim;

/* ---- scheduler: the running thread's index, and the switch to the next */
extern int emu_cur;
extern float emu_slots[32][32];
void emu_yield();
static inline void __syncthreads() { emu_yield(); }
static inline void __syncwarp() { emu_yield(); }
static inline float __shfl_xor_sync(unsigned, float v, int o)
{
    int lane = emu_cur & 31, w = emu_cur >> 5;
    emu_slots[w][lane] = v;
    emu_yield();
    float r = emu_slots[w][lane ^ o];
    emu_yield();
    return r;
}
static inline unsigned atomicMax(unsigned *p, unsigned v)
{
    unsigned o = *p;
    if (v > o)
        *p = v;
    return o;
}
static inline unsigned __float_as_uint(float f)
{
    unsigned u;
    memcpy(&u, &f, 4);
    return u;
}
static inline float __uint_as_float(unsigned u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void emu_run(dim3 grid, dim3 block, std::function<void()> f);
extern int emu_capturing;
extern std::vector<std::function<void()>> *emu_capture;
static inline void emu_op(std::function<void()> f)
{
    if (emu_capturing)
        emu_capture->push_back(f);
    else
        f();
}
/* LAUNCH(kernel, grid, block)(args...) and LAUNCH_ON(..., stream)(args...)
 * (the stream is ignored: every operation is synchronous): arguments are
 * evaluated at the launch (or capture), as CUDA does. */
template <class K> struct emu_launcher {
    K k;
    dim3 g, b;
    template <class... A> void operator()(A... a) const
    {
        auto args = std::make_tuple(a...);
        K fn = k;
        dim3 gg = g, bb = b;
        emu_op([=]() { emu_run(gg, bb, [=]() { std::apply(fn, args); }); });
    }
};
template <class K> emu_launcher<K> emu_make_launcher(K k, dim3 g, dim3 b) { return emu_launcher<K>{k, g, b}; }
#define LAUNCH_ON(kernel, grid, block, stream) emu_make_launcher(kernel, dim3(grid), dim3(block))
#define LAUNCH(kernel, grid, block) LAUNCH_ON(kernel, grid, block, 0)

/* ---- runtime */
typedef int cudaError_t;
enum {
    cudaSuccess = 0,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
    cudaErrorStreamCaptureUnsupported = 900
};
typedef void *cudaStream_t;
typedef void *cudaEvent_t;
struct emu_graph {
    std::vector<std::function<void()>> ops;
};
typedef emu_graph *cudaGraph_t;
typedef emu_graph *cudaGraphExec_t;
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
enum { cudaStreamNonBlocking = 1, cudaEventDisableTiming = 2, cudaHostAllocDefault = 0,
       cudaStreamCaptureModeThreadLocal = 1 };
struct cudaDeviceProp {
    char name[256];
    int major, minor, multiProcessorCount;
    size_t totalGlobalMem;
};
const char *cudaGetErrorString(cudaError_t e);
cudaError_t cudaMalloc(void **p, size_t n);
cudaError_t cudaFree(void *p);
cudaError_t cudaHostAlloc(void **p, size_t n, int);
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind);
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind, cudaStream_t);
cudaError_t cudaMemset(void *d, int v, size_t n);
cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t);
cudaError_t cudaMemGetInfo(size_t *fr, size_t *tot);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int);
cudaError_t cudaGetDeviceCount(int *n);
cudaError_t cudaDriverGetVersion(int *v);
cudaError_t cudaSetDevice(int);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetLastError();
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, int);
cudaError_t cudaStreamDestroy(cudaStream_t);
cudaError_t cudaStreamSynchronize(cudaStream_t);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, int);
cudaError_t cudaEventDestroy(cudaEvent_t);
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t);
cudaError_t cudaEventSynchronize(cudaEvent_t);
cudaError_t cudaStreamBeginCapture(cudaStream_t, int);
cudaError_t cudaStreamEndCapture(cudaStream_t, cudaGraph_t *g);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *e, cudaGraph_t g, int);
cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t);
cudaError_t cudaGraphDestroy(cudaGraph_t);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t);

/* ---- cuBLAS */
typedef int cublasStatus_t;
typedef void *cublasHandle_t;
enum { CUBLAS_STATUS_SUCCESS = 0 };
typedef enum { CUBLAS_OP_N, CUBLAS_OP_T } cublasOperation_t;
typedef enum { CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_FAST_TF32 } cublasComputeType_t;
enum { CUBLAS_DEFAULT_MATH, CUBLAS_TF32_TENSOR_OP_MATH };
enum { CUDA_R_32F };
enum { CUBLAS_GEMM_DEFAULT };
enum { MAJOR_VERSION };
cublasStatus_t cublasCreate(cublasHandle_t *h);
cublasStatus_t cublasDestroy(cublasHandle_t h);
cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t);
cublasStatus_t cublasSetWorkspace(cublasHandle_t, void *, size_t);
cublasStatus_t cublasSetMathMode(cublasHandle_t, int);
cublasStatus_t cublasGetProperty(int, int *v);
const char *cublasGetStatusString(cublasStatus_t);
cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const float *alpha, const void *A, int, int lda, const void *B, int, int ldb,
                            const float *beta, void *C, int, int ldc, cublasComputeType_t ct, int);
