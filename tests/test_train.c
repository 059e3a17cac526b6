/* test_train.c - the CPU trainer: analytic gradients against finite
 * differences, determinism for a seed, learning, and the exported integer
 * model's exact code length against the float model's loss. */
#include <math.h>
#include <stdint.h>

#include "../core/oz_codec.h"
#include "../gpu_train/trainer.h"
#include "harness.h"

static uint8_t *text_data(size_t *n)
{
    const char *dir = t_corpus();
    char path[512];
    uint8_t *d = NULL;
    if (dir) {
        snprintf(path, sizeof path, "%s/log-OpenSSH_2k.log", dir);
        d = t_read_file(path, n);
    }
    if (!d)
        d = t_read_file("data/taxi-yellow_tripdata_2015-01.csv", n);
    if (!d)
        d = t_read_file("tests/test_train.c", n);
    return d;
}

/* Central differences in float32 on a small model without fake quantisation
 * (which has no useful derivative). Tolerance: |num - ana| <= 0.03 * max(|num|,
 * |ana|) + 2e-4, on the parameters with the largest gradients of each tensor
 * (where float32 rounding of the loss is small relative to the change). */
static void gradcheck(int tied)
{
    tr_opts o;
    cpu_trainer *t;
    uint8_t tok[3 * 13];
    float *p, *g, *g0;
    tr_layout lay;
    size_t i, np;
    int bad = 0, checked = 0, k;
    double eps = 1e-2, worst = 0;
    char name[128];
    tr_opts_default(&o);
    o.arch.n_layer = 2;
    o.arch.d_model = 16;
    o.arch.n_head = 2;
    o.arch.d_ff = 32;
    o.arch.ctx = 5; /* shorter than the sequence: the sliding window matters */
    o.arch.flags = tied ? OZ_CFG_TIED : 0;
    o.seq = 12;
    o.batch = 3;
    o.qat = 0;
    o.threads = 1;
    o.seed = 7;
    t = cpu_trainer_new(&o);
    p = cpu_trainer_params(t);
    g = cpu_trainer_grads(t);
    np = tr_param_count(&o.arch);
    tr_layout_of(&o.arch, &lay);
    /* larger weights than the init so that attention is not uniform */
    for (i = 0; i < np; i++)
        p[i] *= 10;
    for (i = 0; i < sizeof tok; i++)
        tok[i] = (uint8_t)("abcabcabd xyz"[t_rand() % 13]);
    cpu_trainer_loss_grad(t, tok, 3, 0);
    g0 = malloc(np * sizeof(float));
    memcpy(g0, g, np * sizeof(float));
    {
        size_t starts[2 + 4 * OZ_MAX_LAYERS], sizes[2 + 4 * OZ_MAX_LAYERS];
        int nt = 0, l;
        starts[nt] = lay.emb, sizes[nt++] = 256 * 16;
        if (!tied)
            starts[nt] = lay.head, sizes[nt++] = 256 * 16;
        for (l = 0; l < 2; l++) {
            starts[nt] = lay.wqkv[l], sizes[nt++] = 3 * 16 * 16;
            starts[nt] = lay.wo[l], sizes[nt++] = 16 * 16;
            starts[nt] = lay.w1[l], sizes[nt++] = 32 * 16;
            starts[nt] = lay.w2[l], sizes[nt++] = 16 * 32;
        }
        for (k = 0; k < nt; k++) {
            /* the 6 largest |gradients| of this tensor, plus 2 random ones */
            size_t pick[8], j;
            int np2 = 0;
            for (j = 0; j < 6; j++) {
                size_t best = starts[k], q;
                float bv = -1;
                for (q = starts[k]; q < starts[k] + sizes[k]; q++) {
                    int used = 0, u;
                    for (u = 0; u < np2; u++)
                        used |= pick[u] == q;
                    if (!used && fabsf(g0[q]) > bv) {
                        bv = fabsf(g0[q]);
                        best = q;
                    }
                }
                pick[np2++] = best;
            }
            pick[np2++] = starts[k] + t_rand() % sizes[k];
            pick[np2++] = starts[k] + t_rand() % sizes[k];
            for (j = 0; j < (size_t)np2; j++) {
                size_t q = pick[j];
                float keep = p[q];
                double lp, lm, num, ana = g0[q], err;
                p[q] = keep + (float)eps;
                lp = cpu_trainer_loss(t, tok, 3);
                p[q] = keep - (float)eps;
                lm = cpu_trainer_loss(t, tok, 3);
                p[q] = keep;
                num = (lp - lm) / (2 * eps);
                err = fabs(num - ana);
                checked++;
                if (err > 0.03 * fmax(fabs(num), fabs(ana)) + 2e-4) {
                    bad++;
                    if (bad < 4)
                        printf("#   tensor %d param %zu: numeric %.6g analytic %.6g\n", k, q, num, ana);
                }
                if (err > worst)
                    worst = err;
            }
        }
    }
    snprintf(name, sizeof name, "trainer gradients match finite differences (%s head, %d params checked)",
             tied ? "tied" : "untied", checked);
    t_result(bad == 0, name, "%d mismatches, worst abs error %g", bad, worst);
    free(g0);
    cpu_trainer_free(t);
}

static void test_determinism_and_learning(const uint8_t *data, size_t n)
{
    tr_opts o;
    cpu_trainer *a, *b;
    double bpb0, bpb1;
    size_t np;
    tr_opts_default(&o);
    o.arch.n_layer = 1;
    o.arch.d_model = 32;
    o.arch.n_head = 2;
    o.arch.d_ff = 64;
    o.arch.ctx = 32;
    o.seq = 32;
    o.batch = 16;
    o.steps = 150;
    o.threads = 2;
    a = cpu_trainer_new(&o);
    b = cpu_trainer_new(&o);
    np = tr_param_count(&o.arch);
    bpb0 = cpu_trainer_eval(a, data, n < 20000 ? n : 20000);
    cpu_trainer_fit(a, data, n, NULL, NULL);
    cpu_trainer_fit(b, data, n, NULL, NULL);
    t_result(!memcmp(cpu_trainer_params(a), cpu_trainer_params(b), np * sizeof(float)),
             "training is deterministic for a seed (bit-identical parameters)", NULL);
    bpb1 = cpu_trainer_eval(a, data, n < 20000 ? n : 20000);
    t_result(bpb1 < bpb0 - 2.0 && bpb1 < 4.0, "training lowers the loss (150 steps on real text)",
             "%.3f -> %.3f bits/byte", bpb0, bpb1);
    cpu_trainer_free(a);
    cpu_trainer_free(b);
}

/* Train with QAT, export, and compare the integer model's exact code length
 * over held-in text with the float model's loss on the same text. */
static void test_export_fidelity(const uint8_t *data, size_t n)
{
    tr_opts o;
    cpu_trainer *t;
    uint32_t size;
    uint8_t *img, *out;
    oz_model m;
    oz_state st;
    void *mem, *scratch;
    uint64_t olen, len = n < 40000 ? n : 40000;
    double fbpb, ibpb;
    tr_opts_default(&o);
    o.arch.n_layer = 2;
    o.arch.d_model = 32;
    o.arch.n_head = 4;
    o.arch.d_ff = 64;
    o.arch.ctx = 64;
    o.seq = 64;
    o.batch = 16;
    o.steps = 400;
    o.threads = 2;
    t = cpu_trainer_new(&o);
    cpu_trainer_fit(t, data, len, NULL, NULL);
    fbpb = cpu_trainer_eval(t, data, len);
    img = tr_export(&o.arch, cpu_trainer_params(t), cpu_trainer_scales(t), cpu_trainer_res_max(t), &size);
    t_result(img && oz_model_bind(&m, img, size) == OZ_CORE_OK, "exported image binds", NULL);
    mem = malloc(oz_state_bytes(&o.arch, OZ_ENC_CAP(o.arch.ctx)));
    scratch = malloc(oz_encode_scratch_bytes(&o.arch, len));
    out = malloc(oz_encode_bound(len));
    oz_state_init(&st, &o.arch, mem, OZ_ENC_CAP(o.arch.ctx));
    oz_encode_stream(&m, &st, scratch, data, len, out, &olen);
    ibpb = 8.0 * olen / len;
    /* The stream sees a full window at every position while the float eval
     * sees windows of 64 from their start, so the integer figure is allowed
     * to be lower; it must not be much higher. */
    t_result(ibpb < fbpb + 0.1 && ibpb > 0.5 * fbpb, "integer model codes as well as the float model predicts",
             "float %.3f, integer %.3f bits/byte", fbpb, ibpb);
    printf("#   float (fake-quantised) %.4f bits/byte, exact integer code %.4f bits/byte\n", fbpb, ibpb);
    free(img);
    free(mem);
    free(scratch);
    free(out);
    cpu_trainer_free(t);
}

int main(void)
{
    size_t n;
    uint8_t *data = text_data(&n);
    gradcheck(1);
    gradcheck(0);
    test_determinism_and_learning(data, n);
    test_export_fidelity(data, n);
    free(data);
    return t_done();
}
