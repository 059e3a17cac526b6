/* ozip_lib.c - the public API: compress, decompress, range decode, info.
 * File layout decisions live in docs/format.md; this file implements them
 * with core/ (structures, coder) and the host helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <xxhash.h>

#include "classic.h"
#include "fileio.h"
#include "internal.h"

unsigned ozip_version_number(void) { return OZIP_VERSION_NUMBER; }
const char *ozip_version_string(void) { return OZIP_VERSION_STRING; }

const char *ozip_strerror(ozip_status s)
{
    switch (s) {
    case OZIP_OK:
        return "success";
    case OZIP_ERR_IO:
        return "input/output error";
    case OZIP_ERR_NOMEM:
        return "out of memory";
    case OZIP_ERR_NOT_OZIP:
        return "not in ozip format";
    case OZIP_ERR_VERSION:
        return "unsupported format version or feature";
    case OZIP_ERR_TRUNCATED:
        return "unexpected end of input (truncated file)";
    case OZIP_ERR_CORRUPT:
        return "compressed data is corrupt";
    case OZIP_ERR_CHECKSUM:
        return "checksum mismatch (data is corrupt)";
    case OZIP_ERR_MODEL_REQUIRED:
        return "the file needs an external model (pass it with --model)";
    case OZIP_ERR_MODEL_MISMATCH:
        return "the model given is not the one this file was compressed with";
    case OZIP_ERR_PARAM:
        return "invalid parameter";
    case OZIP_ERR_DEVICE:
        return "device not available";
    case OZIP_ERR_INTERRUPTED:
        return "interrupted";
    case OZIP_ERR_INTERNAL:
        return "internal error";
    }
    return "unknown error";
}

void ozip_params_init(ozip_params *p)
{
    memset(p, 0, sizeof *p);
    p->level = OZ_DEFAULT_LEVEL;
    p->device = "auto";
    p->seed = 1;
}

void ozip_free(void *p) { free(p); }

/* ================================================================ compress */

typedef struct classic_job {
    const uint8_t *src;
    size_t n;
    int method; /* OZ_M_LZMA2 / OZ_M_ZSTD */
    int preset, extreme;
    uint8_t *out;
    size_t out_n;
} classic_job;

static void classic_task(void *ctx, uint32_t i)
{
    classic_job *j = (classic_job *)ctx + i;
    if (j->method == OZ_M_LZMA2)
        j->out = classic_lzma2_encode(j->src, j->n, j->preset, j->extreme, &j->out_n);
    else if (j->method == OZ_M_ZSTD)
        j->out = classic_zstd_encode(j->src, j->n, j->preset, &j->out_n);
    else if (j->method == OZ_M_BZIP2)
        j->out = classic_bzip2_encode(j->src, j->n, &j->out_n);
    else
        j->out = classic_brotli_encode(j->src, j->n, j->preset, &j->out_n);
}

/* One stream's chosen coding. */
typedef struct stream_choice {
    int method;
    const uint8_t *data; /* payload (points into one of the buffers below) */
    uint64_t size;
    uint8_t *owned;      /* freed at the end */
} stream_choice;

static int progress(const ozip_params *p, int phase, uint64_t done, uint64_t total, double bpb, double ep,
                    const char *what)
{
    ozip_progress pr;
    if (!p->progress)
        return 0;
    memset(&pr, 0, sizeof pr);
    pr.phase = phase;
    pr.done = done;
    pr.total = total;
    pr.bpb = bpb;
    pr.epochs = ep;
    pr.what = what;
    return p->progress(p->progress_user, &pr);
}

/* Writes the frame: header, index, checksum, model payload, streams. */
static ozip_status assemble(const ozip_params *p, const oz_frame *f, const uint8_t *model_payload,
                            const stream_choice *sc, const uint32_t *xxh32, void **dst, size_t *dst_n)
{
    uint64_t hb = oz_header_bytes(f), total = hb, i;
    oz_index_entry *idx = calloc(f->stream_count ? f->stream_count : 1, sizeof *idx);
    uint8_t *out, *w;
    if (!idx)
        return oz_fail(p, OZIP_ERR_NOMEM, "out of memory");
    if ((f->flags & OZ_F_MODEL) && !(f->flags & OZ_F_MODEL_EXTERNAL))
        total += f->model_stored;
    for (i = 0; i < f->stream_count; i++) {
        idx[i].method = (uint32_t)sc[i].method;
        idx[i].stored_size = (uint32_t)sc[i].size;
        idx[i].xxh32 = xxh32[i];
        total += sc[i].size;
    }
    out = malloc(total);
    if (!out) {
        free(idx);
        return oz_fail(p, OZIP_ERR_NOMEM, "out of memory for %llu output bytes", (unsigned long long)total);
    }
    w = out + oz_frame_write(f, idx, out);
    oz_wr32(w, (uint32_t)XXH64(out, (size_t)(w - out), 0));
    w += 4;
    if ((f->flags & OZ_F_MODEL) && !(f->flags & OZ_F_MODEL_EXTERNAL)) {
        memcpy(w, model_payload, f->model_stored);
        w += f->model_stored;
    }
    for (i = 0; i < f->stream_count; i++) {
        memcpy(w, sc[i].data, sc[i].size);
        w += sc[i].size;
    }
    free(idx);
    *dst = out;
    *dst_n = (size_t)total;
    return OZIP_OK;
}

static void free_choices(stream_choice *sc, uint32_t n)
{
    uint32_t i;
    if (!sc)
        return;
    for (i = 0; i < n; i++)
        free(sc[i].owned);
    free(sc);
}

/* Model-mode encoding of every stream (threads): the fast engine when it
 * takes the model, else core's reference; both give the same bytes. */
typedef struct menc_ctx {
    const oz_loaded_model *lm;
    const ozf_model *fm;
    const uint8_t *src;
    uint64_t n;
    uint32_t block;
    uint8_t **pay;
    uint64_t *size;
    int failed;
    const ozip_params *p;
    uint64_t done;
    pthread_mutex_t mu;
} menc_ctx;

static void menc_task(void *arg, uint32_t i)
{
    menc_ctx *c = (menc_ctx *)arg;
    const oz_config *cfg = &c->lm->m.cfg;
    uint64_t off = (uint64_t)i * c->block, len = c->n - off < c->block ? c->n - off : c->block;
    uint8_t *out = malloc(oz_encode_bound(len));
    uint64_t olen = 0;
    int rc = -1;
    if (out && c->fm) {
        rc = ozf_encode_stream(c->fm, c->src + off, len, out, &olen);
    } else if (out) {
        void *st_mem = oz_aligned_alloc(oz_state_bytes(cfg, OZ_ENC_CAP(cfg->ctx)));
        void *scratch = oz_aligned_alloc(oz_encode_scratch_bytes(cfg, len));
        oz_state st;
        if (st_mem && scratch) {
            oz_state_init(&st, cfg, st_mem, OZ_ENC_CAP(cfg->ctx));
            rc = oz_encode_stream(&c->lm->m, &st, scratch, c->src + off, len, out, &olen);
        }
        free(st_mem);
        free(scratch);
    }
    if (rc != OZ_CORE_OK) {
        free(out);
        c->pay[i] = NULL;
        pthread_mutex_lock(&c->mu);
        c->failed = 1;
        pthread_mutex_unlock(&c->mu);
        return;
    }
    {
        uint8_t *shrunk = realloc(out, olen ? olen : 1); /* give back the worst-case reserve */
        c->pay[i] = shrunk ? shrunk : out;
    }
    c->size[i] = olen;
    pthread_mutex_lock(&c->mu);
    c->done += len;
    progress(c->p, OZIP_PHASE_ENCODE, c->done, c->n, 0, 0, NULL);
    pthread_mutex_unlock(&c->mu);
}

ozip_status oz_encode_streams(const oz_loaded_model *lm, const uint8_t *data, uint64_t n, uint32_t block,
                              uint8_t **payloads, uint64_t *sizes, const ozip_params *p)
{
    menc_ctx c;
    ozf_model fm;
    int engine, have_fm = 0;
    uint32_t ns = (uint32_t)((n + block - 1) / block), i;
    ozip_status s = oz_engine_pick(p, &engine);
    if (s != OZIP_OK)
        return s;
    memset(&c, 0, sizeof c);
    c.lm = lm;
    c.src = data;
    c.n = n;
    c.block = block;
    c.pay = payloads;
    c.size = sizes;
    c.p = p;
    if (engine != OZ_ENGINE_REF && ozf_model_init(&fm, &lm->m, engine) == 0) {
        c.fm = &fm;
        have_fm = 1;
    }
    oz_log(p, 2, "encoding %u streams with the %s engine", ns, have_fm ? oz_engine_name(engine) : "reference");
    pthread_mutex_init(&c.mu, NULL);
    oz_parallel(oz_threads(p), ns, menc_task, &c);
    pthread_mutex_destroy(&c.mu);
    if (have_fm)
        ozf_model_free(&fm);
    if (c.failed) {
        for (i = 0; i < ns; i++) {
            free(payloads[i]);
            payloads[i] = NULL;
        }
        return oz_fail(p, OZIP_ERR_NOMEM, "out of memory encoding streams");
    }
    return OZIP_OK;
}

/* Estimated stored bytes of a model with this shape (coded int8 weights). */
static uint64_t model_bytes_estimate(const oz_config *c)
{
    return oz_model_params(c) * c->wbits / 8 * 15 / 16 + 2 * 1024;
}

static void arch_desc(const oz_config *c, char *buf, size_t n)
{
    char a[80];
    oz_arch_string(c, a, sizeof a);
    snprintf(buf, n, "%s (%.0fk params)", a, oz_model_params(c) / 1000.0);
}

/* Model mode, given a model: streams + per-stream fallback. Fills sc and
 * returns the total frame size (or 0 on failure, status in *st). */
static uint64_t model_mode(const ozip_params *p, const oz_loaded_model *lm, const uint8_t *src, uint64_t n,
                           uint32_t block, uint64_t classic_best, int external, uint64_t model_stored,
                           stream_choice **out_sc, double *enc_seconds, ozip_status *st)
{
    uint32_t ns = (uint32_t)((n + block - 1) / block), i, nj = 0;
    uint8_t **pay = calloc(ns, sizeof *pay);
    uint64_t *size = calloc(ns, sizeof *size), total;
    stream_choice *sc = calloc(ns, sizeof *sc);
    classic_job *jobs = calloc(3 * (size_t)ns, sizeof *jobs);
    double t0 = oz_now();
    oz_frame f;
    *st = OZIP_OK;
    if (!pay || !size || !sc || !jobs) {
        *st = oz_fail(p, OZIP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    *st = oz_encode_streams(lm, src, n, block, pay, size, p);
    if (*st != OZIP_OK)
        goto fail;
    *enc_seconds = oz_now() - t0;
    /* Streams where the model does clearly worse than the classic methods do
     * on average get a classic try of their own. */
    for (i = 0; i < ns; i++) {
        uint64_t off = (uint64_t)i * block, len = n - off < block ? n - off : block;
        double expect = (double)classic_best * (double)len / (double)n;
        sc[i].method = OZ_M_MODEL;
        sc[i].data = sc[i].owned = pay[i];
        sc[i].size = size[i];
        pay[i] = NULL;
        if (!p->force_model && (double)size[i] > 0.85 * expect && len >= 64) {
            jobs[nj].src = jobs[nj + 1].src = jobs[nj + 2].src = src + off;
            jobs[nj].n = jobs[nj + 1].n = jobs[nj + 2].n = len;
            jobs[nj].method = OZ_M_LZMA2;
            jobs[nj].preset = 9;
            jobs[nj + 2].method = OZ_M_BZIP2;
            jobs[nj + 1].method = OZ_M_ZSTD;
            jobs[nj + 1].preset = 19;
            nj += 3;
        }
    }
    if (nj)
        oz_parallel(oz_threads(p), nj, classic_task, jobs);
    for (i = 0; i < nj; i++) {
        uint32_t s = (uint32_t)((jobs[i].src - src) / block);
        if (jobs[i].out && jobs[i].out_n < sc[s].size) {
            free(sc[s].owned);
            sc[s].method = jobs[i].method;
            sc[s].data = sc[s].owned = jobs[i].out;
            sc[s].size = jobs[i].out_n;
            jobs[i].out = NULL;
        }
        free(jobs[i].out);
    }
    for (i = 0; i < ns; i++) {
        uint64_t off = (uint64_t)i * block, len = n - off < block ? n - off : block;
        if (!p->force_model && sc[i].size >= len) {
            free(sc[i].owned);
            sc[i].owned = NULL;
            sc[i].method = OZ_M_RAW;
            sc[i].data = src + off;
            sc[i].size = len;
        }
    }
    memset(&f, 0, sizeof f);
    f.flags = OZ_F_MODEL | (external ? OZ_F_MODEL_EXTERNAL : 0);
    f.stream_count = ns;
    total = oz_header_bytes(&f) + (external ? 0 : model_stored);
    for (i = 0; i < ns; i++)
        total += sc[i].size;
    free(pay);
    free(size);
    free(jobs);
    *out_sc = sc;
    return total;
fail:
    free(pay);
    free(size);
    free(jobs);
    free_choices(sc, 0);
    return 0;
}

/* One frame of the whole of src[n] (ozip_compress cuts larger input into
 * frames and calls this for each) */
static ozip_status compress_frame(const void *srcv, size_t n, void **dst, size_t *dst_n, const ozip_params *pp)
{
    ozip_params dp;
    const ozip_params *p = pp;
    const uint8_t *src = (const uint8_t *)srcv;
    ozip_report rep;
    oz_frame f;
    ozip_status s = OZIP_OK;
    classic_job cj[5];
    int ncj = 0, i, level;
    uint32_t block, ns = 0, k;
    uint64_t classic_total = 0, best_model_total = 0;
    stream_choice *csc = NULL, *msc = NULL;
    uint32_t *xxh = NULL;
    oz_loaded_model lm;
    oz_config arch_cfg, cj_cfg[4];
    uint8_t *model_payload = NULL;
    uint32_t model_stored = 0, model_coding = 0;
    int have_model = 0, external = 0, use_model = 0;

    if (!p) {
        ozip_params_init(&dp);
        p = &dp;
    }
    memset(&rep, 0, sizeof rep);
    memset(&f, 0, sizeof f);
    memset(&lm, 0, sizeof lm);
    memset(cj, 0, sizeof cj);
    level = p->level ? p->level : OZ_DEFAULT_LEVEL;
    if (level < 1 || level > 9)
        return oz_fail(p, OZIP_ERR_PARAM, "level %d is out of range (1..9)", level);
    if (!dst || !dst_n || (!src && n))
        return oz_fail(p, OZIP_ERR_PARAM, "NULL buffer");
    if (p->force_model && p->no_model)
        return oz_fail(p, OZIP_ERR_PARAM, "--force-model and --no-model contradict each other");
    block = p->stream_size ? p->stream_size : OZ_DEFAULT_STREAM;
    /* the given model and --arch are checked before any work, so that a
     * wrong one is reported at once, not after the classic runs */
    if (p->model) {
        s = oz_model_file_load(p->model, p->model_size, &lm, p);
        if (s != OZIP_OK)
            goto done;
        have_model = 1;
    } else if (!p->no_model && p->arch) {
        arch_cfg.n_layer = 0;
        s = oz_parse_arch(p->arch, &arch_cfg, p);
        if (s != OZIP_OK)
            goto done;
    }
    f.original_size = n;
    f.content_xxh64 = XXH64(src, n, 0);
    rep.original_size = n;
    snprintf(rep.model_desc, sizeof rep.model_desc, "none");
    if (n == 0) {
        s = assemble(p, &f, NULL, NULL, NULL, dst, dst_n);
        goto done;
    }

    /* 1. classic methods on the whole input (the guarantee's reference),
     * except where a model will be used whatever they give: forced, and
     * given or with a shape to train (--arch, or one the size allows) */
    if (p->force_model && (p->model || p->arch || oz_arch_candidates(n, level, cj_cfg, 4) > 0)) {
        oz_log(p, 2, "--force-model: no whole-input run of the classic methods");
        classic_total = UINT64_MAX;
    } else if (n <= OZ_CLASSIC_WHOLE_MAX) {
        /* xz -9, zstd -19 and bzip2 -9 at every level (the size guarantee);
         * brotli -q 11 and xz -9e from level 3 and 6 (they are slower) */
        cj[ncj].method = OZ_M_LZMA2, cj[ncj].preset = 9, ncj++;
        cj[ncj].method = OZ_M_ZSTD, cj[ncj].preset = 19, ncj++;
        cj[ncj].method = OZ_M_BZIP2, ncj++;
        if (level >= 3)
            cj[ncj].method = OZ_M_BROTLI, cj[ncj].preset = 11, ncj++;
        if (level >= 6)
            cj[ncj].method = OZ_M_LZMA2, cj[ncj].preset = 9, cj[ncj].extreme = 1, ncj++;
        for (i = 0; i < ncj; i++) {
            cj[i].src = src;
            cj[i].n = n;
        }
        progress(p, OZIP_PHASE_CLASSIC, 0, 1, 0, 0, NULL);
        oz_parallel(oz_threads(p), (uint32_t)ncj, classic_task, cj);
        progress(p, OZIP_PHASE_CLASSIC, 1, 1, 0, 0, NULL);
        csc = calloc(1, sizeof *csc);
        if (!csc) {
            s = oz_fail(p, OZIP_ERR_NOMEM, "out of memory");
            goto done;
        }
        csc->method = OZ_M_RAW;
        csc->data = src;
        csc->size = n;
        for (i = 0; i < ncj; i++) {
            if (cj[i].out && cj[i].out_n < csc->size) {
                csc->method = cj[i].method;
                csc->data = cj[i].out;
                csc->size = cj[i].out_n;
            }
        }
        rep.xz_size = cj[0].out ? cj[0].out_n : 0;
        rep.zstd_size = cj[1].out ? cj[1].out_n : 0;
        memset(&f, 0, sizeof f);
        f.stream_count = 1;
        classic_total = oz_header_bytes(&f) + csc->size;
    } else {
        /* very large inputs: no whole-file classic run; streams fall back one by one */
        classic_total = UINT64_MAX;
    }

    /* 2. a model: given (loaded above), or trained */
    if (p->model) {
        external = p->model_external;
        arch_desc(&lm.m.cfg, rep.model_desc, sizeof rep.model_desc);
        snprintf(rep.device, sizeof rep.device, "given");
    } else if (!p->no_model) {
        oz_config cand[4];
        int nc = 0, c;
        if (p->arch) {
            cand[0] = arch_cfg; /* parsed above */
            nc = 1;
        } else {
            nc = oz_arch_candidates(n, level, cand, 4);
        }
        for (c = 0; c < nc; c++) {
            oz_train_result tr;
            oz_loaded_model cl;
            stream_choice *sc = NULL;
            uint8_t *pl = NULL;
            uint32_t pst = 0, pco = 0;
            uint64_t tot;
            double es = 0;
            if (!p->force_model && classic_total != UINT64_MAX &&
                model_bytes_estimate(&cand[c]) >= classic_total * 9 / 10) {
                oz_log(p, 2, "skipping model %u/%u: its weights alone would cost more than the classic methods",
                       cand[c].d_model, cand[c].n_layer);
                continue;
            }
            s = oz_train(src, n, &cand[c], level, p, &tr);
            if (s != OZIP_OK)
                goto done;
            memset(&cl, 0, sizeof cl);
            cl.image = tr.image;
            cl.size = tr.size;
            cl.xxh64 = XXH64(tr.image, tr.size, 0);
            if (oz_model_bind(&cl.m, cl.image, cl.size) != OZ_CORE_OK) {
                free(tr.image);
                s = oz_fail(p, OZIP_ERR_INTERNAL, "trained model does not bind");
                goto done;
            }
            s = oz_model_encode(cl.image, cl.size, &pl, &pst, &pco, p);
            if (s != OZIP_OK) {
                oz_loaded_model_free(&cl);
                goto done;
            }
            tot = model_mode(p, &cl, src, n, block, classic_total, 0, pst, &sc, &es, &s);
            if (s != OZIP_OK) {
                free(pl);
                oz_loaded_model_free(&cl);
                goto done;
            }
            oz_log(p, 2, "model %u/%u/%u: %llu bytes total (model %u)", cand[c].n_layer, cand[c].d_model,
                   cand[c].ctx, (unsigned long long)tot, pst);
            rep.train_seconds += tr.seconds;
            rep.encode_seconds += es;
            if (!have_model || tot < best_model_total) {
                oz_loaded_model_free(&lm);
                free(model_payload);
                free_choices(msc, (uint32_t)((n + block - 1) / block));
                lm = cl;
                msc = sc;
                model_payload = pl;
                model_stored = pst;
                model_coding = pco;
                best_model_total = tot;
                have_model = 1;
                rep.train_bpb = tr.bpb;
                snprintf(rep.device, sizeof rep.device, "%s", tr.device);
                arch_desc(&cand[c], rep.model_desc, sizeof rep.model_desc);
            } else {
                free(pl);
                oz_loaded_model_free(&cl);
                free_choices(sc, (uint32_t)((n + block - 1) / block));
            }
        }
        if (!have_model && !p->force_model)
            snprintf(rep.model_desc, sizeof rep.model_desc, "none (the file is too small for a model to pay)");
    }
    if (have_model && p->model) {
        double es = 0;
        if (!external) {
            s = oz_model_encode(lm.image, lm.size, &model_payload, &model_stored, &model_coding, p);
            if (s != OZIP_OK)
                goto done;
        }
        best_model_total = model_mode(p, &lm, src, n, block, classic_total, external, model_stored, &msc, &es, &s);
        rep.encode_seconds = es;
        if (s != OZIP_OK)
            goto done;
    }

    /* 3. the smaller of the two frames (a given or forced model is always used) */
    use_model = have_model && (p->model || p->force_model || best_model_total < classic_total);
    memset(&f, 0, sizeof f);
    f.original_size = n;
    f.content_xxh64 = XXH64(src, n, 0);
    if (use_model) {
        uint32_t used = 0;
        ns = (uint32_t)((n + block - 1) / block);
        for (k = 0; k < ns; k++)
            used += msc[k].method == OZ_M_MODEL;
        f.flags = used ? OZ_F_MODEL | (external ? OZ_F_MODEL_EXTERNAL : 0) : 0;
        f.stream_block = block;
        f.stream_count = ns;
        f.model_coding = model_coding;
        f.model_size = lm.size;
        f.model_stored = external ? 0 : model_stored;
        f.model_xxh64 = lm.xxh64;
    } else if (have_model && classic_total == UINT64_MAX) {
        s = oz_fail(p, OZIP_ERR_INTERNAL, "no coding chosen");
        goto done;
    } else {
        if (classic_total == UINT64_MAX) {
            s = oz_fail(p, OZIP_ERR_PARAM, "inputs over %llu bytes need a model (do not use --no-model)",
                        (unsigned long long)OZ_CLASSIC_WHOLE_MAX);
            goto done;
        }
        ns = 1;
        f.stream_block = (uint32_t)n;
        f.stream_count = 1;
        if (have_model)
            snprintf(rep.model_desc + strlen(rep.model_desc), sizeof rep.model_desc - strlen(rep.model_desc),
                     " - not used: a classic method is smaller");
    }
    xxh = calloc(ns, sizeof *xxh);
    if (!xxh) {
        s = oz_fail(p, OZIP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (k = 0; k < ns; k++) {
        uint64_t off = (uint64_t)k * f.stream_block;
        xxh[k] = (uint32_t)XXH64(src + off, oz_stream_len(&f, k), 0);
    }
    s = assemble(p, &f, model_payload, use_model ? msc : csc, xxh, dst, dst_n);
    if (s == OZIP_OK) {
        rep.compressed_size = *dst_n;
        rep.header_bytes = oz_header_bytes(&f);
        rep.model_bytes = use_model ? f.model_stored : 0;
        rep.stream_bytes = *dst_n - rep.header_bytes - rep.model_bytes;
        rep.streams = ns;
        for (k = 0; k < ns; k++)
            rep.model_streams += (use_model ? msc : csc)[k].method == OZ_M_MODEL;
    }
done:
    if (s == OZIP_OK && n == 0) {
        rep.compressed_size = *dst_n;
        rep.header_bytes = *dst_n;
    }
    rep.frames = 1;
    if (p->report)
        *p->report = rep;
    for (i = 0; i < ncj; i++)
        free(cj[i].out);
    free(csc);
    free_choices(msc, have_model ? (uint32_t)((n + block - 1) / block) : 0);
    free(model_payload);
    free(xxh);
    oz_loaded_model_free(&lm);
    return s;
}

/* ------------------------------------------------ frames (input > frame size) */

/* Where the frames' input comes from: a buffer (each piece a slice of it) or
 * a reader (each piece read into buf) */
typedef struct frame_src {
    const uint8_t *mem;
    size_t n, pos;
    ozip_read_fn read;
    void *ruser;
    uint8_t *buf;
    size_t cap;
    int eof;
} frame_src;

/* Reads into buf until it holds `want` bytes (fewer only at the input's
 * end: *eof), never more: what follows is the next frame's or piece's */
static ozip_status stream_fill(ozip_read_fn read, void *user, uint8_t **buf, size_t *cap, size_t *have,
                               uint64_t want, int *eof, const ozip_params *p)
{
    if (want > (uint64_t)SIZE_MAX / 2)
        return oz_fail(p, OZIP_ERR_NOMEM, "a frame of %llu bytes does not fit in memory", (unsigned long long)want);
    while (*have < want && !*eof) {
        size_t got = 0, room;
        int err;
        if (*have == *cap) {
            /* grown with the bytes that arrive, not with the size the
             * header claims (a damaged one could claim terabytes) */
            size_t c = *cap ? *cap * 2 : 65536;
            uint8_t *nb;
            if (c > want && want >= 65536)
                c = (size_t)want;
            nb = realloc(*buf, c);
            if (!nb)
                return oz_fail(p, OZIP_ERR_NOMEM, "out of memory for a frame of %llu bytes", (unsigned long long)want);
            *buf = nb;
            *cap = c;
        }
        room = *cap - *have < (size_t)want - *have ? *cap - *have : (size_t)want - *have;
        err = read(user, *buf + *have, room, &got);
        if (err)
            return oz_fail(p, OZIP_ERR_IO, "reading the input failed: %s", err > 0 ? strerror(err) : "error");
        if (got == 0)
            *eof = 1;
        *have += got;
    }
    return OZIP_OK;
}

/* The next piece of at most max bytes (*n fewer only at the end) */
static ozip_status next_piece(frame_src *fs, size_t max, const uint8_t **piece, size_t *n, const ozip_params *p)
{
    size_t have = 0;
    ozip_status s;
    if (fs->mem || !fs->read) {
        *n = fs->n - fs->pos < max ? fs->n - fs->pos : max;
        *piece = fs->mem + fs->pos;
        fs->pos += *n;
        fs->eof = fs->pos == fs->n;
        return OZIP_OK;
    }
    s = stream_fill(fs->read, fs->ruser, &fs->buf, &fs->cap, &have, max, &fs->eof, p);
    if (s != OZIP_OK)
        return s;
    *piece = fs->buf;
    *n = have;
    fs->pos += have;
    return OZIP_OK;
}

/* the report over several frames: sizes, counts and times added up; the
 * model, device and loss are the first frame's */
static void report_add(ozip_report *sum, const ozip_report *r, uint32_t k)
{
    if (k == 0) {
        *sum = *r;
        return;
    }
    sum->original_size += r->original_size;
    sum->compressed_size += r->compressed_size;
    sum->header_bytes += r->header_bytes;
    sum->model_bytes += r->model_bytes;
    sum->stream_bytes += r->stream_bytes;
    sum->streams += r->streams;
    sum->model_streams += r->model_streams;
    sum->xz_size += r->xz_size;
    sum->zstd_size += r->zstd_size;
    sum->train_seconds += r->train_seconds;
    sum->encode_seconds += r->encode_seconds;
    sum->frames += r->frames;
}

/* errbuf's message with pre put before it (cut to fit) */
static void errbuf_prefix(const ozip_params *p, const char *pre)
{
    size_t lp = strlen(pre), lm;
    if (!p->errbuf || lp + 1 > p->errbuf_size)
        return;
    lm = strnlen(p->errbuf, p->errbuf_size - 1);
    if (lp + lm + 1 > p->errbuf_size)
        lm = p->errbuf_size - lp - 1;
    memmove(p->errbuf + lp, p->errbuf, lm);
    memcpy(p->errbuf, pre, lp);
    p->errbuf[lp + lm] = 0;
}

/* errbuf's message prefixed with "frame K (input byte N): " */
static void input_note(const ozip_params *p, uint32_t k, uint64_t at)
{
    char pre[80];
    snprintf(pre, sizeof pre, "frame %u (input byte %llu): ", k + 1, (unsigned long long)at);
    errbuf_prefix(p, pre);
}

/* Progress with the frame's number (ozip_progress.frame) */
typedef struct frame_prog {
    const ozip_params *outer;
    uint32_t frame;
} frame_prog;

static int frame_prog_cb(void *user, const ozip_progress *pr)
{
    frame_prog *fp = (frame_prog *)user;
    ozip_progress q = *pr;
    q.frame = fp->frame;
    return fp->outer->progress(fp->outer->progress_user, &q);
}

/* The input a frame per frame_size bytes, each frame compressed and given
 * to write() (one call, the whole frame) before the next piece is taken */
static ozip_status compress_frames(frame_src *fs, ozip_write_fn write, void *user, const ozip_params *pp)
{
    ozip_params q = *pp;
    ozip_report r, sum;
    uint64_t frame = pp->frame_size ? pp->frame_size : OZ_FRAME_DEFAULT;
    size_t max = frame < SIZE_MAX / 2 ? (size_t)frame : SIZE_MAX / 2;
    uint32_t k;
    ozip_status s = OZIP_OK;
    frame_prog fp;
    void *lent = NULL; /* the model the later frames are coded with */
    size_t lent_n = 0;
    memset(&sum, 0, sizeof sum);
    q.report = &r;
    fp.outer = pp;
    fp.frame = 0;
    if (pp->progress) {
        q.progress = frame_prog_cb;
        q.progress_user = &fp;
    }
    for (k = 0;; k++) {
        const uint8_t *piece = NULL;
        size_t n = 0, out_n = 0;
        uint64_t at = fs->pos;
        void *out = NULL;
        int err;
        s = next_piece(fs, max, &piece, &n, &q);
        if (s != OZIP_OK || (k > 0 && n == 0)) /* the input ended at a frame's end */
            break;
        memset(&r, 0, sizeof r);
        fp.frame = k > 0 || !fs->eof ? k + 1 : 0; /* one of several */
        s = compress_frame(piece, n, &out, &out_n, &q);
        if (s == OZIP_OK && (err = write(user, out, out_n)) != 0)
            s = oz_fail(&q, OZIP_ERR_IO, "writing the output failed: %s", err > 0 ? strerror(err) : "error");
        /* the first model a frame used codes the frames after it (embedded
         * in each): one training, as for one frame, unless each frame is
         * to train its own */
        if (s == OZIP_OK && !fs->eof && !lent && !pp->model && !pp->train_each_frame && r.model_streams > 0) {
            if (ozip_extract_model(out, out_n, &lent, &lent_n, &q) == OZIP_OK) {
                q.model = lent;
                q.model_size = lent_n;
                q.model_external = 0;
                oz_log(&q, 1, "frame %u's model codes the frames after it", k + 1);
            } else if (q.errbuf && q.errbuf_size) {
                q.errbuf[0] = 0; /* not an error: the next frames train their own */
            }
        }
        free(out);
        if (s != OZIP_OK) {
            if (s != OZIP_ERR_IO && (k > 0 || !fs->eof))
                input_note(&q, k, at);
            break;
        }
        report_add(&sum, &r, k);
        if (k > 0 || !fs->eof)
            oz_log(&q, 1, "frame %u (input byte %llu): %zu -> %zu bytes", k + 1, (unsigned long long)at, n, out_n);
        if (fs->eof)
            break;
    }
    if (s == OZIP_OK && pp->report)
        *pp->report = sum;
    free(lent);
    return s;
}

/* ozip_compress's writer: the frames appended to one buffer */
typedef struct grow {
    uint8_t *b;
    size_t n, cap;
} grow;

static int grow_write(void *user, const void *data, size_t n)
{
    grow *g = (grow *)user;
    if (n > g->cap - g->n) {
        size_t c = g->cap ? g->cap : 4096;
        uint8_t *nb;
        while (c - g->n < n) {
            if (c > SIZE_MAX / 2)
                return ENOMEM;
            c *= 2;
        }
        nb = realloc(g->b, c);
        if (!nb)
            return ENOMEM;
        g->b = nb;
        g->cap = c;
    }
    memcpy(g->b + g->n, data, n);
    g->n += n;
    return 0;
}

ozip_status ozip_compress(const void *src, size_t n, void **dst, size_t *dst_n, const ozip_params *pp)
{
    ozip_params dp;
    const ozip_params *p = pp;
    frame_src fs;
    grow g;
    ozip_status s;
    if (!p) {
        ozip_params_init(&dp);
        p = &dp;
    }
    if (n <= (p->frame_size ? p->frame_size : OZ_FRAME_DEFAULT)) /* one frame */
        return compress_frame(src, n, dst, dst_n, p);
    if (!dst || !dst_n)
        return oz_fail(p, OZIP_ERR_PARAM, "NULL buffer");
    memset(&fs, 0, sizeof fs);
    memset(&g, 0, sizeof g);
    fs.mem = (const uint8_t *)src;
    fs.n = n;
    s = compress_frames(&fs, grow_write, &g, p);
    if (s != OZIP_OK) {
        free(g.b);
        if (s == OZIP_ERR_IO) /* grow_write: only memory can fail it */
            s = oz_fail(p, OZIP_ERR_NOMEM, "out of memory for the output");
        return s;
    }
    *dst = g.b;
    *dst_n = g.n;
    return OZIP_OK;
}

ozip_status ozip_compress_to(const void *src, size_t n, ozip_write_fn write, void *user, const ozip_params *pp)
{
    ozip_params dp;
    const ozip_params *p = pp;
    frame_src fs;
    if (!p) {
        ozip_params_init(&dp);
        p = &dp;
    }
    if (!write || (!src && n))
        return oz_fail(p, OZIP_ERR_PARAM, "NULL buffer or writer");
    memset(&fs, 0, sizeof fs);
    fs.mem = (const uint8_t *)src;
    fs.n = n;
    return compress_frames(&fs, write, user, p);
}

ozip_status ozip_compress_stream(ozip_read_fn read, void *ruser, ozip_write_fn write, void *wuser,
                                 const ozip_params *pp)
{
    ozip_params dp;
    const ozip_params *p = pp;
    frame_src fs;
    ozip_status s;
    if (!p) {
        ozip_params_init(&dp);
        p = &dp;
    }
    if (!read || !write)
        return oz_fail(p, OZIP_ERR_PARAM, "NULL reader or writer");
    memset(&fs, 0, sizeof fs);
    fs.read = read;
    fs.ruser = ruser;
    s = compress_frames(&fs, write, wuser, p);
    free(fs.buf);
    return s;
}

/* ============================================================== decompress */

/* A parsed frame: header fields, index and payload offsets. */
typedef struct parsed {
    oz_frame f;
    oz_index_entry *idx;
    uint64_t *off; /* payload offset of each stream */
    uint64_t model_off;
    uint64_t total; /* bytes the frame occupies */
} parsed;

static void parsed_free(parsed *pf)
{
    free(pf->idx);
    free(pf->off);
    pf->idx = NULL;
    pf->off = NULL;
}

static ozip_status core_err(const ozip_params *p, int rc, const char *what)
{
    switch (rc) {
    case OZ_CORE_ETRUNC:
        return oz_fail(p, OZIP_ERR_TRUNCATED, "%s: file is truncated", what);
    case OZ_CORE_EVERSION:
        return oz_fail(p, OZIP_ERR_VERSION, "%s: made by a newer ozip or uses an unknown feature", what);
    default:
        return oz_fail(p, OZIP_ERR_CORRUPT, "%s is corrupt", what);
    }
}

/* The frame at b: header, descriptor and index checked, pf->total its
 * whole size; the payloads need not be there yet (parse_frame checks that).
 * *need, if not NULL, gets how many bytes a truncated head needs. */
static ozip_status parse_head(const uint8_t *b, size_t n, parsed *pf, uint64_t *need, const ozip_params *p)
{
    uint64_t hb, pos, i;
    int rc;
    memset(pf, 0, sizeof *pf);
    if (need)
        *need = OZ_FRAME_HEADER;
    if (!oz_is_frame(b, n)) {
        if (n < OZ_MAGIC_LEN && n > 0 && memcmp(b, OZ_MAGIC, n) == 0)
            return oz_fail(p, OZIP_ERR_TRUNCATED, "file is truncated (only %zu bytes)", n);
        return oz_fail(p, OZIP_ERR_NOT_OZIP, "not an .oz file (no ozip magic number)");
    }
    rc = oz_frame_read(b, n, &pf->f);
    if (rc == OZ_CORE_ETRUNC && need && n >= OZ_FRAME_HEADER)
        *need = OZ_FRAME_HEADER + OZ_MODEL_DESC; /* the header, then its model descriptor */
    if (rc != OZ_CORE_OK)
        return core_err(p, rc, "frame header");
    hb = oz_header_bytes(&pf->f);
    if (need)
        *need = hb;
    if (hb > n)
        return oz_fail(p, OZIP_ERR_TRUNCATED, "file is truncated inside its header");
    if (oz_rd32(b + hb - 4) != (uint32_t)XXH64(b, (size_t)(hb - 4), 0))
        return oz_fail(p, OZIP_ERR_CORRUPT, "header checksum mismatch: the header or index is damaged");
    pf->idx = calloc(pf->f.stream_count ? pf->f.stream_count : 1, sizeof *pf->idx);
    pf->off = calloc(pf->f.stream_count ? pf->f.stream_count : 1, sizeof *pf->off);
    if (!pf->idx || !pf->off) {
        parsed_free(pf);
        return oz_fail(p, OZIP_ERR_NOMEM, "out of memory reading the index");
    }
    pos = hb;
    pf->model_off = pos;
    if ((pf->f.flags & OZ_F_MODEL) && !(pf->f.flags & OZ_F_MODEL_EXTERNAL))
        pos += pf->f.model_stored;
    for (i = 0; i < pf->f.stream_count; i++) {
        rc = oz_index_read(b, &pf->f, (uint32_t)i, &pf->idx[i]);
        if (rc != OZ_CORE_OK) {
            parsed_free(pf);
            return core_err(p, rc, "stream index");
        }
        pf->off[i] = pos;
        pos += pf->idx[i].stored_size;
    }
    pf->total = pos; /* what follows is the next frame's (frame_at) */
    return OZIP_OK;
}

static ozip_status parse_frame(const uint8_t *b, size_t n, parsed *pf, const ozip_params *p)
{
    ozip_status s = parse_head(b, n, pf, NULL, p);
    if (s == OZIP_OK && pf->total > n) {
        uint64_t total = pf->total;
        parsed_free(pf);
        return oz_fail(p, OZIP_ERR_TRUNCATED, "file is truncated: %llu bytes expected, %zu present",
                       (unsigned long long)total, n);
    }
    return s;
}

/* errbuf's message prefixed with "frame K (at byte POS): " for a frame after
 * the first */
static void frame_note(const ozip_params *p, uint32_t k, size_t pos)
{
    char pre[64];
    if (k == 0)
        return;
    snprintf(pre, sizeof pre, "frame %u (at byte %zu): ", k + 1, pos);
    errbuf_prefix(p, pre);
}

/* Frame k (from 0) of a buffer, at byte pos < n (docs/format.md, "Several
 * frames"): after the first, the bytes left must begin a frame; anything
 * else is trailing data. */
static ozip_status frame_at(const uint8_t *b, size_t n, size_t pos, uint32_t k, parsed *pf, const ozip_params *p)
{
    ozip_status s;
    if (k > 0) {
        size_t left = n - pos;
        if (memcmp(b + pos, OZ_MAGIC, left < OZ_MAGIC_LEN ? left : OZ_MAGIC_LEN) != 0) {
            memset(pf, 0, sizeof *pf);
            return oz_fail(p, OZIP_ERR_CORRUPT, "%zu bytes of trailing data after the last .oz frame (at byte %zu)",
                           left, pos);
        }
    }
    s = parse_frame(b + pos, n - pos, pf, p);
    if (s != OZIP_OK)
        frame_note(p, k, pos);
    return s;
}

/* Every frame's header and index, checked: their number, the content's
 * total size and (model_total, if not NULL) how much of it is model-coded. */
static ozip_status frames_scan(const uint8_t *b, size_t n, uint32_t *count, uint64_t *total, uint64_t *model_total,
                               const ozip_params *p)
{
    size_t pos = 0;
    uint32_t k, i;
    uint64_t sum = 0, msum = 0;
    for (k = 0; k == 0 || pos < n; k++) {
        parsed pf;
        ozip_status s = frame_at(b, n, pos, k, &pf, p);
        if (s != OZIP_OK)
            return s;
        if (pf.f.original_size > UINT64_MAX - sum) {
            parsed_free(&pf);
            return oz_fail(p, OZIP_ERR_CORRUPT, "the frames' sizes add up to more than 2^64 bytes");
        }
        sum += pf.f.original_size;
        for (i = 0; i < pf.f.stream_count; i++)
            if (pf.idx[i].method == OZ_M_MODEL)
                msum += oz_stream_len(&pf.f, i);
        pos += (size_t)pf.total;
        parsed_free(&pf);
    }
    *count = k;
    *total = sum;
    if (model_total)
        *model_total = msum;
    return OZIP_OK;
}

/* Loads the frame's model (embedded, or the external one the caller gave). */
static ozip_status load_model(const uint8_t *b, const parsed *pf, oz_loaded_model *lm, const ozip_params *p)
{
    const oz_frame *f = &pf->f;
    ozip_status s;
    if (!(f->flags & OZ_F_MODEL_EXTERNAL))
        return oz_model_decode(b + pf->model_off, f->model_stored, f->model_coding, f->model_size,
                               f->model_xxh64, lm, p);
    if (!p->model)
        return oz_fail(p, OZIP_ERR_MODEL_REQUIRED,
                       "this file was compressed with an external model (XXH64 %016llx): pass it with --model",
                       (unsigned long long)f->model_xxh64);
    s = oz_model_file_load(p->model, p->model_size, lm, p);
    if (s != OZIP_OK)
        return s;
    if (lm->xxh64 != f->model_xxh64 || lm->size != f->model_size) {
        oz_loaded_model_free(lm);
        return oz_fail(p, OZIP_ERR_MODEL_MISMATCH,
                       "the model given (XXH64 %016llx) is not the one this file needs (XXH64 %016llx)",
                       (unsigned long long)lm->xxh64, (unsigned long long)f->model_xxh64);
    }
    return OZIP_OK;
}

typedef struct dec_ctx {
    const uint8_t *b;
    const parsed *pf;
    const uint32_t *which; /* stream numbers to decode */
    uint8_t **out;         /* output pointer per entry of which */
    int *rc;
} dec_ctx;

static void classic_dec_task(void *arg, uint32_t k)
{
    dec_ctx *c = (dec_ctx *)arg;
    uint32_t i = c->which[k];
    const oz_index_entry *e = &c->pf->idx[i];
    const uint8_t *in = c->b + c->pf->off[i];
    uint64_t len = oz_stream_len(&c->pf->f, i);
    if (e->method == OZ_M_RAW) {
        memcpy(c->out[k], in, len);
        c->rc[k] = 0;
    } else if (e->method == OZ_M_LZMA2) {
        c->rc[k] = classic_lzma2_decode(in, e->stored_size, c->out[k], len);
    } else if (e->method == OZ_M_ZSTD) {
        c->rc[k] = classic_zstd_decode(in, e->stored_size, c->out[k], len);
    } else if (e->method == OZ_M_BZIP2) {
        c->rc[k] = classic_bzip2_decode(in, e->stored_size, c->out[k], len);
    } else if (e->method == OZ_M_BROTLI) {
        c->rc[k] = classic_brotli_decode(in, e->stored_size, c->out[k], len);
    }
}

/* Decodes the listed streams into out[k] and checks each stream's checksum. */
static ozip_status decode_streams(const uint8_t *b, const parsed *pf, const uint32_t *which, uint32_t nw,
                                  uint8_t **out, const ozip_params *p)
{
    oz_loaded_model lm;
    const oz_backend *be = NULL;
    uint32_t *cw = calloc(nw ? nw : 1, sizeof *cw), ncw = 0, k, nm = 0;
    uint8_t **cout = calloc(nw ? nw : 1, sizeof *cout);
    int *crc = calloc(nw ? nw : 1, sizeof *crc);
    oz_stream_job *jobs = calloc(nw ? nw : 1, sizeof *jobs);
    uint32_t *jw = calloc(nw ? nw : 1, sizeof *jw);
    ozip_status s = OZIP_OK;
    dec_ctx c;
    memset(&lm, 0, sizeof lm);
    if (!cw || !cout || !crc || !jobs || !jw) {
        s = oz_fail(p, OZIP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (k = 0; k < nw; k++) {
        uint32_t i = which[k];
        if (pf->idx[i].method == OZ_M_MODEL) {
            jobs[nm].in = b + pf->off[i];
            jobs[nm].in_len = pf->idx[i].stored_size;
            jobs[nm].out = out[k];
            jobs[nm].out_len = oz_stream_len(&pf->f, i);
            jw[nm++] = k;
        } else {
            cw[ncw] = i;
            cout[ncw++] = out[k];
        }
    }
    if (nm) {
        s = oz_backend_for(p, &be);
        if (s != OZIP_OK)
            goto done;
        s = load_model(b, pf, &lm, p);
        if (s != OZIP_OK)
            goto done;
        s = be->decode(&lm, jobs, nm, oz_threads(p), p);
        if (s != OZIP_OK)
            goto done;
        for (k = 0; k < nm; k++)
            if (jobs[k].rc != OZ_CORE_OK) {
                s = oz_fail(p, jobs[k].rc == OZ_CORE_ETRUNC ? OZIP_ERR_TRUNCATED : OZIP_ERR_CORRUPT,
                            "stream %u (model-coded) is %s", which[jw[k]],
                            jobs[k].rc == OZ_CORE_ETRUNC ? "truncated" : "corrupt");
                goto done;
            }
    }
    c.b = b;
    c.pf = pf;
    c.which = cw;
    c.out = cout;
    c.rc = crc;
    oz_parallel(oz_threads(p), ncw, classic_dec_task, &c);
    for (k = 0; k < ncw; k++)
        if (crc[k]) {
            static const char *names[] = {"stored", "model", "xz", "zstd", "bzip2", "brotli"};
            s = oz_fail(p, OZIP_ERR_CORRUPT, "stream %u (%s) is corrupt", cw[k], names[pf->idx[cw[k]].method]);
            goto done;
        }
    for (k = 0; k < nw; k++) {
        uint32_t i = which[k];
        if ((uint32_t)XXH64(out[k], (size_t)oz_stream_len(&pf->f, i), 0) != pf->idx[i].xxh32) {
            s = oz_fail(p, OZIP_ERR_CHECKSUM, "stream %u checksum mismatch: the data is corrupt", i);
            goto done;
        }
    }
done:
    oz_loaded_model_free(&lm);
    free(cw);
    free(cout);
    free(crc);
    free(jobs);
    free(jw);
    return s;
}

/* Streams first .. first + m - 1 of a parsed frame into dest, one after
 * the other (which, outs: room for m entries) */
static ozip_status decode_run(const uint8_t *b, const parsed *pf, uint32_t first, uint32_t m, uint8_t *dest,
                              uint32_t *which, uint8_t **outs, const ozip_params *p)
{
    uint32_t j;
    for (j = 0; j < m; j++) {
        which[j] = first + j;
        outs[j] = dest + (uint64_t)j * pf->f.stream_block;
    }
    return decode_streams(b, pf, which, m, outs, p);
}

/* Bytes [lo, hi) of one parsed frame's content into dst, decoding only the
 * streams that hold them (each checked by its own checksum) */
static ozip_status decode_frame_range(const uint8_t *b, const parsed *pf, uint64_t lo, uint64_t hi, uint8_t *dst,
                                      const ozip_params *p)
{
    uint32_t first = (uint32_t)(lo / pf->f.stream_block), last = (uint32_t)((hi - 1) / pf->f.stream_block);
    uint32_t nw = last - first + 1, *which = calloc(nw, sizeof *which);
    uint8_t *buf = malloc((size_t)nw * pf->f.stream_block), **outs = calloc(nw, sizeof *outs);
    ozip_status s;
    if (!buf || !which || !outs) {
        s = oz_fail(p, OZIP_ERR_NOMEM, "out of memory");
    } else {
        s = decode_run(b, pf, first, nw, buf, which, outs, p);
        if (s == OZIP_OK)
            memcpy(dst, buf + (lo - (uint64_t)first * pf->f.stream_block), (size_t)(hi - lo));
    }
    free(buf);
    free(which);
    free(outs);
    return s;
}

/* the decode fields of the report start empty; each frame's decode adds */
static void report_reset(const ozip_params *p)
{
    if (p->report) {
        p->report->decode_device[0] = 0;
        p->report->device_cycles = 0;
        p->report->device_mhz = 0;
        p->report->device_bytes = 0;
    }
}

/* Decoding progress over a whole file: the backends count the model-coded
 * bytes of one call (one group of streams); this adds the groups before it
 * and gives the file's total. */
typedef struct prog_shim {
    const ozip_params *outer;
    uint64_t base, total;
} prog_shim;

static int prog_shim_cb(void *user, const ozip_progress *pr)
{
    prog_shim *sh = (prog_shim *)user;
    ozip_progress q = *pr;
    if (q.phase == OZIP_PHASE_DECODE) {
        q.done += sh->base;
        q.total = sh->total;
    }
    return sh->outer->progress(sh->outer->progress_user, &q);
}

#define OZ_DECODE_BUFFER_DEFAULT ((uint64_t)256 << 20)

/* The content of every frame of b[n] (frames_scan found `frames` of them),
 * decoded `group` streams at a time. direct: the whole output, decoded in
 * place (a frame's content checksum checked after its last group); else
 * each group goes to write() once its streams have matched their checksums,
 * a frame's last group only once the frame's content checksum matched. */
static ozip_status decode_frames(const uint8_t *b, size_t n, uint32_t frames, uint64_t model_total, uint8_t *direct,
                                 uint64_t budget, ozip_write_fn write, void *user, const ozip_params *pp)
{
    ozip_params q = *pp;
    const ozip_params *p = &q;
    prog_shim sh;
    uint8_t *buf = NULL, **outs = NULL;
    uint32_t *which = NULL, k, cap_streams = 0;
    uint64_t done = 0, buf_cap = 0;
    size_t pos = 0;
    ozip_status s = OZIP_OK;
    XXH64_state_t *st = XXH64_createState();
    sh.outer = pp;
    sh.base = 0;
    sh.total = model_total;
    if (pp->progress) {
        q.progress = prog_shim_cb;
        q.progress_user = &sh;
    }
    if (!st)
        return oz_fail(p, OZIP_ERR_NOMEM, "out of memory");
    for (k = 0; k < frames && s == OZIP_OK; k++) {
        parsed pf;
        uint32_t ns, group, i, j;
        s = frame_at(b, n, pos, k, &pf, p);
        if (s != OZIP_OK)
            break;
        ns = pf.f.stream_count;
        /* streams per group: all of them in place, else as many as the
         * budget holds (at least one: a stream is never split) */
        {
            uint64_t g = direct ? ns : budget / pf.f.stream_block;
            group = g < 1 ? 1 : g > ns ? ns : (uint32_t)g; /* in 64 bits: a large budget over small streams */
        }
        if (group > cap_streams) {
            free(which);
            free(outs);
            which = calloc(group, sizeof *which);
            outs = calloc(group, sizeof *outs);
            cap_streams = which && outs ? group : 0;
            if (!cap_streams)
                s = oz_fail(p, OZIP_ERR_NOMEM, "out of memory");
        }
        if (s == OZIP_OK && !direct && ns) {
            uint64_t need = (uint64_t)group * pf.f.stream_block;
            if (need > pf.f.original_size)
                need = pf.f.original_size;
            if (need > buf_cap) {
                free(buf);
                buf = need <= (uint64_t)SIZE_MAX - 64 ? malloc((size_t)need) : NULL;
                buf_cap = buf ? need : 0;
                if (!buf)
                    s = oz_fail(p, OZIP_ERR_NOMEM, "out of memory for %llu bytes of output",
                                (unsigned long long)need);
            }
        }
        XXH64_reset(st, 0);
        for (i = 0; i < ns && s == OZIP_OK; i += group) {
            uint32_t m = ns - i < group ? ns - i : group;
            uint64_t at = (uint64_t)i * pf.f.stream_block, end = at + (uint64_t)m * pf.f.stream_block;
            uint8_t *dest = direct ? direct + done + at : buf;
            if (end > pf.f.original_size)
                end = pf.f.original_size;
            s = decode_run(b + pos, &pf, i, m, dest, which, outs, p);
            if (s != OZIP_OK)
                break;
            for (j = 0; j < m; j++)
                if (pf.idx[i + j].method == OZ_M_MODEL)
                    sh.base += oz_stream_len(&pf.f, i + j);
            XXH64_update(st, dest, (size_t)(end - at));
            if (i + m == ns && XXH64_digest(st) != pf.f.content_xxh64) {
                s = oz_fail(p, OZIP_ERR_CHECKSUM, "content checksum mismatch: the data is corrupt");
                break;
            }
            if (!direct) {
                int err = write(user, dest, (size_t)(end - at));
                if (err) {
                    s = oz_fail(p, OZIP_ERR_IO, "writing the output failed: %s", err > 0 ? strerror(err) : "error");
                    break;
                }
            }
        }
        if (s == OZIP_OK && ns == 0 && XXH64_digest(st) != pf.f.content_xxh64)
            s = oz_fail(p, OZIP_ERR_CHECKSUM, "content checksum mismatch: the data is corrupt");
        if (s != OZIP_OK && s != OZIP_ERR_IO)
            frame_note(p, k, pos);
        done += pf.f.original_size;
        pos += (size_t)pf.total;
        parsed_free(&pf);
    }
    XXH64_freeState(st);
    free(buf);
    free(which);
    free(outs);
    return s;
}

/* The whole content (frames_scan's total) decoded and checked into a new
 * buffer *out */
static ozip_status decode_whole(const uint8_t *b, size_t n, uint32_t frames, uint64_t total, uint64_t model_total,
                                uint8_t **out, const ozip_params *p)
{
    ozip_status s;
    if (total > (uint64_t)SIZE_MAX - 64)
        return oz_fail(p, OZIP_ERR_NOMEM, "original size %llu does not fit in memory", (unsigned long long)total);
    *out = malloc(total ? (size_t)total : 1);
    if (!*out)
        return oz_fail(p, OZIP_ERR_NOMEM, "out of memory for %llu output bytes", (unsigned long long)total);
    s = decode_frames(b, n, frames, model_total, *out, 0, NULL, NULL, p);
    if (s != OZIP_OK) {
        free(*out);
        *out = NULL;
    }
    return s;
}

/* frames_scan's frames of b[n] to write(): whole when the content fits
 * decode_buffer, else in checked pieces (decode_frames) */
static ozip_status decode_to(const uint8_t *b, size_t n, uint32_t frames, uint64_t total, uint64_t model_total,
                             ozip_write_fn write, void *user, const ozip_params *p)
{
    uint64_t budget = p->decode_buffer ? p->decode_buffer : OZ_DECODE_BUFFER_DEFAULT;
    if (total <= budget && total <= (uint64_t)SIZE_MAX - 64) {
        /* it fits: all decoded and checked before any of it is written */
        uint8_t *out = NULL;
        int err;
        ozip_status s = decode_whole(b, n, frames, total, model_total, &out, p);
        if (s == OZIP_OK && total && (err = write(user, out, (size_t)total)) != 0)
            s = oz_fail(p, OZIP_ERR_IO, "writing the output failed: %s", err > 0 ? strerror(err) : "error");
        free(out);
        return s;
    }
    return decode_frames(b, n, frames, model_total, NULL, budget, write, user, p);
}

ozip_status ozip_decompress(const void *srcv, size_t n, void **dst, size_t *dst_n, const ozip_params *pp)
{
    ozip_params dp;
    const ozip_params *p = pp;
    const uint8_t *b = (const uint8_t *)srcv;
    uint8_t *out;
    uint64_t total, model_total;
    uint32_t frames;
    ozip_status s;
    if (!p) {
        ozip_params_init(&dp);
        p = &dp;
    }
    if (!dst || !dst_n || (!b && n))
        return oz_fail(p, OZIP_ERR_PARAM, "NULL buffer");
    s = frames_scan(b, n, &frames, &total, &model_total, p);
    if (s != OZIP_OK)
        return s;
    report_reset(p);
    s = decode_whole(b, n, frames, total, model_total, &out, p);
    if (s != OZIP_OK)
        return s;
    *dst = out;
    *dst_n = (size_t)total;
    return OZIP_OK;
}

ozip_status ozip_decompress_to(const void *srcv, size_t n, ozip_write_fn write, void *user, const ozip_params *pp)
{
    ozip_params dp;
    const ozip_params *p = pp;
    const uint8_t *b = (const uint8_t *)srcv;
    uint64_t total, model_total;
    uint32_t frames;
    ozip_status s;
    if (!p) {
        ozip_params_init(&dp);
        p = &dp;
    }
    if (!write || (!b && n))
        return oz_fail(p, OZIP_ERR_PARAM, "NULL buffer or writer");
    s = frames_scan(b, n, &frames, &total, &model_total, p);
    if (s != OZIP_OK)
        return s;
    report_reset(p);
    return decode_to(b, n, frames, total, model_total, write, user, p);
}

ozip_status ozip_decompress_stream(ozip_read_fn read, void *ruser, ozip_write_fn write, void *wuser,
                                   const ozip_params *pp)
{
    ozip_params dp;
    const ozip_params *p = pp;
    ozip_params q;
    frame_prog fp;
    uint8_t *buf = NULL;
    size_t cap = 0, have = 0;
    uint64_t pos = 0; /* the frame's place in the input */
    uint32_t k, i;
    int eof = 0;
    ozip_status s = OZIP_OK;
    if (!p) {
        ozip_params_init(&dp);
        p = &dp;
    }
    if (!read || !write)
        return oz_fail(p, OZIP_ERR_PARAM, "NULL reader or writer");
    report_reset(p);
    fp.outer = p;
    fp.frame = 0;
    q = *p;
    if (p->progress) {
        q.progress = frame_prog_cb;
        q.progress_user = &fp;
    }
    for (k = 0; s == OZIP_OK; k++) {
        parsed pf;
        uint64_t need = OZ_FRAME_HEADER, model_total = 0;
        s = stream_fill(read, ruser, &buf, &cap, &have, need, &eof, p);
        if (s != OZIP_OK || (k > 0 && have == 0)) /* the input ends after a frame */
            break;
        if (k > 0 && memcmp(buf, OZ_MAGIC, have < OZ_MAGIC_LEN ? have : OZ_MAGIC_LEN) != 0) {
            s = oz_fail(p, OZIP_ERR_CORRUPT, "trailing data after the last .oz frame (at byte %llu)",
                        (unsigned long long)pos);
            break;
        }
        /* the header tells how long the descriptor and index are, they how
         * long the frame is; each read in full before it is parsed */
        while ((s = parse_head(buf, have, &pf, &need, p)) == OZIP_ERR_TRUNCATED && need > have && !eof) {
            s = stream_fill(read, ruser, &buf, &cap, &have, need, &eof, p);
            if (s != OZIP_OK)
                break;
        }
        if (s == OZIP_OK) {
            s = stream_fill(read, ruser, &buf, &cap, &have, pf.total, &eof, p);
            parsed_free(&pf);
            if (s == OZIP_OK)
                s = parse_frame(buf, have, &pf, p); /* checks that the payloads are all there */
        }
        if (s != OZIP_OK) {
            if (s != OZIP_ERR_IO && s != OZIP_ERR_NOMEM)
                frame_note(p, k, (size_t)pos);
            break;
        }
        for (i = 0; i < pf.f.stream_count; i++)
            if (pf.idx[i].method == OZ_M_MODEL)
                model_total += oz_stream_len(&pf.f, i);
        need = pf.total;
        fp.frame = k + 1; /* whether more follow cannot be told yet */
        s = decode_to(buf, (size_t)need, 1, pf.f.original_size, model_total, write, wuser, &q);
        parsed_free(&pf);
        if (s != OZIP_OK) {
            if (s != OZIP_ERR_IO)
                frame_note(p, k, (size_t)pos);
            break;
        }
        have = 0; /* stream_fill read no further than this frame */
        pos += need;
    }
    free(buf);
    return s;
}

ozip_status ozip_decompress_range(const void *srcv, size_t n, uint64_t offset, uint64_t len, void *dstv,
                                  const ozip_params *pp)
{
    ozip_params dp;
    const ozip_params *p = pp;
    const uint8_t *b = (const uint8_t *)srcv;
    uint8_t *dst = (uint8_t *)dstv;
    uint64_t total, start = 0, end;
    uint32_t frames, k;
    size_t pos = 0;
    ozip_status s;
    if (!p) {
        ozip_params_init(&dp);
        p = &dp;
    }
    if (!b && n)
        return oz_fail(p, OZIP_ERR_PARAM, "NULL buffer");
    s = frames_scan(b, n, &frames, &total, NULL, p);
    if (s != OZIP_OK)
        return s;
    if (offset > total || len > total - offset)
        return oz_fail(p, OZIP_ERR_PARAM, "range %llu+%llu is outside the %llu-byte content",
                       (unsigned long long)offset, (unsigned long long)len, (unsigned long long)total);
    if (len && !dst)
        return oz_fail(p, OZIP_ERR_PARAM, "NULL buffer");
    end = offset + len;
    report_reset(p);
    /* the frames holding [offset, end): each one's part of it */
    for (k = 0; k < frames && start < end; k++) {
        parsed pf;
        uint64_t fend;
        s = frame_at(b, n, pos, k, &pf, p);
        if (s != OZIP_OK)
            return s;
        fend = start + pf.f.original_size;
        if (fend > offset && fend > start) { /* holds some of the range (an empty frame none) */
            uint64_t lo = offset > start ? offset : start, hi = end < fend ? end : fend;
            s = decode_frame_range(b + pos, &pf, lo - start, hi - start, dst + (lo - offset), p);
            if (s != OZIP_OK) {
                frame_note(p, k, pos);
                parsed_free(&pf);
                return s;
            }
        }
        start = fend;
        pos += (size_t)pf.total;
        parsed_free(&pf);
    }
    return OZIP_OK;
}

/* the shape of a frame's embedded model into info */
static ozip_status info_model(const uint8_t *b, const parsed *pf, ozip_info *info, const ozip_params *p)
{
    oz_loaded_model lm;
    oz_config c;
    ozip_status s = load_model(b, pf, &lm, p);
    if (s != OZIP_OK)
        return s;
    c = lm.m.cfg;
    oz_loaded_model_free(&lm);
    info->n_layer = c.n_layer;
    info->d_model = c.d_model;
    info->n_head = c.n_head;
    info->d_ff = c.d_ff;
    info->ctx = c.ctx;
    info->wbits = c.wbits;
    info->tied = (c.flags & OZ_CFG_TIED) != 0;
    info->model_params = oz_model_params(&c);
    return OZIP_OK;
}

ozip_status ozip_get_info(const void *srcv, size_t n, ozip_info *info, const ozip_params *pp)
{
    ozip_params dp;
    const ozip_params *p = pp;
    const uint8_t *b = (const uint8_t *)srcv;
    size_t pos = 0;
    uint32_t k, i;
    int model_seen = 0;
    if (!p) {
        ozip_params_init(&dp);
        p = &dp;
    }
    if (!info || (!b && n))
        return oz_fail(p, OZIP_ERR_PARAM, "NULL buffer");
    memset(info, 0, sizeof *info);
    for (k = 0; k == 0 || pos < n; k++) {
        parsed pf;
        ozip_status s = frame_at(b, n, pos, k, &pf, p);
        if (s != OZIP_OK) {
            memset(info, 0, sizeof *info);
            return s;
        }
        if (k == 0) {
            info->format_major = pf.f.major;
            info->format_minor = pf.f.minor;
            info->stream_block = pf.f.stream_block;
            info->content_xxh64 = pf.f.content_xxh64;
        }
        info->original_size += pf.f.original_size;
        if (info->original_size < pf.f.original_size) {
            parsed_free(&pf);
            memset(info, 0, sizeof *info);
            return oz_fail(p, OZIP_ERR_CORRUPT, "the frames' sizes add up to more than 2^64 bytes");
        }
        info->compressed_size += pf.total;
        info->streams += pf.f.stream_count;
        for (i = 0; i < pf.f.stream_count; i++) {
            info->method_count[pf.idx[i].method]++;
            info->stream_bytes += pf.idx[i].stored_size;
        }
        if (pf.f.flags & OZ_F_MODEL) {
            int external = (pf.f.flags & OZ_F_MODEL_EXTERNAL) != 0;
            ozip_info scratch;
            s = OZIP_OK;
            if (!external) {
                info->model_bytes += pf.f.model_stored;
                /* every embedded model is checked; the first one described */
                s = info_model(b + pos, &pf, model_seen ? &scratch : info, p);
            }
            if (s != OZIP_OK) {
                frame_note(p, k, pos);
                parsed_free(&pf);
                memset(info, 0, sizeof *info);
                return s;
            }
            if (!model_seen) {
                info->has_model = 1;
                info->model_external = external;
                info->model_image_bytes = pf.f.model_size;
                info->model_xxh64 = pf.f.model_xxh64;
                model_seen = 1;
            }
        }
        pos += (size_t)pf.total;
        parsed_free(&pf);
    }
    info->frames = k;
    info->model_streams = info->method_count[OZ_M_MODEL];
    return OZIP_OK;
}

ozip_status ozip_extract_model(const void *srcv, size_t n, void **dst, size_t *dst_n, const ozip_params *pp)
{
    ozip_params dp;
    const ozip_params *p = pp;
    const uint8_t *b = (const uint8_t *)srcv;
    parsed pf;
    oz_loaded_model lm;
    ozip_status s;
    size_t pos = 0;
    uint32_t k, frames;
    uint64_t total;
    if (!p) {
        ozip_params_init(&dp);
        p = &dp;
    }
    if (!dst || !dst_n || (!b && n))
        return oz_fail(p, OZIP_ERR_PARAM, "NULL buffer");
    s = frames_scan(b, n, &frames, &total, NULL, p); /* the whole file's structure, as every call */
    if (s != OZIP_OK)
        return s;
    /* the first frame that has a model */
    for (k = 0;; k++) {
        if (k == frames)
            return oz_fail(p, OZIP_ERR_PARAM, "this file has no model (it was stored with a classic method)");
        s = frame_at(b, n, pos, k, &pf, p);
        if (s != OZIP_OK)
            return s;
        if (pf.f.flags & OZ_F_MODEL)
            break;
        pos += (size_t)pf.total;
        parsed_free(&pf);
    }
    s = load_model(b + pos, &pf, &lm, p);
    if (s != OZIP_OK)
        frame_note(p, k, pos);
    parsed_free(&pf);
    if (s != OZIP_OK)
        return s;
    s = oz_model_file_make(lm.image, lm.size, dst, dst_n, p);
    oz_loaded_model_free(&lm);
    return s;
}

ozip_status ozip_check_model(const void *src, size_t n, const ozip_params *pp)
{
    ozip_params dp;
    const ozip_params *p = pp;
    oz_loaded_model lm;
    ozip_status s;
    if (!p) {
        ozip_params_init(&dp);
        p = &dp;
    }
    if (!src)
        return oz_fail(p, OZIP_ERR_PARAM, "NULL buffer");
    s = oz_model_file_load(src, n, &lm, p);
    if (s == OZIP_OK)
        oz_loaded_model_free(&lm);
    return s;
}

/* "cuda" is listed when the CUDA trainer plugin is found and loads (its
 * CUDA libraries resolve); whether a GPU can train is `ozip -V -v`'s line. */
static char backends_buf[128];
static void backends_init(void)
{
    /* oz_backend_names() starts with "cpu" */
    snprintf(backends_buf, sizeof backends_buf, "cpu%s%s", oz_cuda_api_get() ? " cuda" : "", oz_backend_names() + 3);
}

const char *ozip_backends(void)
{
    /* "cpu", "cuda" when the trainer plugin loads, then the decode devices */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, backends_init);
    return backends_buf;
}

/* =================================================================== files */

static ozip_status file_op(int compress, const char *in_path, const char *out_path, const ozip_params *pp)
{
    ozip_params dp;
    const ozip_params *p = pp;
    oz_input in;
    ozip_status s;
    int err, fd = 1;
    if (!p) {
        ozip_params_init(&dp);
        p = &dp;
    }
    err = oz_input_open(in_path, &in);
    if (err)
        return oz_fail(p, OZIP_ERR_IO, "%s: %s", in_path ? in_path : "stdin", strerror(err));
    {
        /* into a temporary file (or stdout) as it comes: compressing, a frame
         * at a time; decompressing, in pieces (ozip_decompress_to); input
         * that is not mapped (a pipe) read as it comes too */
        oz_output o;
        err = out_path ? oz_output_begin(out_path, &o) : 0;
        if (err) {
            s = oz_fail(p, OZIP_ERR_IO, "%s: %s", out_path, strerror(err));
        } else {
            if (out_path)
                fd = o.fd;
            if (compress)
                s = in.mapped ? ozip_compress_to(in.data, in.size, oz_output_fd_write, &fd, p)
                              : ozip_compress_stream(oz_fd_read, &in.fd, oz_output_fd_write, &fd, p);
            else
                s = in.mapped ? ozip_decompress_to(in.data, in.size, oz_output_fd_write, &fd, p)
                              : ozip_decompress_stream(oz_fd_read, &in.fd, oz_output_fd_write, &fd, p);
            if (out_path) {
                err = oz_output_end(&o, out_path, &in, s != OZIP_OK);
                if (s == OZIP_OK && err)
                    s = oz_fail(p, OZIP_ERR_IO, "%s: %s", out_path, strerror(err));
            }
        }
    }
    oz_input_free(&in);
    return s;
}

ozip_status ozip_compress_file(const char *in, const char *out, const ozip_params *p)
{
    return file_op(1, in, out, p);
}

ozip_status ozip_decompress_file(const char *in, const char *out, const ozip_params *p)
{
    return file_op(0, in, out, p);
}
