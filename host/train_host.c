/* train_host.c - choosing a model shape for an input and level, and driving
 * a trainer (gpu_train/: the CPU reference, or the CUDA plugin) to produce
 * the integer model image. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu_train/cuda_api.h"
#include "../gpu_train/trainer.h"
#include "internal.h"

void oz_arch_string(const oz_config *c, char *buf, size_t n)
{
    snprintf(buf, n, "L=%u,D=%u,H=%u,F=%u,W=%u,wbits=%u,tied=%u", c->n_layer, c->d_model, c->n_head, c->d_ff,
             c->ctx, c->wbits, (c->flags & OZ_CFG_TIED) ? 1u : 0u);
}

ozip_status oz_parse_arch(const char *spec, oz_config *c, const ozip_params *p)
{
    const char *s = spec;
    int rc;
    /* defaults for keys not given */
    c->n_layer = 2;
    c->d_model = 64;
    c->n_head = 4;
    c->d_ff = 0;
    c->ctx = 64;
    c->wbits = 5;
    c->flags = OZ_CFG_TIED;
    while (*s) {
        char key[16];
        unsigned long v;
        char *end;
        size_t k = 0;
        while (*s && *s != '=' && k + 1 < sizeof key)
            key[k++] = *s++;
        key[k] = 0;
        if (*s != '=')
            return oz_fail(p, OZIP_ERR_PARAM, "model shape '%s': expected KEY=VALUE", spec);
        v = strtoul(s + 1, &end, 10);
        if (end == s + 1)
            return oz_fail(p, OZIP_ERR_PARAM, "model shape '%s': '%s' needs a number", spec, key);
        s = end;
        if (!strcmp(key, "L"))
            c->n_layer = (uint32_t)v;
        else if (!strcmp(key, "D"))
            c->d_model = (uint32_t)v;
        else if (!strcmp(key, "H"))
            c->n_head = (uint32_t)v;
        else if (!strcmp(key, "F"))
            c->d_ff = (uint32_t)v;
        else if (!strcmp(key, "W"))
            c->ctx = (uint32_t)v;
        else if (!strcmp(key, "wbits"))
            c->wbits = (uint32_t)v;
        else if (!strcmp(key, "tied"))
            c->flags = v ? OZ_CFG_TIED : 0;
        else
            return oz_fail(p, OZIP_ERR_PARAM, "model shape '%s': unknown key '%s' (L D H F W wbits tied)", spec,
                           key);
        if (*s == ',')
            s++;
        else if (*s)
            return oz_fail(p, OZIP_ERR_PARAM, "model shape '%s': expected ',' after %s", spec, key);
    }
    if (c->d_ff == 0)
        c->d_ff = 2 * c->d_model;
    rc = oz_config_check(c);
    if (rc != OZ_CORE_OK)
        return oz_fail(p, OZIP_ERR_PARAM,
                       "model shape '%s' is outside the limits: L 1..%d, D 16..%d (multiple of 16), H divides D, "
                       "D/H <= %d, F 16..%d (multiple of 16), W 1..%d, wbits 2..8",
                       spec, OZ_MAX_LAYERS, OZ_MAX_DMODEL, OZ_MAX_DHEAD, OZ_MAX_DFF, OZ_MAX_CTX);
    return OZIP_OK;
}

/* The ladder of shapes, smallest first. Each step roughly doubles the
 * parameters; the context grows with the model. */
static const oz_config LADDER[] = {
    {1, 16, 2, 32, 32, 5, OZ_CFG_TIED},     /*   6k params */
    {1, 32, 2, 64, 64, 5, OZ_CFG_TIED},     /*  16k */
    {2, 32, 4, 64, 64, 5, OZ_CFG_TIED},     /*  25k */
    {2, 48, 4, 96, 64, 5, OZ_CFG_TIED},     /*  49k */
    {2, 64, 4, 128, 64, 5, OZ_CFG_TIED},    /*  82k */
    {3, 64, 4, 128, 128, 5, OZ_CFG_TIED},   /* 115k */
    {3, 96, 6, 192, 128, 5, OZ_CFG_TIED},   /* 246k */
    {4, 128, 8, 256, 256, 5, OZ_CFG_TIED},  /* 557k */
    {4, 192, 12, 384, 256, 5, OZ_CFG_TIED}, /* 1.2M */
};
#define NLADDER ((int)(sizeof LADDER / sizeof LADDER[0]))

int oz_arch_ladder(const oz_config **out)
{
    *out = LADDER;
    return NLADDER;
}

/* Highest rung a level may use (training time grows with the model). */
static const int LEVEL_MAX_RUNG[10] = {0, 1, 2, 3, 4, 4, 5, 6, 7, 8};

/* Parameter budget for n input bytes. The best size grows more slowly than
 * the input (measured on flights JSON: 25k parameters at 2 MB, 82k at 10 MB),
 * so the budget is 26k * (n / 2 MB)^0.75; see docs/architecture.md,
 * "Choosing the model". */
static double param_budget(uint64_t n) { return 26000.0 * pow((double)n / 2e6, 0.75); }

#define NEIGHBOUR_MAX ((uint64_t)1 << 20)

int oz_arch_candidates(uint64_t n, int level, oz_config *out, int max)
{
    int best = 0, r, k = 0;
    double budget = param_budget(n);
    for (r = 0; r < NLADDER && r <= LEVEL_MAX_RUNG[level]; r++)
        if ((double)oz_model_params(&LADDER[r]) <= budget)
            best = r;
    out[k++] = LADDER[best];
    /* Levels 8 and 9 also try the neighbouring shapes and keep the smallest
     * file, on inputs up to NEIGHBOUR_MAX bytes: there the budget rule is least
     * certain and a model trains in seconds. On larger inputs each candidate
     * would cost the whole training time again. */
    if (level >= 8 && n <= NEIGHBOUR_MAX && k < max && best > 0)
        out[k++] = LADDER[best - 1];
    if (level >= 9 && n <= NEIGHBOUR_MAX && k < max && best + 1 < NLADDER && best + 1 <= LEVEL_MAX_RUNG[level])
        out[k++] = LADDER[best + 1];
    return k;
}

/* Training budget per level, in passes over the input, and a cap in tokens
 * so that very large inputs stay within minutes: on 2 cores the CPU trainer
 * does about 35k tokens/s on the default shapes, so the default level's cap
 * (40M tokens) is about 20 minutes and -9's (64M) about half an hour. */
static const double LEVEL_EPOCHS[10] = {0, 0.5, 1, 1.5, 2, 3, 4, 5, 6, 8};
static const double LEVEL_MAX_TOKENS[10] = {0, 4e6, 8e6, 12e6, 20e6, 30e6, 40e6, 48e6, 56e6, 64e6};

/* The trainer being driven: the CPU reference (cuda == NULL) or the CUDA
 * plugin. Both take the same options and give the same kind of result. */
typedef struct trainer_ref {
    const oz_cuda_api *cuda;
    void *t;
    char device[32];
} trainer_ref;

static void tref_set_steps(trainer_ref *r, uint64_t steps)
{
    if (r->cuda)
        r->cuda->set_steps((cuda_trainer *)r->t, steps);
    else
        cpu_trainer_set_steps((cpu_trainer *)r->t, steps);
}

static void tref_free(trainer_ref *r)
{
    if (r->cuda)
        r->cuda->destroy((cuda_trainer *)r->t);
    else
        cpu_trainer_free((cpu_trainer *)r->t);
    r->t = NULL;
}

/* The integer image of the trained parameters; NULL on failure. */
static uint8_t *tref_export(trainer_ref *r, const oz_config *arch, uint32_t *size)
{
    if (r->cuda) {
        cuda_trainer *t = (cuda_trainer *)r->t;
        float *prm = r->cuda->params(t);
        tr_scales *sc = prm ? r->cuda->scales(t) : NULL;
        float res = sc ? r->cuda->res_max(t) : -1;
        return res >= 0 ? tr_export(arch, prm, sc, res, size) : NULL;
    }
    return tr_export(arch, cpu_trainer_params((cpu_trainer *)r->t), cpu_trainer_scales((cpu_trainer *)r->t),
                     cpu_trainer_res_max((cpu_trainer *)r->t), size);
}

/* The CUDA trainer when the device asks for it and a GPU can train. With
 * --device cuda anything missing is an error; with auto it is a note (-v)
 * and the CPU trains. */
static ozip_status pick_cuda(const tr_opts *o, const ozip_params *p, const char *dev, trainer_ref *r)
{
    char why[512];
    const oz_cuda_api *api;
    int must = !strcmp(dev, "cuda");
    if (!must && strcmp(dev, "auto"))
        return OZIP_OK;
    api = (const oz_cuda_api *)oz_cuda_usable(why, sizeof why);
    if (api) {
        r->t = api->create(o, NULL, why, sizeof why);
        if (r->t) {
            r->cuda = api;
            snprintf(r->device, sizeof r->device, "cuda:%s", api->device((cuda_trainer *)r->t));
            return OZIP_OK;
        }
    }
    if (must)
        return oz_fail(p, OZIP_ERR_DEVICE, "--device cuda: %s%s", api ? "cannot set up the CUDA trainer: " : "",
                       why);
    oz_log(p, 1, "training on the CPU: no GPU for training: %s", why);
    return OZIP_OK;
}

typedef struct train_cb_ctx {
    const ozip_params *p;
    trainer_ref *r;
    double t0, limit;
    uint64_t n;
    uint64_t tokens_per_step;
    int calibrated;
    int stopped;
    char what[96];
} train_cb_ctx;

static int train_cb(void *arg, uint64_t step, uint64_t steps, double bpb)
{
    train_cb_ctx *c = (train_cb_ctx *)arg;
    if (c->limit > 0 && !c->calibrated && step == 16) {
        double per = (oz_now() - c->t0) / 16.0;
        uint64_t allowed = (uint64_t)(c->limit / per);
        c->calibrated = 1;
        if (allowed < steps) {
            tref_set_steps(c->r, allowed > 16 ? allowed : 16);
            steps = allowed > 16 ? allowed : 16;
        }
    }
    if (c->p->progress) {
        ozip_progress pr;
        memset(&pr, 0, sizeof pr);
        pr.phase = OZIP_PHASE_TRAIN;
        pr.done = step;
        pr.total = steps;
        pr.bpb = bpb;
        pr.epochs = (double)step * (double)c->tokens_per_step / (double)c->n;
        pr.what = c->what;
        c->stopped = c->p->progress(c->p->progress_user, &pr) != 0;
        return c->stopped;
    }
    return 0;
}

ozip_status oz_train(const uint8_t *data, size_t n, const oz_config *arch, int level, const ozip_params *p,
                     oz_train_result *res)
{
    tr_opts o;
    trainer_ref r;
    train_cb_ctx cb;
    double epochs, tokens, t0;
    uint64_t steps;
    const char *dev = p->device ? p->device : "auto";
    const uint8_t *train = data;
    uint8_t *sample = NULL;
    size_t tn = n;
    ozip_status s;
    memset(res, 0, sizeof *res);
    memset(&r, 0, sizeof r);
    if (n < 2)
        return oz_fail(p, OZIP_ERR_PARAM, "input too small to train a model");
    /* Training on a sample: evenly spaced 1 MiB pieces. The model then sees
     * every part of the file without paying for every byte. */
    if (p->train_sample > 0 && p->train_sample < n) {
        size_t piece = 1u << 20, k, np;
        if (piece > p->train_sample)
            piece = (size_t)p->train_sample;
        np = (size_t)(p->train_sample / piece);
        sample = malloc(np * piece);
        if (!sample)
            return oz_fail(p, OZIP_ERR_NOMEM, "out of memory for the training sample");
        for (k = 0; k < np; k++)
            memcpy(sample + k * piece, data + (size_t)((double)k * (double)(n - piece) / (double)(np > 1 ? np - 1 : 1)),
                   piece);
        train = sample;
        tn = np * piece;
        oz_log(p, 2, "training on a sample of %zu bytes (%zu pieces of %zu)", tn, np, piece);
    }
    tr_opts_default(&o);
    o.arch = *arch;
    /* Sequences of 4 windows: most positions then see a full window, as every
     * position does when coding (measured: 10% smaller streams than T = W at
     * the same number of tokens). About 2048 tokens per step. */
    o.seq = 4 * arch->ctx;
    if (o.seq > 1024)
        o.seq = 1024;
    if (o.seq > tn - 1)
        o.seq = (uint32_t)(tn - 1);
    o.batch = (uint32_t)((2048 + o.seq - 1) / o.seq);
    if (o.batch < 2)
        o.batch = 2;
    o.lr = oz_model_params(arch) > 200000 ? 2e-3 : 3e-3;
    o.seed = p->seed ? p->seed : 1;
    o.threads = oz_threads(p);
    epochs = p->epochs > 0 ? p->epochs : LEVEL_EPOCHS[level];
    tokens = epochs * (double)tn;
    if (p->epochs <= 0 && tokens > LEVEL_MAX_TOKENS[level])
        tokens = LEVEL_MAX_TOKENS[level];
    steps = (uint64_t)ceil(tokens / ((double)o.batch * o.seq));
    o.steps = steps < 20 ? 20 : steps;
    s = pick_cuda(&o, p, dev, &r);
    if (s != OZIP_OK) {
        free(sample);
        return s;
    }
    memset(&cb, 0, sizeof cb);
    cb.p = p;
    cb.r = &r;
    cb.n = tn;
    cb.limit = p->train_seconds;
    cb.tokens_per_step = (uint64_t)o.batch * o.seq;
    oz_arch_string(arch, cb.what, sizeof cb.what);
    for (;;) {
        if (!r.cuda) {
            if (tr_blas_load()) {
                free(sample);
                return oz_fail(p, OZIP_ERR_DEVICE, "%s", tr_blas_error());
            }
            r.t = cpu_trainer_new(&o);
            snprintf(r.device, sizeof r.device, "cpu");
        }
        if (!r.t) {
            free(sample);
            return oz_fail(p, OZIP_ERR_NOMEM, "cannot create the trainer (out of memory?)");
        }
        oz_log(p, r.cuda ? 1 : 2, "training %s on %s: %llu steps of %u x %u bytes (%.2f epochs)", cb.what, r.device,
               (unsigned long long)o.steps, o.batch, o.seq, (double)o.steps * o.batch * o.seq / (double)tn);
        t0 = cb.t0 = oz_now();
        res->bpb = r.cuda ? r.cuda->fit((cuda_trainer *)r.t, train, tn, train_cb, &cb)
                          : cpu_trainer_fit((cpu_trainer *)r.t, train, tn, train_cb, &cb);
        res->seconds = oz_now() - t0;
        if (cb.stopped || !r.cuda || res->bpb >= 0)
            break;
        /* the GPU failed part-way: an error for --device cuda, else the CPU trains */
        {
            char why[512];
            snprintf(why, sizeof why, "%s", r.cuda->error((cuda_trainer *)r.t));
            tref_free(&r);
            r.cuda = NULL;
            if (!strcmp(dev, "cuda")) {
                free(sample);
                return oz_fail(p, OZIP_ERR_DEVICE, "--device cuda: training failed on the GPU: %s", why);
            }
            oz_log(p, 1, "training on the CPU: training failed on the GPU: %s", why);
            cb.calibrated = 0;
        }
    }
    free(sample);
    if (cb.stopped) {
        tref_free(&r);
        return oz_fail(p, OZIP_ERR_INTERRUPTED, "interrupted during training");
    }
    res->image = tref_export(&r, arch, &res->size);
    tref_free(&r);
    if (!res->image)
        return oz_fail(p, OZIP_ERR_NOMEM, "out of memory exporting the model");
    snprintf(res->device, sizeof res->device, "%s", r.device);
    return OZIP_OK;
}
