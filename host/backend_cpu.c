/* backend_cpu.c - decoding model streams on the CPU with the reference
 * integer model (core/), one stream per task, streams spread over threads. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct cpu_ctx {
    const oz_loaded_model *lm;
    oz_stream_job *jobs;
    const ozip_params *p;
    uint64_t done, total;
    pthread_mutex_t mu;
} cpu_ctx;

static void cpu_task(void *arg, uint32_t i)
{
    cpu_ctx *c = (cpu_ctx *)arg;
    const oz_config *cfg = &c->lm->m.cfg;
    void *st_mem = oz_aligned_alloc(oz_state_bytes(cfg, cfg->ctx));
    void *ws = oz_aligned_alloc(oz_step_ws_bytes(cfg));
    oz_state st;
    if (!st_mem || !ws) {
        c->jobs[i].rc = -1;
    } else {
        oz_state_init(&st, cfg, st_mem, cfg->ctx);
        c->jobs[i].rc = oz_decode_stream(&c->lm->m, &st, ws, c->jobs[i].in, c->jobs[i].in_len,
                                         c->jobs[i].out, c->jobs[i].out_len);
    }
    free(st_mem);
    free(ws);
    if (c->p->progress) {
        ozip_progress pr;
        pthread_mutex_lock(&c->mu);
        c->done += c->jobs[i].out_len;
        memset(&pr, 0, sizeof pr);
        pr.phase = OZIP_PHASE_DECODE;
        pr.done = c->done;
        pr.total = c->total;
        c->p->progress(c->p->progress_user, &pr);
        pthread_mutex_unlock(&c->mu);
    }
}

static ozip_status cpu_decode(const oz_loaded_model *lm, oz_stream_job *jobs, uint32_t njobs, int threads,
                              const ozip_params *p)
{
    cpu_ctx c;
    uint32_t i;
    memset(&c, 0, sizeof c);
    c.lm = lm;
    c.jobs = jobs;
    c.p = p;
    for (i = 0; i < njobs; i++)
        c.total += jobs[i].out_len;
    pthread_mutex_init(&c.mu, NULL);
    oz_parallel(threads, njobs, cpu_task, &c);
    pthread_mutex_destroy(&c.mu);
    for (i = 0; i < njobs; i++)
        if (jobs[i].rc == -1)
            return oz_fail(p, OZIP_ERR_NOMEM, "out of memory decoding a stream");
    return OZIP_OK;
}

const oz_backend oz_backend_cpu = {"cpu", cpu_decode};

const char *oz_backend_names(void)
{
    return "cpu emu"
#ifdef OZ_HAVE_OPENCL
           " opencl"
#endif
#ifdef OZ_HAVE_XRT
           " xrt"
#endif
#if defined(OZ_HAVE_OPENCL) || defined(OZ_HAVE_XRT)
           " fpga"
#endif
        ;
}

ozip_status oz_backend_for(const ozip_params *p, const oz_backend **out)
{
    const char *d = (p && p->device) ? p->device : "auto";
    if (!strcmp(d, "auto") || !strcmp(d, "cpu")) {
        *out = &oz_backend_cpu;
        return OZIP_OK;
    }
    if (!strcmp(d, "cuda"))
        return oz_fail(p, OZIP_ERR_DEVICE,
                       "decoding on cuda is not available: the CUDA path trains models; decode with --device cpu");
    if (!strcmp(d, "emu")) {
        *out = &oz_backend_emu;
        return OZIP_OK;
    }
#ifdef OZ_HAVE_OPENCL
    if (!strcmp(d, "opencl")) {
        *out = &oz_backend_opencl;
        return OZIP_OK;
    }
#endif
#ifdef OZ_HAVE_XRT
    if (!strcmp(d, "xrt")) {
        *out = &oz_backend_xrt;
        return OZIP_OK;
    }
#endif
    if (!strcmp(d, "fpga")) {
        *out = &oz_backend_fpga;
        return OZIP_OK;
    }
    if (!strcmp(d, "opencl") || !strcmp(d, "xrt"))
        return oz_fail(p, OZIP_ERR_DEVICE,
                       "device '%s' is not built into this ozip (its packages were missing at build time; see "
                       "ozip -V and make's report)", d);
    return oz_fail(p, OZIP_ERR_PARAM, "unknown device '%s' (use auto, cpu, cuda, opencl, fpga, emu or xrt)", d);
}
