/* test_cuda.c - the CUDA trainer plugin (gpu_train/train_cuda.cu) against
 * the CPU reference trainer (gpu_train/train_cpu.c).
 *
 *   build/tests/test_cuda           the tests (skipped, with the reason, where
 *                                   no GPU can train)
 *   build/tests/test_cuda --bench   training throughput (tests/gpu/run.sh)
 *
 *   OZ_CUDA_TEST_ONLY=TEXT    only the comparisons whose name holds TEXT, and
 *                             no training tests (for compute-sanitizer runs)
 *   OZ_CUDA_TEST_DETAIL=1     each gradient tensor's norms and largest error
 *
 * With OZIP_CUDA_PLUGIN=build/tests/emu/libozip_cuda.so (tests/run.sh does
 * this on every machine) the same tests run the trainer's real source under
 * the CPU emulation of tests/cuda_emu/, on smaller shapes: that checks the
 * kernels' indexing, the host code, staging and graph capture without a GPU,
 * not the GPU itself.
 *
 * Tolerances (relative L2 error ||gpu - cpu|| / ||cpu|| of the loss and of
 * every gradient tensor, after one forward + backward on the same windows
 * from the same initial parameters):
 *   FP32 matrix products, no fake quantisation   1e-3
 *   FP32, quantisation-aware (QAT)                1e-2
 *   TF32 tensor cores, no fake quantisation       1e-2
 *   TF32, QAT (what ozip trains with)             5e-2
 * Float order differs between the trainers; with QAT a value that lands
 * within rounding noise of a quantisation boundary can round the other way,
 * and TF32 (10-bit mantissa inputs) makes that more frequent. A wrong
 * kernel gives errors of order 1.
 * Training: the same 300 steps on both (same windows); the exported integer
 * models must code the same text to within 0.08 bits/byte of each other
 * (three CPU seeds spread over 0.03 on this test; a broken trainer is off by
 * whole bits).
 */
#include <math.h>
#include <stdint.h>
#include <time.h>

#include "../core/oz_codec.h"
#include "../gpu_train/cuda_api.h"
#include "../host/internal.h"
#include "harness.h"

static const oz_cuda_api *api;
static char why[512];
static int emulated;       /* the plugin is the CPU emulation build */
static const char *P = ""; /* test name prefix */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint8_t *text_data(size_t *n)
{
    uint8_t *d = t_read_file("data/demo.json", n);
    if (!d)
        d = t_read_file("data/taxi-yellow_tripdata_2015-01.csv", n);
    return d;
}

/* Exact code length (bits/byte) of the exported integer model on d[n]. */
static double code_bpb(const oz_config *a, const float *prm, const tr_scales *sc, float res, const uint8_t *d,
                       uint64_t n)
{
    uint32_t size;
    uint8_t *img = tr_export(a, prm, sc, res, &size), *out;
    oz_model m;
    oz_state st;
    void *mem, *scratch;
    uint64_t olen = 0;
    if (!img || oz_model_bind(&m, img, size) != OZ_CORE_OK) {
        free(img);
        return -1;
    }
    mem = malloc(oz_state_bytes(a, OZ_ENC_CAP(a->ctx)));
    scratch = malloc(oz_encode_scratch_bytes(a, n));
    out = malloc(oz_encode_bound(n));
    oz_state_init(&st, a, mem, OZ_ENC_CAP(a->ctx));
    oz_encode_stream(&m, &st, scratch, d, n, out, &olen);
    free(img);
    free(mem);
    free(scratch);
    free(out);
    return 8.0 * olen / n;
}

static double rel_l2(const float *a, const float *ref, size_t n)
{
    double num = 0, den = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        double e = (double)a[i] - ref[i];
        if (a[i] != a[i])
            return INFINITY; /* NaN never passes */
        num += e * e;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* OZ_CUDA_TEST_DETAIL=1: each gradient tensor's error, norms and largest
 * difference, for finding which part of the backward is wrong. */
static int detail_env;      /* OZ_CUDA_TEST_DETAIL is set */
static const char *only_env; /* OZ_CUDA_TEST_ONLY, or NULL */
static void print_detail(const char *name, const float *g, const float *c, size_t n, size_t cols)
{
    double ng = 0, nc = 0, nd = 0, worst = -1;
    size_t i, at = 0;
    for (i = 0; i < n; i++) {
        double d = fabs((double)g[i] - c[i]);
        ng += (double)g[i] * g[i];
        nc += (double)c[i] * c[i];
        nd += d * d;
        if (!(d <= worst))
            worst = d, at = i;
    }
    printf("#     %-5s |gpu| %.4g |cpu| %.4g |diff| %.4g; largest at row %zu of %zu, col %zu: gpu %.6g cpu %.6g\n",
           name, sqrt(ng), sqrt(nc), sqrt(nd), at / cols, n / cols, at % cols, g[at], c[at]);
}

static double rel1(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-30); }

/* ---------------------------------------------------- (a) one step compared */

typedef struct cmp_case {
    const char *name;
    uint32_t L, D, H, F, W, T, B, wbits, tied;
    int qat, fp32, generic;
    double tol;
    int gpu_only; /* too slow for the CPU emulation */
} cmp_case;

static void compare_case(const cmp_case *c, const uint8_t *data, size_t n)
{
    tr_opts o;
    cuda_opts co;
    cpu_trainer *ct;
    cuda_trainer *gt;
    tr_layout lay;
    size_t np, i, off[2 + 4 * OZ_MAX_LAYERS], len[2 + 4 * OZ_MAX_LAYERS], cols[2 + 4 * OZ_MAX_LAYERS];
    const char *tname[2 + 4 * OZ_MAX_LAYERS];
    int nt = 0, pass = 1, k;
    uint8_t *tok;
    double lc, lg, worst = 0, e;
    char name[256], err[512], detail[512] = "";
    float *gp, *cp, *gg;
    tr_opts_default(&o);
    o.arch.n_layer = c->L;
    o.arch.d_model = c->D;
    o.arch.n_head = c->H;
    o.arch.d_ff = c->F;
    o.arch.ctx = c->W;
    o.arch.wbits = c->wbits;
    o.arch.flags = c->tied ? OZ_CFG_TIED : 0;
    o.seq = c->T;
    o.batch = c->B;
    o.qat = c->qat;
    o.seed = 11;
    memset(&co, 0, sizeof co);
    co.fp32_math = c->fp32;
    co.generic_attn = c->generic;
    snprintf(name, sizeof name,
             "%sCUDA loss and gradients match the CPU trainer: %s (L%u D%u H%u F%u W%u T%u B%u, %s%s%s, tol %g)", P,
             c->name, c->L, c->D, c->H, c->F, c->W, c->T, c->B, c->fp32 ? "FP32" : "TF32", c->qat ? ", QAT" : "",
             c->generic ? ", generic attention" : "", c->tol);
    ct = cpu_trainer_new(&o);
    gt = api->create(&o, &co, err, sizeof err);
    if (!ct || !gt) {
        t_result(0, name, "cannot create the trainers: %s", gt ? "cpu" : err);
        cpu_trainer_free(ct);
        if (gt)
            api->destroy(gt);
        return;
    }
    np = tr_param_count(&o.arch);
    tr_layout_of(&o.arch, &lay);
    cp = cpu_trainer_params(ct);
    gp = api->params(gt);
    if (!gp || memcmp(cp, gp, np * sizeof(float))) {
        pass = 0;
        snprintf(detail, sizeof detail, "initial parameters differ");
    }
    if (!c->qat) {
        /* as tests/test_train.c: larger weights so that attention is not uniform */
        for (i = 0; i < np; i++)
            cp[i] *= 10;
        memcpy(gp, cp, np * sizeof(float));
        api->params_changed(gt);
    }
    tok = malloc((size_t)c->B * (c->T + 1));
    for (i = 0; i < c->B; i++)
        memcpy(tok + i * (c->T + 1), data + (t_rand() % (n - c->T - 1)), c->T + 1);
    lc = cpu_trainer_loss_grad(ct, tok, c->B, c->qat);
    lg = api->loss_grad(gt, tok, c->B, c->qat);
    gg = api->grads(gt);
    if (lg < 0 || !gg) {
        t_result(0, name, "CUDA failed: %s", api->error(gt));
        goto done;
    }
    e = rel1(lg, lc);
    worst = e;
    if (!(e <= c->tol)) {
        pass = 0;
        snprintf(detail, sizeof detail, "loss %.6f vs cpu %.6f", lg, lc);
    }
    off[nt] = lay.emb, len[nt] = 256 * (size_t)c->D, cols[nt] = c->D, tname[nt++] = "emb";
    if (!c->tied)
        off[nt] = lay.head, len[nt] = 256 * (size_t)c->D, cols[nt] = c->D, tname[nt++] = "head";
    for (i = 0; i < c->L; i++) {
        off[nt] = lay.wqkv[i], len[nt] = 3 * (size_t)c->D * c->D, cols[nt] = c->D, tname[nt++] = "wqkv";
        off[nt] = lay.wo[i], len[nt] = (size_t)c->D * c->D, cols[nt] = c->D, tname[nt++] = "wo";
        off[nt] = lay.w1[i], len[nt] = (size_t)c->F * c->D, cols[nt] = c->D, tname[nt++] = "w1";
        off[nt] = lay.w2[i], len[nt] = (size_t)c->D * c->F, cols[nt] = c->F, tname[nt++] = "w2";
    }
    for (k = 0; k < nt; k++) {
        e = rel_l2(gg + off[k], cpu_trainer_grads(ct) + off[k], len[k]);
        if (detail_env)
            print_detail(tname[k], gg + off[k], cpu_trainer_grads(ct) + off[k], len[k], cols[k]);
        if (!(e <= c->tol) && pass) {
            pass = 0;
            snprintf(detail, sizeof detail, "gradient of %s (tensor %d): relative L2 error %.3g", tname[k], k, e);
        }
        if (!(e <= worst))
            worst = e;
    }
    if (c->qat) {
        /* the scales and the residual range both passes set */
        tr_scales *sg = api->scales(gt), *sc = cpu_trainer_scales(ct);
        for (i = 0; i < c->L && sg; i++) {
            e = fmax(fmax(rel1(sg->q[i], sc->q[i]), rel1(sg->k[i], sc->k[i])),
                     fmax(fmax(rel1(sg->v[i], sc->v[i]), rel1(sg->h[i], sc->h[i])), rel1(sg->g[i], sc->g[i])));
            if (!(e <= c->tol) && pass) {
                pass = 0;
                snprintf(detail, sizeof detail, "activation scales of layer %zu differ by %.3g", i, e);
            }
        }
        e = rel1(api->res_max(gt), cpu_trainer_res_max(ct));
        if (!(e <= c->tol) && pass) {
            pass = 0;
            snprintf(detail, sizeof detail, "residual range differs by %.3g", e);
        }
        /* the forward-only path with the scales now set */
        e = rel1(api->loss(gt, tok, c->B), cpu_trainer_loss(ct, tok, c->B));
        if (!(e <= c->tol) && pass) {
            pass = 0;
            snprintf(detail, sizeof detail, "forward-only loss differs by %.3g", e);
        }
    }
    printf("#   %s: loss cpu %.6f gpu %.6f, worst relative error %.3g\n", c->name, lc, lg, worst);
    t_result(pass, name, "%s", detail);
done:
    free(tok);
    cpu_trainer_free(ct);
    api->destroy(gt);
}

static void test_compare(const uint8_t *data, size_t n)
{
    static const cmp_case cases[] = {
        /* name, L D H F W T B wbits tied qat fp32 generic tol gpu_only */
        {"Dh 8, window < T", 2, 16, 2, 32, 5, 12, 3, 8, 1, 0, 1, 0, 1e-3, 0},
        {"Dh 8, untied head", 2, 16, 2, 32, 5, 12, 3, 8, 0, 0, 1, 0, 1e-3, 0},
        {"Dh 8 TF32", 2, 16, 2, 32, 5, 12, 3, 8, 1, 0, 0, 0, 1e-2, 0},
        {"Dh 12, W 16, QAT", 2, 48, 4, 64, 16, 40, 4, 5, 0, 1, 1, 0, 1e-2, 0},
        {"Dh 32, W > T", 1, 64, 2, 64, 64, 48, 3, 8, 1, 0, 1, 0, 1e-3, 0},
        {"Dh 64 (generic kernels)", 1, 128, 2, 128, 32, 64, 2, 8, 1, 0, 1, 0, 1e-3, 0},
        {"Dh 16, generic kernels", 2, 64, 4, 128, 32, 96, 2, 5, 1, 0, 1, 1, 1e-3, 0},
        {"W 1", 1, 32, 2, 32, 1, 20, 2, 8, 1, 0, 1, 0, 1e-3, 0},
        {"W 100, T 300: partial tiles and chunks", 1, 32, 2, 32, 100, 300, 1, 8, 1, 0, 1, 0, 1e-3, 0},
        {"W 100, T 300, generic kernels", 1, 32, 2, 32, 100, 300, 1, 8, 1, 0, 1, 1, 1e-3, 0},
        {"W 100, T 320: whole tiles, chunks", 1, 32, 2, 32, 100, 320, 1, 8, 1, 0, 1, 0, 1e-3, 0},
        {"W 64, T 300: partial tile, one chunk", 1, 32, 2, 32, 64, 300, 1, 8, 1, 0, 1, 0, 1e-3, 0},
        {"W 100, T 300, B 2", 1, 32, 2, 32, 100, 300, 2, 8, 1, 0, 1, 0, 1e-3, 0},
        {"W 100, T 300, QAT", 1, 32, 2, 32, 100, 300, 1, 8, 1, 1, 1, 0, 1e-2, 0},
        {"ozip default, TF32, QAT", 2, 64, 4, 128, 64, 256, 8, 5, 1, 1, 0, 0, 5e-2, 0},
        {"1.2M params, W 512, TF32, QAT", 4, 192, 12, 384, 512, 1024, 2, 5, 1, 1, 0, 0, 5e-2, 1},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!(emulated && cases[i].gpu_only) && (!only_env || strstr(cases[i].name, only_env)))
            compare_case(&cases[i], data, n);
}

/* --------------------------------- (b) training, determinism, graph replay */

/* ozip's default shape and batch; under the emulation a small one */
static void train_opts(tr_opts *o, uint64_t steps)
{
    tr_opts_default(o);
    o->arch.n_layer = emulated ? 1 : 2;
    o->arch.d_model = emulated ? 32 : 64;
    o->arch.n_head = emulated ? 2 : 4;
    o->arch.d_ff = emulated ? 64 : 128;
    o->arch.ctx = emulated ? 32 : 64;
    o->arch.wbits = 5;
    o->seq = emulated ? 64 : 256;
    o->batch = 8;
    o->steps = steps;
    o->seed = 1;
}

/* Trains on the GPU; the parameters (np floats) land in out. Returns the fit's
 * bits/byte, or -1. */
static double gpu_fit(const tr_opts *o, const cuda_opts *co, const uint8_t *d, size_t n, float *out, double *ibpb,
                      const uint8_t *held, size_t hn)
{
    char err[512];
    cuda_trainer *g = api->create(o, co, err, sizeof err);
    double bpb;
    float *prm;
    if (!g) {
        printf("#   cannot create the CUDA trainer: %s\n", err);
        return -1;
    }
    bpb = api->fit(g, d, n, NULL, NULL);
    prm = bpb < 0 ? NULL : api->params(g);
    if (!prm) {
        printf("#   CUDA training failed: %s\n", api->error(g));
        api->destroy(g);
        return -1;
    }
    memcpy(out, prm, tr_param_count(&o->arch) * sizeof(float));
    if (ibpb)
        *ibpb = code_bpb(&o->arch, prm, api->scales(g), api->res_max(g), held, hn);
    api->destroy(g);
    return bpb;
}

static void test_training(const uint8_t *data, size_t n)
{
    tr_opts o;
    cuda_opts co;
    cpu_trainer *c;
    size_t np, tn = n < 1000000 ? n : 1000000, hn = n < 100000 ? n : 100000;
    uint64_t steps = emulated ? 20 : 300;
    float *pa, *pb;
    double cb, gb, ci, gi = -1, t0, tc, tg;
    char name[256];
    train_opts(&o, steps);
    np = tr_param_count(&o.arch);
    pa = malloc(np * sizeof(float));
    pb = malloc(np * sizeof(float));
    memset(&co, 0, sizeof co);
    t0 = now();
    c = cpu_trainer_new(&o);
    cb = cpu_trainer_fit(c, data, tn, NULL, NULL);
    tc = now() - t0;
    ci = code_bpb(&o.arch, cpu_trainer_params(c), cpu_trainer_scales(c), cpu_trainer_res_max(c), data, hn);
    cpu_trainer_free(c);
    t0 = now();
    gb = gpu_fit(&o, &co, data, tn, pa, &gi, data, hn);
    tg = now() - t0;
    printf("#   %llu steps of %u x %u on %zu bytes: cpu %.1f s (train %.4f, integer code %.4f bits/byte), "
           "gpu %.1f s (train %.4f, integer code %.4f bits/byte)\n",
           (unsigned long long)steps, o.batch, o.seq, tn, tc, cb, ci, tg, gb, gi);
    snprintf(name, sizeof name,
             "%sCUDA training reaches the CPU trainer's bits/byte within 0.08 (%llu steps, integer code)", P,
             (unsigned long long)steps);
    t_result(gb > 0 && gi > 0 && fabs(gi - ci) <= 0.08 && fabs(gb - cb) <= 0.08, name,
             "cpu %.4f, gpu %.4f bits/byte (train loss cpu %.4f, gpu %.4f)", ci, gi, cb, gb);
    /* the same run again: a deterministic trainer gives the same bits */
    gb = gpu_fit(&o, &co, data, tn, pb, NULL, NULL, 0);
    snprintf(name, sizeof name, "%sCUDA training is deterministic for a seed (bit-identical parameters)", P);
    t_result(gb > 0 && !memcmp(pa, pb, np * sizeof(float)), name, NULL);
    /* graph replay against direct launches, on a shorter run */
    train_opts(&o, emulated ? 6 : 40);
    co.no_graph = 0;
    gb = gpu_fit(&o, &co, data, tn, pa, NULL, NULL, 0);
    co.no_graph = 1;
    cb = gpu_fit(&o, &co, data, tn, pb, NULL, NULL, 0);
    snprintf(name, sizeof name, "%sCUDA graph replay trains exactly as direct launches (bit-identical)", P);
    t_result(gb > 0 && cb > 0 && !memcmp(pa, pb, np * sizeof(float)), name, "relative L2 difference %.3g",
             rel_l2(pa, pb, np));
    free(pa);
    free(pb);
}

/* --------------------------------------------------------------- benchmark */

typedef struct bench_ctx {
    uint64_t warm;
    double t_warm;
} bench_ctx;

static int bench_cb(void *ctx, uint64_t step, uint64_t steps, double bpb)
{
    bench_ctx *b = (bench_ctx *)ctx;
    if (step == b->warm)
        b->t_warm = now();
    return 0;
}

/* Model FLOPs of one training token: 6 per weight use in the matrix
 * products (forward 2, backward 4), and for attention 3 x the forward's
 * 4 * Dh * keys per head (q.k and p.v), keys averaged over the sequence. */
static double flops_per_token(const tr_opts *o)
{
    const oz_config *a = &o->arch;
    double mm = 0, keys = 0;
    uint32_t t;
    mm = (double)a->n_layer * (4.0 * a->d_model * a->d_model + 2.0 * a->d_model * a->d_ff) + 256.0 * a->d_model;
    for (t = 0; t < o->seq; t++)
        keys += t + 1 < a->ctx ? t + 1 : a->ctx;
    keys /= o->seq;
    return 6 * mm + 3.0 * a->n_layer * 4.0 * a->d_model * keys;
}

/* Dense peaks (datasheets; SXM parts): FP32 and TF32 tensor, TFLOP/s. */
static void gpu_peaks(const char *name, double *fp32, double *tf32)
{
    *fp32 = *tf32 = 0;
    if (strstr(name, "H100") && strstr(name, "PCIe"))
        *fp32 = 51.2, *tf32 = 378;
    else if (strstr(name, "H100") || strstr(name, "H200") || strstr(name, "H800"))
        *fp32 = 66.9, *tf32 = 494.7;
    else if (strstr(name, "A100"))
        *fp32 = 19.5, *tf32 = 156;
}

static void bench_opts(tr_opts *o, uint32_t L, uint32_t D, uint32_t H, uint32_t F, uint32_t W, uint32_t T,
                       uint32_t B, uint64_t steps)
{
    tr_opts_default(o);
    o->arch.n_layer = L;
    o->arch.d_model = D;
    o->arch.n_head = H;
    o->arch.d_ff = F;
    o->arch.ctx = W;
    o->arch.wbits = 5;
    o->seq = T;
    o->batch = B;
    o->steps = steps;
}

static void bench_one(const char *label, uint32_t L, uint32_t D, uint32_t H, uint32_t F, uint32_t W, uint32_t T,
                      uint32_t B, const uint8_t *data, size_t n, double seconds)
{
    tr_opts o;
    char err[512];
    cuda_trainer *g;
    bench_ctx bc;
    double t0, dt, f, tps, pf, pt, per;
    uint64_t steps;
    bench_opts(&o, L, D, H, F, W, T, B, 12);
    g = api->create(&o, NULL, err, sizeof err);
    if (!g) {
        printf("bench %-34s cannot create: %s\n", label, err);
        return;
    }
    /* a short run to time one step, then a run of about `seconds` */
    memset(&bc, 0, sizeof bc);
    bc.warm = 4;
    t0 = now();
    if (api->fit(g, data, n, bench_cb, &bc) < 0) {
        printf("bench %-34s failed: %s\n", label, api->error(g));
        api->destroy(g);
        return;
    }
    per = (now() - bc.t_warm) / (o.steps - bc.warm);
    steps = (uint64_t)(seconds / (per > 1e-6 ? per : 1e-6));
    steps = steps < 20 ? 20 : (steps > 200000 ? 200000 : steps);
    api->set_steps(g, steps + 10);
    bc.warm = 10;
    t0 = now();
    if (api->fit(g, data, n, bench_cb, &bc) < 0) {
        printf("bench %-34s failed: %s\n", label, api->error(g));
        api->destroy(g);
        return;
    }
    dt = now() - bc.t_warm;
    (void)t0;
    tps = (double)steps * B * T / dt;
    f = flops_per_token(&o);
    gpu_peaks(api->device(g), &pf, &pt);
    printf("bench %-34s %9.0f params  %4u x %4u tok/step  %10.0f tok/s  %7.3f ms/step  %6.2f TFLOP/s", label,
           (double)tr_param_count(&o.arch), B, T, tps, 1e3 * dt / steps, tps * f / 1e12);
    if (pf > 0)
        printf("  %4.1f%% of FP32, %4.2f%% of TF32 peak", 100 * tps * f / 1e12 / pf, 100 * tps * f / 1e12 / pt);
    printf("\n");
    fflush(stdout);
    api->destroy(g);
}

static void bench_cpu(const char *label, uint32_t L, uint32_t D, uint32_t H, uint32_t F, uint32_t W, uint32_t T,
                      uint32_t B, const uint8_t *data, size_t n, uint64_t steps)
{
    tr_opts o;
    cpu_trainer *c;
    double t0;
    bench_opts(&o, L, D, H, F, W, T, B, steps);
    c = cpu_trainer_new(&o);
    t0 = now();
    cpu_trainer_fit(c, data, n, NULL, NULL);
    printf("bench %-34s %9.0f params  %4u x %4u tok/step  %10.0f tok/s (CPU, %d threads)\n", label,
           (double)tr_param_count(&o.arch), B, T, (double)steps * B * T / (now() - t0), oz_threads(NULL));
    cpu_trainer_free(c);
}

static int bench(const uint8_t *data, size_t n)
{
    printf("# GPU: %s\n", why);
    /* ozip's own batches (about 2048 tokens per step), then larger ones */
    bench_one("default L2 D64 W64 (ozip batch)", 2, 64, 4, 128, 64, 256, 8, data, n, 2);
    bench_one("default L2 D64 W64, 16x batch", 2, 64, 4, 128, 64, 256, 128, data, n, 2);
    bench_one("1.2M L4 D192 W512 (ozip batch)", 4, 192, 12, 384, 512, 1024, 2, data, n, 2);
    bench_one("1.2M L4 D192 W512, 8x batch", 4, 192, 12, 384, 512, 1024, 16, data, n, 2);
    bench_one("1.2M L4 D192 W512, 32x batch", 4, 192, 12, 384, 512, 1024, 64, data, n, 2);
    /* what limits it: the same model with attention nearly free (W 16) */
    bench_one("1.2M L4 D192 W16, 8x batch", 4, 192, 12, 384, 16, 1024, 16, data, n, 2);
    bench_one("ladder top L4 D192 W256 (ozip batch)", 4, 192, 12, 384, 256, 1024, 2, data, n, 2);
    bench_cpu("default L2 D64 W64 (ozip batch)", 2, 64, 4, 128, 64, 256, 8, data, n, 30);
    bench_cpu("1.2M L4 D192 W512 (ozip batch)", 4, 192, 12, 384, 512, 1024, 2, data, n, 4);
    return 0;
}

int main(int argc, char **argv)
{
    size_t n;
    uint8_t *data;
    int want_bench = argc > 1 && !strcmp(argv[1], "--bench");
    char name[256];
    setenv("OZIP_CUDA_PLUGIN", "build/libozip_cuda.so", 0);
    /* the plugin: built wherever nvcc is, and loadable */
    {
        const char *plugin = getenv("OZIP_CUDA_PLUGIN");
        FILE *f = fopen(plugin, "rb");
        if (f) {
            fclose(f);
            api = (const oz_cuda_api *)oz_cuda_api_get();
            emulated = api && strstr(api->build, "emulation") != NULL;
            P = emulated ? "[CPU emulation] " : "";
            snprintf(name, sizeof name, "%sCUDA trainer plugin builds and loads", P);
            t_result(api != NULL, name, "%s: %s", plugin, api ? "" : "see `ozip -V -v`");
            if (api)
                printf("#   %s: %s\n", plugin, api->build);
        } else if (system("command -v nvcc > /dev/null 2>&1") == 0) {
            t_result(0, "CUDA trainer plugin builds", "nvcc is installed but %s is missing", plugin);
        } else {
            t_skip("CUDA trainer plugin builds", "nvcc is not installed");
        }
    }
    api = (const oz_cuda_api *)oz_cuda_usable(why, sizeof why);
    data = text_data(&n);
    if (!api || !data) {
        const char *r = data ? why : "data/demo.json is missing";
        char msg[600];
        snprintf(msg, sizeof msg, "no CUDA device (%s)", r);
        t_skip("CUDA loss and gradients match the CPU trainer (16 shapes, FP32 and TF32, with and without QAT)", msg);
        t_skip("CUDA training reaches the CPU trainer's bits/byte within 0.08", msg);
        t_skip("CUDA training is deterministic for a seed", msg);
        t_skip("CUDA graph replay trains exactly as direct launches", msg);
        free(data);
        return want_bench ? 1 : t_done();
    }
    printf("#   GPU 0: %s\n", why);
    if (want_bench && emulated) {
        printf("the benchmark needs a real GPU\n");
        free(data);
        return 1;
    }
    if (want_bench) {
        int rc = bench(data, n);
        free(data);
        return rc;
    }
    detail_env = getenv("OZ_CUDA_TEST_DETAIL") != NULL;
    only_env = getenv("OZ_CUDA_TEST_ONLY");
    test_compare(data, n);
    if (!only_env)
        test_training(data, n);
    free(data);
    return t_done();
}
