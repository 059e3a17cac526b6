/* train_common.c - what the CPU trainer (train_cpu.c) and the CUDA trainer
 * (train_cuda.cu) must share exactly so that a run on either is the same run:
 * the default options, the parameter layout, the ALiBi slopes, the random
 * number generator, the initialisation, the window sampling and the learning
 * rate schedule. Compiled with the trainer's flags into libozip.a and again
 * into the CUDA plugin, so both trainers start from bit-identical parameters
 * and see the same windows in the same order for a seed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trainer.h"

void tr_opts_default(tr_opts *o)
{
    memset(o, 0, sizeof *o);
    o->arch.n_layer = 2;
    o->arch.d_model = 64;
    o->arch.n_head = 4;
    o->arch.d_ff = 128;
    o->arch.ctx = 64;
    o->arch.wbits = 8;
    o->arch.flags = OZ_CFG_TIED;
    o->seq = 64;
    o->batch = 32;
    o->lr = 3e-3;
    o->min_lr_frac = 0.05;
    o->warmup_frac = 0.03;
    o->wd = 0.01;
    o->beta1 = 0.9;
    o->beta2 = 0.98;
    o->clip = 1.0;
    o->steps = 100;
    o->seed = 1;
    o->qat = 1;
}

void tr_layout_of(const oz_config *a, tr_layout *lay)
{
    size_t D = a->d_model, F = a->d_ff, off = 0, l;
    lay->emb = off;
    off += 256 * D;
    if (a->flags & OZ_CFG_TIED) {
        lay->head = lay->emb;
    } else {
        lay->head = off;
        off += 256 * D;
    }
    for (l = 0; l < a->n_layer; l++) {
        lay->wqkv[l] = off;
        off += 3 * D * D;
        lay->wo[l] = off;
        off += D * D;
        lay->w1[l] = off;
        off += F * D;
        lay->w2[l] = off;
        off += D * F;
    }
    lay->total = off;
}

size_t tr_param_count(const oz_config *a)
{
    tr_layout lay;
    tr_layout_of(a, &lay);
    return lay.total;
}

/* Geometric ALiBi slopes 2^(-8(h+1)/H) nats per position, converted to the
 * integer unit (1/256 bit) and rounded; at least 1. */
int32_t tr_alibi_slope(uint32_t h, uint32_t H)
{
    double nats = pow(2.0, -8.0 * (h + 1) / H);
    double v = nats * 256.0 / log(2.0);
    int32_t s = (int32_t)floor(v + 0.5);
    return s < 1 ? 1 : s;
}

float tr_alibi_nats(int32_t slope) { return (float)(slope * log(2.0) / 256.0); }

uint64_t tr_rng_seed(uint64_t seed) { return seed * 0x2545F4914F6CDD1Dull + 7; }

/* splitmix64 */
uint64_t tr_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Box-Muller, one value per two draws */
static float rng_normal(uint64_t *s)
{
    double u1 = ((tr_rng_next(s) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (tr_rng_next(s) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void tr_init_params(const oz_config *a, uint64_t *rng, float *p)
{
    tr_layout lay;
    size_t i, l, D = a->d_model, F = a->d_ff;
    tr_layout_of(a, &lay);
    /* GPT-2 style initialisation: N(0, 0.02), output projections scaled */
    for (i = 0; i < lay.total; i++)
        p[i] = 0.02f * rng_normal(rng);
    for (l = 0; l < a->n_layer; l++) {
        float s = 1.0f / sqrtf(2.0f * a->n_layer);
        for (i = 0; i < D * D; i++)
            p[lay.wo[l] + i] *= s;
        for (i = 0; i < D * F; i++)
            p[lay.w2[l] + i] *= s;
    }
}

void tr_sample_windows(uint64_t *rng, const uint8_t *data, size_t n, uint32_t T, uint32_t B, uint8_t *tok)
{
    uint32_t b;
    for (b = 0; b < B; b++) {
        size_t off = (size_t)(tr_rng_next(rng) % (uint64_t)(n - T));
        memcpy(tok + (size_t)b * (T + 1), data + off, T + 1);
    }
}

double tr_lr_at(const tr_opts *o, uint64_t step)
{
    double w = o->warmup_frac * (double)o->steps, f;
    if (step < w)
        return o->lr * (step + 1) / w;
    f = (step - w) / fmax(1.0, (double)o->steps - w);
    return o->lr * (o->min_lr_frac + (1 - o->min_lr_frac) * 0.5 * (1 + cos(3.141592653589793 * f)));
}

double tr_eval_windows(const uint8_t *data, size_t n, uint32_t T, uint32_t B,
                       double (*loss)(void *trainer, const uint8_t *tok, uint32_t b), void *trainer)
{
    uint8_t *tok = malloc((size_t)B * (T + 1));
    size_t off = 0;
    double sum = 0, cnt = 0, l;
    if (!tok || n < (size_t)T + 1) {
        free(tok);
        return -1;
    }
    while (off + T + 1 <= n) {
        uint32_t b = 0;
        while (b < B && off + T + 1 <= n) {
            memcpy(tok + (size_t)b * (T + 1), data + off, T + 1);
            off += T;
            b++;
        }
        l = loss(trainer, tok, b);
        if (l < 0) {
            free(tok);
            return -1;
        }
        sum += l * b * T;
        cnt += (double)b * T;
    }
    free(tok);
    return cnt > 0 ? sum / cnt / log(2.0) : -1;
}
