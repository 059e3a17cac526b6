/* util.c - errors, threads, timing and logging for the host library. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

ozip_status oz_fail(const ozip_params *p, ozip_status s, const char *fmt, ...)
{
    if (p && p->errbuf && p->errbuf_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->errbuf, p->errbuf_size, fmt, ap);
        va_end(ap);
    }
    return s;
}

ozip_status oz_from_core(int rc)
{
    switch (rc) {
    case OZ_CORE_OK:
        return OZIP_OK;
    case OZ_CORE_EFORMAT:
        return OZIP_ERR_CORRUPT;
    case OZ_CORE_EVERSION:
        return OZIP_ERR_VERSION;
    case OZ_CORE_ELIMIT:
        return OZIP_ERR_CORRUPT;
    case OZ_CORE_ETRUNC:
        return OZIP_ERR_TRUNCATED;
    case OZ_CORE_ECORRUPT:
        return OZIP_ERR_CORRUPT;
    case OZ_CORE_EPARAM:
        return OZIP_ERR_PARAM;
    default:
        return OZIP_ERR_INTERNAL;
    }
}

int oz_threads(const ozip_params *p)
{
    long n;
    if (p && p->threads > 0)
        return p->threads;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

double oz_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void oz_log(const ozip_params *p, int level, const char *fmt, ...)
{
    va_list ap;
    if (!p || p->verbose < level)
        return;
    va_start(ap, fmt);
    fputs("ozip: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void *oz_aligned_alloc(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 64) != 0)
        return NULL;
    return p;
}

typedef struct par_ctx {
    void (*fn)(void *, uint32_t);
    void *ctx;
    uint32_t ntasks;
    uint32_t next;
    pthread_mutex_t mu;
} par_ctx;

static void *par_worker(void *arg)
{
    par_ctx *c = (par_ctx *)arg;
    for (;;) {
        uint32_t t;
        pthread_mutex_lock(&c->mu);
        t = c->next < c->ntasks ? c->next++ : c->ntasks;
        pthread_mutex_unlock(&c->mu);
        if (t >= c->ntasks)
            return NULL;
        c->fn(c->ctx, t);
    }
}

void oz_parallel(int nthreads, uint32_t ntasks, void (*fn)(void *ctx, uint32_t task), void *ctx)
{
    par_ctx c;
    pthread_t th[256];
    int i, started = 0;
    if (nthreads > 256)
        nthreads = 256;
    if ((uint32_t)nthreads > ntasks)
        nthreads = (int)ntasks;
    c.fn = fn;
    c.ctx = ctx;
    c.ntasks = ntasks;
    c.next = 0;
    pthread_mutex_init(&c.mu, NULL);
    for (i = 1; i < nthreads; i++)
        if (pthread_create(&th[started], NULL, par_worker, &c) == 0)
            started++;
    par_worker(&c); /* the caller works too; tasks never go undone */
    for (i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&c.mu);
}
