/* emu.cpp - the CPU emulation of CUDA and cuBLAS for tests (see emu.h). */
#include "emu.h"

#include <ucontext.h>

dim3 threadIdx, blockIdx, blockDim, gridDim;
int emu_cur;
float emu_slots[32][32];
int emu_capturing;
std::vector<std::function<void()>> *emu_capture;

/* Up to 1024 thread slots, each with its own stack, started once (the one
 * context switch with a system call) and then switched with GCC's
 * __builtin_setjmp / __builtin_longjmp (a few instructions: the compiler
 * saves live registers around the setjmp itself). A slot runs the current
 * kernel body in a loop: when the body returns the slot marks itself done
 * and yields; the next block resumes it. */
namespace {
const size_t STACK = 256 << 10;
struct slot {
    ucontext_t start;
    void *env[5];
    char *stack;
    int started, done;
};
slot slots[1024];
void *sched_env[5];
std::function<void()> *body;

/* __builtin_longjmp may not share a function with its __builtin_setjmp */
__attribute__((noinline)) void jump_to(void **env) { __builtin_longjmp(env, 1); }

void slot_main()
{
    for (;;) {
        (*body)();
        slots[emu_cur].done = 1;
        emu_yield();
    }
}
} // namespace

void emu_yield()
{
    if (!__builtin_setjmp(slots[emu_cur].env))
        jump_to(sched_env);
}

void emu_run(dim3 grid, dim3 block, std::function<void()> f)
{
    const int nt = (int)(block.x * block.y * block.z);
    if (nt > 1024 || nt < 1) {
        fprintf(stderr, "emu: bad block size %d\n", nt);
        abort();
    }
    body = &f;
    gridDim = grid;
    blockDim = block;
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++) {
                volatile int alive = nt;
                for (int i = 0; i < nt; i++)
                    slots[i].done = 0;
                memset(emu_slots, 0xff, sizeof emu_slots);
                while (alive) {
                    alive = 0;
                    for (volatile int i = 0; i < nt; i++) {
                        if (slots[i].done)
                            continue;
                        emu_cur = i;
                        threadIdx = dim3(i % block.x, (i / block.x) % block.y, i / (block.x * block.y));
                        blockIdx = dim3(bx, by, bz);
                        if (!__builtin_setjmp(sched_env)) {
                            slot *s = &slots[i];
                            if (!s->started) {
                                s->started = 1;
                                s->stack = (char *)malloc(STACK);
                                getcontext(&s->start);
                                s->start.uc_stack.ss_sp = s->stack;
                                s->start.uc_stack.ss_size = STACK;
                                s->start.uc_link = NULL;
                                makecontext(&s->start, slot_main, 0);
                                setcontext(&s->start);
                            }
                            jump_to(s->env);
                        }
                        if (!slots[i].done)
                            alive = alive + 1;
                    }
                }
            }
}

const char *cudaGetErrorString(cudaError_t e) { return e ? "emulated error" : "no error"; }
cudaError_t cudaMalloc(void **p, size_t n)
{
    *p = malloc(n);
    /* poison: every output must be written before it is read */
    if (*p)
        memset(*p, 0xff, n);
    return *p ? 0 : 2;
}
cudaError_t cudaFree(void *p)
{
    free(p);
    return 0;
}
cudaError_t cudaHostAlloc(void **p, size_t n, int) { return cudaMalloc(p, n); }
cudaError_t cudaFreeHost(void *p) { return cudaFree(p); }
cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind)
{
    memcpy(d, s, n);
    return 0;
}
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind, cudaStream_t)
{
    emu_op([=]() { memcpy(d, s, n); });
    return 0;
}
cudaError_t cudaMemset(void *d, int v, size_t n)
{
    memset(d, v, n);
    return 0;
}
cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t)
{
    emu_op([=]() { memset(d, v, n); });
    return 0;
}
cudaError_t cudaMemGetInfo(size_t *fr, size_t *tot)
{
    *fr = *tot = (size_t)16 << 30;
    return 0;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int)
{
    snprintf(p->name, sizeof p->name, "CUDA emulator (CPU)");
    p->major = 9;
    p->minor = 0;
    p->multiProcessorCount = 1;
    p->totalGlobalMem = (size_t)16 << 30;
    return 0;
}
cudaError_t cudaGetDeviceCount(int *n)
{
    *n = 1;
    return 0;
}
cudaError_t cudaDriverGetVersion(int *v)
{
    *v = 13000;
    return 0;
}
cudaError_t cudaSetDevice(int) { return 0; }
cudaError_t cudaDeviceSynchronize() { return 0; }
cudaError_t cudaGetLastError() { return 0; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, int)
{
    *s = (void *)1;
    return 0;
}
cudaError_t cudaStreamDestroy(cudaStream_t) { return 0; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return 0; }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, int)
{
    *e = (void *)1;
    return 0;
}
cudaError_t cudaEventDestroy(cudaEvent_t) { return 0; }
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return 0; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return 0; }
cudaError_t cudaStreamBeginCapture(cudaStream_t, int)
{
    emu_capture = new std::vector<std::function<void()>>();
    emu_capturing = 1;
    return 0;
}
cudaError_t cudaStreamEndCapture(cudaStream_t, cudaGraph_t *g)
{
    emu_capturing = 0;
    *g = new emu_graph;
    (*g)->ops = *emu_capture;
    delete emu_capture;
    return 0;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *e, cudaGraph_t g, int)
{
    *e = new emu_graph(*g);
    return 0;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t)
{
    for (auto &f : e->ops)
        f();
    return 0;
}
cudaError_t cudaGraphDestroy(cudaGraph_t g)
{
    delete g;
    return 0;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e)
{
    delete e;
    return 0;
}

static int math_mode;
cublasStatus_t cublasCreate(cublasHandle_t *h)
{
    *h = (void *)1;
    return 0;
}
cublasStatus_t cublasDestroy(cublasHandle_t) { return 0; }
cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return 0; }
cublasStatus_t cublasSetWorkspace(cublasHandle_t, void *, size_t) { return 0; }
cublasStatus_t cublasSetMathMode(cublasHandle_t, int m)
{
    math_mode = m;
    return 0;
}
cublasStatus_t cublasGetProperty(int, int *v)
{
    *v = 13;
    return 0;
}
const char *cublasGetStatusString(cublasStatus_t) { return "emulated cublas error"; }

/* TF32: 10 explicit mantissa bits, round to nearest */
static inline float tf32(float x)
{
    unsigned u;
    memcpy(&u, &x, 4);
    u = (u + 0x1000u) & ~0x1FFFu;
    memcpy(&x, &u, 4);
    return x;
}

cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const float *alpha, const void *Av, int, int lda, const void *Bv, int, int ldb,
                            const float *beta, void *Cv, int, int ldc, cublasComputeType_t ct, int)
{
    float al = *alpha, be = *beta;
    emu_op([=]() {
        const float *A = (const float *)Av, *B = (const float *)Bv;
        float *C = (float *)Cv;
        int t32 = ct == CUBLAS_COMPUTE_32F_FAST_TF32;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                float acc = 0;
                for (int p = 0; p < k; p++) {
                    float a = ta == CUBLAS_OP_N ? A[i + (size_t)p * lda] : A[p + (size_t)i * lda];
                    float b = tb == CUBLAS_OP_N ? B[p + (size_t)j * ldb] : B[j + (size_t)p * ldb];
                    if (t32) {
                        a = tf32(a);
                        b = tf32(b);
                    }
                    acc += a * b;
                }
                float *c = &C[i + (size_t)j * ldc];
                *c = be == 0 ? al * acc : al * acc + be * *c;
            }
    });
    return 0;
}
