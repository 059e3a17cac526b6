/* backend_cpu.c - decoding model streams on the CPU.
 *
 * The fast engine (host/fast/) decodes streams in lock-step batches, one
 * batch per thread; core/'s reference step (one stream at a time) remains
 * available as OZIP_FORCE_ISA=ref and for models the engine does not take. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *oz_engine_name(int engine) { return engine == OZ_ENGINE_REF ? "reference" : ozf_isa_name(engine); }

ozip_status oz_engine_pick(const ozip_params *p, int *engine)
{
    const char *f = getenv("OZIP_FORCE_ISA"), *why = NULL;
    if (f && !strcmp(f, "ref")) {
        *engine = OZ_ENGINE_REF;
        return OZIP_OK;
    }
    *engine = ozf_select_isa(&why);
    if (*engine < 0)
        return oz_fail(p, OZIP_ERR_DEVICE, "%s", why);
    return OZIP_OK;
}

typedef struct cpu_ctx {
    const oz_loaded_model *lm;
    const ozf_model *fm; /* NULL: reference */
    oz_stream_job *jobs;
    uint32_t njobs, batch, groups;
    const ozip_params *p;
    uint64_t done, total;
    int nomem;
    pthread_mutex_t mu;
} cpu_ctx;

static void tick(void *arg, uint64_t bytes)
{
    cpu_ctx *c = (cpu_ctx *)arg;
    if (!c->p->progress)
        return;
    pthread_mutex_lock(&c->mu);
    {
        ozip_progress pr;
        c->done += bytes;
        memset(&pr, 0, sizeof pr);
        pr.phase = OZIP_PHASE_DECODE;
        pr.done = c->done;
        pr.total = c->total;
        c->p->progress(c->p->progress_user, &pr);
    }
    pthread_mutex_unlock(&c->mu);
}

static void ref_task(void *arg, uint32_t i)
{
    cpu_ctx *c = (cpu_ctx *)arg;
    const oz_config *cfg = &c->lm->m.cfg;
    void *st_mem = oz_aligned_alloc(oz_state_bytes(cfg, cfg->ctx));
    void *ws = oz_aligned_alloc(oz_step_ws_bytes(cfg));
    oz_state st;
    if (!st_mem || !ws) {
        c->nomem = 1;
    } else {
        oz_state_init(&st, cfg, st_mem, cfg->ctx);
        c->jobs[i].rc = oz_decode_stream(&c->lm->m, &st, ws, c->jobs[i].in, c->jobs[i].in_len, c->jobs[i].out,
                                         c->jobs[i].out_len);
    }
    free(st_mem);
    free(ws);
    tick(c, c->jobs[i].out_len);
}

static void fast_task(void *arg, uint32_t g)
{
    cpu_ctx *c = (cpu_ctx *)arg;
    /* batch g: streams njobs g / groups up to njobs (g + 1) / groups, so the
     * batches differ by at most one stream (16 streams in 6: 2,3,3,2,3,3,
     * not 3,3,3,3,3,1, which left one thread 9 streams and the other 7) */
    uint32_t first = (uint32_t)((uint64_t)c->njobs * g / c->groups);
    uint32_t n = (uint32_t)((uint64_t)c->njobs * (g + 1) / c->groups) - first;
    if (ozf_decode_batch(c->fm, c->jobs + first, n, tick, c) != 0)
        c->nomem = 1;
}

static ozip_status cpu_decode(const oz_loaded_model *lm, oz_stream_job *jobs, uint32_t njobs, int threads,
                              const ozip_params *p)
{
    cpu_ctx c;
    ozf_model fm;
    int engine;
    uint32_t i, groups;
    ozip_status s = oz_engine_pick(p, &engine);
    if (s != OZIP_OK)
        return s;
    memset(&c, 0, sizeof c);
    c.lm = lm;
    c.jobs = jobs;
    c.njobs = njobs;
    c.p = p;
    for (i = 0; i < njobs; i++)
        c.total += jobs[i].out_len;
    pthread_mutex_init(&c.mu, NULL);
    if (engine != OZ_ENGINE_REF && ozf_model_init(&fm, &lm->m, engine) == 0) {
        /* Lock-step batches of at most ozf_batch_max streams, and at least one
         * batch per thread when there are enough streams. */
        uint32_t cap_b = ozf_batch_max(&lm->m.cfg);
        groups = (njobs + cap_b - 1) / cap_b;
        if (groups < (uint32_t)threads)
            groups = (uint32_t)threads;
        if (groups > njobs)
            groups = njobs ? njobs : 1;
        c.batch = (njobs + groups - 1) / groups;
        c.groups = groups;
        c.fm = &fm;
        oz_log(p, 2, "decoding %u streams on the %s engine, %u batches of up to %u", njobs, oz_engine_name(engine),
               groups, c.batch);
        oz_parallel(threads, groups, fast_task, &c);
        ozf_model_free(&fm);
    } else {
        oz_log(p, 2, "decoding %u streams with the reference code", njobs);
        oz_parallel(threads, njobs, ref_task, &c);
    }
    pthread_mutex_destroy(&c.mu);
    if (c.nomem)
        return oz_fail(p, OZIP_ERR_NOMEM, "out of memory decoding streams");
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
