/* blas.c - OpenBLAS for the CPU trainer, loaded when training first needs it.
 *
 * Linked in the usual way (-lopenblas), Debian's pthreads OpenBLAS starts a
 * pool of (cores - 1) threads in its load-time constructor, before main(),
 * and those threads spin on sched_yield for about 2^28 cycles (0.1 s) before
 * they sleep. The trainer never uses that pool (it splits its products with
 * OpenMP and calls OpenBLAS single-threaded), but on a 2-core machine the
 * spinning thread took a core from every run for its first 0.1 s: decoding a
 * 170 KB file took 0.14 s with OPENBLAS_NUM_THREADS=1 and 0.15 to 0.21 s
 * without. So nothing links OpenBLAS: decompression never loads it, and the
 * trainer loads it here (dlopen) on first use and sets it to one thread.
 * Since it loads after main() has started, the settings OpenBLAS reads from
 * the environment when it loads can be made by the program itself:
 * tr_blas_env() (ozip's main() calls it first thing) asks for no pool and
 * picks the kernel. A program that links libozip may call it too. */
#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "trainer.h"

static void *lib;
static __typeof__(&cblas_sgemm) sgemm_p;
static char *(*config_p)(void), *(*corename_p)(void);
static char err[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    static const char *const names[] = {"libopenblas.so.0", "libopenblas.so"};
    void (*set_threads)(int);
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0] && !lib; i++)
        lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(err, sizeof err, "cannot load OpenBLAS (libopenblas.so.0), which the CPU trainer needs: %s; "
                 "install libopenblas0 (Debian)", dlerror());
        return;
    }
    sgemm_p = (__typeof__(&cblas_sgemm))dlsym(lib, "cblas_sgemm");
    set_threads = (void (*)(int))dlsym(lib, "openblas_set_num_threads");
    config_p = (char *(*)(void))dlsym(lib, "openblas_get_config");
    corename_p = (char *(*)(void))dlsym(lib, "openblas_get_corename");
    if (!sgemm_p) {
        snprintf(err, sizeof err, "the library loaded as OpenBLAS has no cblas_sgemm");
        return;
    }
    if (set_threads)
        set_threads(1);
}

/* Debian's OpenBLAS 0.3.21 does not recognise some recent CPUs (Sapphire
 * and Emerald Rapids among them) and falls back to an SSE3 kernel
 * (../shared/notes/cpu-blas.md): the kernel is named here from CPUID. A value
 * the user set is kept. setenv: call this before any other thread runs. */
void tr_blas_env(void)
{
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
#if defined(__x86_64__) && defined(__GNUC__)
    if (!getenv("OPENBLAS_CORETYPE")) {
        const char *ct = NULL;
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512bf16"))
            ct = "Cooperlake";
        else if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl"))
            ct = "SkylakeX";
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            ct = "Haswell";
        if (ct)
            setenv("OPENBLAS_CORETYPE", ct, 1);
    }
#endif
}

int tr_blas_load(void)
{
    pthread_once(&once, load);
    return sgemm_p ? 0 : -1;
}

const char *tr_blas_error(void)
{
    return err;
}

void tr_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc)
{
    sgemm_p(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N, K, alpha,
            A, lda, B, ldb, beta, C, ldc);
}

const char *tr_blas_describe(char *buf, size_t n)
{
    if (tr_blas_load())
        snprintf(buf, n, "not loaded: %s", err);
    else
        snprintf(buf, n, "%s; kernel %s", config_p ? config_p() : "OpenBLAS (no config)",
                 corename_p ? corename_p() : "(unknown)");
    return buf;
}
