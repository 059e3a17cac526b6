/* export.c - freeze: float parameters + activation scales -> integer model
 * image (core/oz_model.h). This is where every real-valued scale becomes a
 * fixed-point multiplier (m, s) with m/2^s = scale; see docs/integer-model.md.
 *
 * Weights are quantised per output row exactly as the trainer's fake
 * quantisation does (tr_fq with step max|row|/qmax), so the exported int8
 * values are the ones the last training step used.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/oz_bytes.h"
#include "trainer.h"

/* mu > 0 -> (m, s): m has at most 16 significant bits (the low 15 bits of a
 * 31-bit m are zero, which the model coder stores almost for free), m < 2^31,
 * 1 <= s <= 62. */
static void quant_mult(double mu, int32_t *m, int32_t *s)
{
    int e;
    double f;
    long long mm;
    int sh;
    if (!(mu > 0)) {
        *m = 0;
        *s = 1;
        return;
    }
    f = frexp(mu, &e); /* mu = f * 2^e, f in [0.5, 1) */
    mm = llround(f * 65536.0); /* 16 bits: [32768, 65536] */
    sh = 31 - e;               /* m = mm << 15, m / 2^sh = mu */
    if (mm == 65536) {
        mm = 32768;
        sh--;
    }
    mm <<= 15;
    while (sh > 62) { /* tiny multiplier: drop precision */
        mm >>= 1;
        sh--;
    }
    if (sh < 1) { /* huge multiplier: saturate (never happens for sane scales) */
        mm = 0x7FFFFFFF;
        sh = 1;
    }
    *m = (int32_t)mm;
    *s = sh;
}

static void put_rq(uint8_t *p, double mu)
{
    int32_t m, s;
    quant_mult(mu, &m, &s);
    oz_wr32(p, (uint32_t)m);
    oz_wr32(p + 4, (uint32_t)s);
}

/* int8 rows of W (rows, cols) into dst; scales[r] = real value of one step. */
static void quant_rows(const float *w, size_t rows, size_t cols, float qmax, int8_t *dst, double *scales)
{
    size_t r, i;
    for (r = 0; r < rows; r++) {
        const float *wr = w + r * cols;
        float mx = 0, s;
        for (i = 0; i < cols; i++)
            mx = fmaxf(mx, fabsf(wr[i]));
        s = mx / qmax;
        scales[r] = s;
        for (i = 0; i < cols; i++)
            dst[r * cols + i] = s > 0 ? (int8_t)lrintf(tr_fq(wr[i], s, qmax) / s) : 0;
    }
}

static float gelu_ref(float x)
{
    return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}

uint8_t *tr_export(const oz_config *a, const float *params, const tr_scales *sc, float res_max,
                   uint32_t *size)
{
    oz_region reg[OZ_MAX_REGIONS];
    tr_layout lay;
    uint32_t n, D = a->d_model, F = a->d_ff, H = a->n_head, Dh = D / H, l, h, i;
    uint8_t *img;
    double *scl, s_res, s_norm = TR_NORM_STEP, log2e = 1.0 / log(2.0);
    float qmax = (float)((1 << (a->wbits - 1)) - 1);
    int r = 1, nreg;

    nreg = oz_image_layout(a, reg);
    n = oz_image_size(a);
    if (!nreg || !n)
        return NULL;
    if (posix_memalign((void **)&img, 64, n) != 0)
        return NULL;
    memset(img, 0, n);
    scl = malloc(sizeof(double) * (OZ_MAX_DFF > 3 * OZ_MAX_DMODEL ? OZ_MAX_DFF : 3 * OZ_MAX_DMODEL));
    if (!scl) {
        free(img);
        return NULL;
    }
    tr_layout_of(a, &lay);
    oz_image_write_header(a, img);
    /* residual fixed point: 4x headroom over the largest residual seen */
    s_res = (res_max > 0 ? 4.0 * res_max : 64.0) / (double)OZ_RES_MAX;

#define I8P(k) ((int8_t *)(img + reg[k].offset))
#define RQP(k, j) (img + reg[k].offset + 8 * (size_t)(j))
    /* embedding rows -> residual units */
    quant_rows(params + lay.emb, 256, D, qmax, I8P(r), scl);
    r++;
    for (i = 0; i < 256; i++)
        put_rq(RQP(r, i), scl[i] / s_res);
    r++;
    if (!(a->flags & OZ_CFG_TIED)) {
        quant_rows(params + lay.head, 256, D, qmax, I8P(r), scl);
        r++;
    }
    /* head: acc (steps of s_norm * row scale) -> logits in 1/256 bit */
    for (i = 0; i < 256; i++)
        put_rq(RQP(r, i), scl[i] * s_norm * log2e * 256.0);
    r++;
    for (l = 0; l < a->n_layer; l++) {
        double sq = sc->q[l], sk = sc->k[l], sv = sc->v[l], shh = sc->h[l], sg = sc->g[l];
        quant_rows(params + lay.wqkv[l], 3 * D, D, qmax, I8P(r), scl);
        r++;
        for (i = 0; i < 3 * D; i++)
            put_rq(RQP(r, i), scl[i] * s_norm / (i < D ? sq : i < 2 * D ? sk : sv));
        r++;
        put_rq(RQP(r, 0), sq * sk / sqrt((double)Dh) * log2e * 256.0);
        r++;
        for (h = 0; h < H; h++)
            oz_wr32(img + reg[r].offset + 4 * h, (uint32_t)tr_alibi_slope(h, H));
        r++;
        quant_rows(params + lay.wo[l], D, D, qmax, I8P(r), scl);
        r++;
        for (i = 0; i < D; i++)
            put_rq(RQP(r, i), scl[i] * sv / s_res);
        r++;
        quant_rows(params + lay.w1[l], F, D, qmax, I8P(r), scl);
        r++;
        for (i = 0; i < F; i++)
            put_rq(RQP(r, i), scl[i] * s_norm / shh);
        r++;
        for (i = 0; i < 256; i++) {
            float x = (float)((int)i - 128) * (float)shh;
            float y = gelu_ref(x) / (float)sg;
            y = y > 127 ? 127 : (y < -127 ? -127 : y);
            I8P(r)[i] = (int8_t)lrintf(tr_fq(y, 1.0f, 127.0f));
        }
        r++;
        quant_rows(params + lay.w2[l], D, F, qmax, I8P(r), scl);
        r++;
        for (i = 0; i < D; i++)
            put_rq(RQP(r, i), scl[i] * sg / s_res);
        r++;
    }
#undef I8P
#undef RQP
    free(scl);
    *size = n;
    return img;
}
