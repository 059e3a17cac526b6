/* rand_model.h - random but well-scaled integer model images for tests. */
#ifndef OZ_TEST_RAND_MODEL_H
#define OZ_TEST_RAND_MODEL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/oz_model.h"
#include "../core/oz_bytes.h"

static void set_rq(uint8_t *p, double mu)
{
    int e;
    double f = frexp(mu, &e);
    int32_t m = (int32_t)(f * 2147483648.0), s = 31 - e;
    if (m < 0)
        m = 0x7FFFFFFF;
    while (s > 62) {
        m >>= 1;
        s--;
    }
    if (s < 1) {
        s = 1;
        m = 0x7FFFFFFF;
    }
    oz_wr32(p, (uint32_t)m);
    oz_wr32(p + 4, (uint32_t)s);
}

/* ALiBi slopes are drawn from [0, rand_slope_max) (1/256 bit per position). */
static int32_t rand_slope_max = 200;

/* A random but well-scaled model (activations neither all zero nor all
 * saturated); gain multiplies every multiplier (1 = sensible, 1e6 = saturate). */
static uint8_t *random_image(const oz_config *c, double gain, uint32_t *size)
{
    oz_region reg[OZ_MAX_REGIONS];
    int nreg = oz_image_layout(c, reg), r = 1;
    uint32_t n = oz_image_size(c), i, l, D = c->d_model, F = c->d_ff;
    uint8_t *img = NULL;
    double rs = 1.0 / 4096; /* residual unit */
    if (posix_memalign((void **)&img, 64, n))
        return NULL;
    memset(img, 0, n);
    oz_image_write_header(c, img);
    for (r = 1; r < nreg; r++)
        if (reg[r].kind == OZ_REG_I8 || reg[r].kind == OZ_REG_TABLE)
            for (i = 0; i < reg[r].size; i++)
                img[reg[r].offset + i] = (uint8_t)(int8_t)((int)(t_rand() % 255) - 127);
    r = 1;
#define RQ(k, j, mu) set_rq(img + reg[k].offset + 8 * (j), gain * (mu))
    r++; /* emb */
    for (i = 0; i < 256; i++)
        RQ(r, i, 0.02 / rs);
    r++;
    if (!(c->flags & OZ_CFG_TIED))
        r++;
    for (i = 0; i < 256; i++)
        RQ(r, i, 256.0 * 2 / (32 * 73 * sqrt((double)D)));
    r++;
    for (l = 0; l < c->n_layer; l++) {
        r++; /* wqkv */
        for (i = 0; i < 3 * D; i++)
            RQ(r, i, 50.0 / (32 * 73 * sqrt((double)D)));
        r++;
        RQ(r, 0, 256.0 * 3 / (50.0 * 50 * sqrt((double)D / c->n_head)));
        r++;
        for (i = 0; i < c->n_head; i++)
            oz_wr32(img + reg[r].offset + 4 * i, (uint32_t)(t_rand() % (uint32_t)rand_slope_max));
        r++;
        r++; /* wo */
        for (i = 0; i < D; i++)
            RQ(r, i, 0.5 / (rs * 50 * 73 * sqrt((double)D)));
        r++;
        r++; /* w1 */
        for (i = 0; i < F; i++)
            RQ(r, i, 60.0 / (32 * 73 * sqrt((double)D)));
        r++;
        r++; /* act table */
        r++; /* w2 */
        for (i = 0; i < D; i++)
            RQ(r, i, 0.5 / (rs * 70 * 73 * sqrt((double)F)));
        r++;
    }
#undef RQ
    *size = n;
    return img;
}

#endif
