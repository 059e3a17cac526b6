/* oz_model.c - reference integer Transformer: image layout, binding, the
 * one-step and whole-chunk forward passes, and logits -> frequencies.
 * See docs/integer-model.md for every operation's bounds and rounding. */
#include "oz_ops.h"
#include "oz_bytes.h"

#define ALIGN_UP(x) (((x) + (OZ_IMAGE_ALIGN - 1)) & ~(uint32_t)(OZ_IMAGE_ALIGN - 1))

int oz_config_check(const oz_config *c)
{
    if (c->n_layer < 1 || c->n_layer > OZ_MAX_LAYERS)
        return OZ_CORE_ELIMIT;
    if (c->d_model < 16 || c->d_model > OZ_MAX_DMODEL || (c->d_model & 15))
        return OZ_CORE_ELIMIT;
    if (c->n_head < 1 || c->n_head > OZ_MAX_HEADS || (c->d_model % c->n_head))
        return OZ_CORE_ELIMIT;
    if (c->d_model / c->n_head > OZ_MAX_DHEAD)
        return OZ_CORE_ELIMIT;
    if (c->d_ff < 16 || c->d_ff > OZ_MAX_DFF || (c->d_ff & 15))
        return OZ_CORE_ELIMIT;
    if (c->ctx < 1 || c->ctx > OZ_MAX_CTX)
        return OZ_CORE_ELIMIT;
    if (c->wbits < 2 || c->wbits > 8)
        return OZ_CORE_ELIMIT;
    if (c->flags & ~OZ_CFG_TIED)
        return OZ_CORE_EVERSION;
    return OZ_CORE_OK;
}

static int add_region(oz_region *reg, int n, uint32_t *off, uint32_t size, uint32_t kind)
{
    reg[n].offset = *off;
    reg[n].size = size;
    reg[n].kind = kind;
    *off = ALIGN_UP(*off + size);
    return n + 1;
}

int oz_image_layout(const oz_config *c, oz_region *reg)
{
    uint32_t off = 0, D, F, H, l;
    int n = 0;
    if (oz_config_check(c) != OZ_CORE_OK)
        return 0;
    D = c->d_model;
    F = c->d_ff;
    H = c->n_head;
    n = add_region(reg, n, &off, OZ_IMAGE_HEADER, OZ_REG_HEADER);
    n = add_region(reg, n, &off, 256 * D, OZ_REG_I8);   /* emb */
    n = add_region(reg, n, &off, 256 * 8, OZ_REG_I32);  /* rq_emb */
    if (!(c->flags & OZ_CFG_TIED))
        n = add_region(reg, n, &off, 256 * D, OZ_REG_I8); /* head */
    n = add_region(reg, n, &off, 256 * 8, OZ_REG_I32);  /* rq_head */
    for (l = 0; l < c->n_layer; l++) {
        n = add_region(reg, n, &off, 3 * D * D, OZ_REG_I8); /* wqkv */
        n = add_region(reg, n, &off, 3 * D * 8, OZ_REG_I32);
        n = add_region(reg, n, &off, 8, OZ_REG_I32);        /* att */
        n = add_region(reg, n, &off, 4 * H, OZ_REG_I32);    /* slope */
        n = add_region(reg, n, &off, D * D, OZ_REG_I8);     /* wo */
        n = add_region(reg, n, &off, D * 8, OZ_REG_I32);
        n = add_region(reg, n, &off, F * D, OZ_REG_I8);     /* w1 */
        n = add_region(reg, n, &off, F * 8, OZ_REG_I32);
        n = add_region(reg, n, &off, 256, OZ_REG_TABLE);    /* act */
        n = add_region(reg, n, &off, D * F, OZ_REG_I8);     /* w2 */
        n = add_region(reg, n, &off, D * 8, OZ_REG_I32);
    }
    return n;
}

uint32_t oz_image_size(const oz_config *c)
{
    oz_region reg[OZ_MAX_REGIONS];
    int n = oz_image_layout(c, reg);
    if (n == 0)
        return 0;
    return ALIGN_UP(reg[n - 1].offset + reg[n - 1].size);
}

void oz_image_write_header(const oz_config *c, uint8_t *p)
{
    int i;
    for (i = 0; i < OZ_IMAGE_HEADER; i++)
        p[i] = 0;
    oz_wr32(p + 0, OZ_IMAGE_MAGIC);
    oz_wr16(p + 4, OZ_IMAGE_VERSION);
    oz_wr16(p + 6, OZ_IMAGE_HEADER);
    oz_wr16(p + 8, c->n_layer);
    oz_wr16(p + 10, c->d_model);
    oz_wr16(p + 12, c->n_head);
    oz_wr16(p + 14, c->d_ff);
    oz_wr16(p + 16, c->ctx);
    p[18] = (uint8_t)c->wbits;
    p[19] = (uint8_t)c->flags;
    oz_wr32(p + 20, oz_image_size(c));
}

int oz_image_read_header(const uint8_t *p, uint32_t size, oz_config *c)
{
    int i, rc;
    if (size < OZ_IMAGE_HEADER)
        return OZ_CORE_ETRUNC;
    if (oz_rd32(p) != OZ_IMAGE_MAGIC)
        return OZ_CORE_EFORMAT;
    if (oz_rd16(p + 4) != OZ_IMAGE_VERSION || oz_rd16(p + 6) != OZ_IMAGE_HEADER)
        return OZ_CORE_EVERSION;
    for (i = 24; i < OZ_IMAGE_HEADER; i++)
        if (p[i] != 0)
            return OZ_CORE_EVERSION; /* reserved bytes must be zero */
    c->n_layer = oz_rd16(p + 8);
    c->d_model = oz_rd16(p + 10);
    c->n_head = oz_rd16(p + 12);
    c->d_ff = oz_rd16(p + 14);
    c->ctx = oz_rd16(p + 16);
    c->wbits = p[18];
    c->flags = p[19];
    rc = oz_config_check(c);
    if (rc != OZ_CORE_OK)
        return rc;
    if (oz_rd32(p + 20) != oz_image_size(c))
        return OZ_CORE_EFORMAT;
    if (size < oz_image_size(c))
        return OZ_CORE_ETRUNC;
    return OZ_CORE_OK;
}

/* Every (m, s) pair must satisfy oz_rq()'s preconditions. */
static int check_rq(const int32_t *rq, uint32_t n)
{
    uint32_t i;
    for (i = 0; i < n; i++)
        if (rq[2 * i] < 0 || rq[2 * i + 1] < 1 || rq[2 * i + 1] > 62)
            return 0;
    return 1;
}

int oz_model_bind(oz_model *m, const uint8_t *image, uint32_t size)
{
    oz_region reg[OZ_MAX_REGIONS];
    oz_config *c = &m->cfg;
    uint32_t l, h, D, F, H;
    int rc, r = 1;
    const uint32_t probe = 1;

    if (*(const uint8_t *)&probe != 1)
        return OZ_CORE_EPARAM; /* big-endian host: tensors are little-endian */
    if (((uintptr_t)image & 3) != 0)
        return OZ_CORE_EPARAM;
    rc = oz_image_read_header(image, size, c);
    if (rc != OZ_CORE_OK)
        return rc;
    if (size != oz_image_size(c))
        return OZ_CORE_EFORMAT;
    oz_image_layout(c, reg);
    D = c->d_model;
    F = c->d_ff;
    H = c->n_head;
#define I8(i) ((const int8_t *)(image + reg[i].offset))
#define I32(i) ((const int32_t *)(const void *)(image + reg[i].offset))
    m->emb = I8(r++);
    m->rq_emb = I32(r++);
    m->head = (c->flags & OZ_CFG_TIED) ? m->emb : I8(r++);
    m->rq_head = I32(r++);
    if (!check_rq(m->rq_emb, 256) || !check_rq(m->rq_head, 256))
        return OZ_CORE_ECORRUPT;
    for (l = 0; l < c->n_layer; l++) {
        oz_layer *L = &m->layer[l];
        L->wqkv = I8(r++);
        L->rq_qkv = I32(r++);
        L->att = I32(r++);
        L->slope = I32(r++);
        L->wo = I8(r++);
        L->rq_o = I32(r++);
        L->w1 = I8(r++);
        L->rq_1 = I32(r++);
        L->act = I8(r++);
        L->w2 = I8(r++);
        L->rq_2 = I32(r++);
        if (!check_rq(L->rq_qkv, 3 * D) || !check_rq(L->att, 1) || !check_rq(L->rq_o, D) ||
            !check_rq(L->rq_1, F) || !check_rq(L->rq_2, D))
            return OZ_CORE_ECORRUPT;
        for (h = 0; h < H; h++)
            if (L->slope[h] < 0 || L->slope[h] > OZ_MAX_SLOPE)
                return OZ_CORE_ECORRUPT;
        /* activations are in [-127, 127] (docs/integer-model.md, "Limits"):
         * the SIMD kernels' exactness proofs rely on it */
        for (h = 0; h < 256; h++)
            if (L->act[h] < -OZ_ACT_MAX)
                return OZ_CORE_ECORRUPT;
    }
#undef I8
#undef I32
    return OZ_CORE_OK;
}

uint64_t oz_model_params(const oz_config *c)
{
    uint64_t D = c->d_model, F = c->d_ff;
    uint64_t p = 256 * D * ((c->flags & OZ_CFG_TIED) ? 1 : 2);
    return p + (uint64_t)c->n_layer * (4 * D * D + 2 * D * F);
}

uint64_t oz_model_macs(const oz_config *c)
{
    uint64_t D = c->d_model, F = c->d_ff;
    return 256 * D + (uint64_t)c->n_layer * (4 * D * D + 2 * D * F + 2 * (uint64_t)c->ctx * D);
}

/* ------------------------------------------------------------------ state */

uint64_t oz_state_bytes(const oz_config *c, uint32_t cap)
{
    return 2ull * c->n_layer * cap * c->d_model;
}

void oz_state_init(oz_state *st, const oz_config *c, void *mem, uint32_t cap)
{
    st->k = (int8_t *)mem;
    st->v = st->k + (uint64_t)c->n_layer * cap * c->d_model;
    st->cap = cap;
    st->pos = 0;
}

void oz_state_reset(oz_state *st) { st->pos = 0; }

/* -------------------------------------------------------------- shared ops */

/* Embedding of one token into the residual stream x[D]. */
static void embed(const oz_model *m, uint32_t tok, int32_t *x)
{
    uint32_t D = m->cfg.d_model, i;
    const int8_t *e = m->emb + (uint64_t)tok * D;
    int32_t mm = m->rq_emb[2 * tok], ss = m->rq_emb[2 * tok + 1];
    for (i = 0; i < D; i++)
        x[i] = oz_embed1(e[i], mm, ss);
}

/* Attention of one head for the position p whose q is given; keys/values of
 * positions max(0, p-W+1)..p are in the ring (slot = position mod cap).
 *   z_j = clamp(rq(q.k_j, att), +-2^24) - slope * (p - j)      (1/256 bit)
 *   e_j = exp2q15(max z - z_j)                                  (<= 2^15)
 *   acc_d = sum_j e_j v_jd     (|acc| <= 2^15 * 127 * 512 < 2^31)
 *   o_d = sat8(floor((acc_d * floor(2^46 / E) + 2^45) / 2^46)), E = sum e_j
 * zs: scratch of W int32. */
static void attend(const int8_t *q, const int8_t *K, const int8_t *V, uint32_t cap, uint32_t D,
                   uint32_t Dh, uint32_t p, uint32_t W, const int32_t *att, int32_t slope,
                   int32_t *zs, int8_t *o)
{
    uint32_t lo = p + 1 >= W ? p + 1 - W : 0, n = p - lo + 1, j, d, slot;
    int32_t zmax = OZ_ATT_ZMIN;
    uint32_t E = 0;
    int64_t R;
    int32_t acc[OZ_MAX_DHEAD];

    slot = lo % cap;
    for (j = 0; j < n; j++) {
        int32_t z = oz_att_logit(oz_dot_i8(q, K + (uint64_t)slot * D, (int)Dh), att[0], att[1], slope,
                                 n - 1 - j);
        zs[j] = z;
        if (z > zmax)
            zmax = z;
        if (++slot == cap)
            slot = 0;
    }
    for (d = 0; d < Dh; d++)
        acc[d] = 0;
    slot = lo % cap;
    for (j = 0; j < n; j++) {
        uint32_t e = oz_att_weight(zmax, zs[j]);
        const int8_t *v = V + (uint64_t)slot * D;
        E += e;
        for (d = 0; d < Dh; d++)
            acc[d] = oz_att_mac(acc[d], e, v[d]);
        if (++slot == cap)
            slot = 0;
    }
    R = oz_att_recip(E); /* E >= 2^15: the maximum contributes 2^15 */
    for (d = 0; d < Dh; d++)
        o[d] = oz_att_out(acc[d], R);
}

/* y = sat8(rq(W x)) for rows [r0, r1) of a (rows, n) matrix. */
static void linear_i8(const int8_t *Wm, const int32_t *rq, const int8_t *x, int n, uint32_t r0,
                      uint32_t r1, int8_t *y)
{
    uint32_t r;
    for (r = r0; r < r1; r++)
        y[r - r0] = oz_row_i8(oz_dot_i8(Wm + (uint64_t)r * n, x, n), rq[2 * r], rq[2 * r + 1]);
}

/* x += rq(W y) for a (rows, n) matrix into the residual x[rows]. */
static void linear_res(const int8_t *Wm, const int32_t *rq, const int8_t *y, int n, uint32_t rows,
                       int32_t *x)
{
    uint32_t r;
    for (r = 0; r < rows; r++)
        x[r] = oz_row_res(x[r], oz_dot_i8(Wm + (uint64_t)r * n, y, n), rq[2 * r], rq[2 * r + 1]);
}

static void head_logits(const oz_model *m, const int8_t *y, int32_t *z)
{
    uint32_t s, D = m->cfg.d_model;
    for (s = 0; s < 256; s++)
        z[s] = oz_row_logit(oz_dot_i8(m->head + (uint64_t)s * D, y, (int)D), m->rq_head[2 * s],
                            m->rq_head[2 * s + 1]);
}

/* ------------------------------------------------------------------- step */

#define WS_ALIGN(x) (((x) + 63u) & ~(uint64_t)63u)

uint64_t oz_step_ws_bytes(const oz_config *c)
{
    uint64_t D = c->d_model, F = c->d_ff;
    return WS_ALIGN(4 * D) + WS_ALIGN(D) + WS_ALIGN(3 * D) + WS_ALIGN(D) + WS_ALIGN(F) +
           WS_ALIGN(4ull * c->ctx);
}

void oz_forward_step(const oz_model *m, oz_state *st, uint32_t token, void *ws, int32_t *z)
{
    const oz_config *c = &m->cfg;
    uint32_t D = c->d_model, F = c->d_ff, H = c->n_head, Dh = D / H, W = c->ctx;
    uint32_t l, h, i, p = st->pos, slot = p % st->cap;
    uint8_t *w = (uint8_t *)ws;
    int32_t *x = (int32_t *)(void *)w;
    int8_t *y = (int8_t *)(w += WS_ALIGN(4 * D));
    int8_t *qkv = (int8_t *)(w += WS_ALIGN(D));
    int8_t *a = (int8_t *)(w += WS_ALIGN(3 * D));
    int8_t *g = (int8_t *)(w += WS_ALIGN(D));
    int32_t *zs = (int32_t *)(void *)(w += WS_ALIGN(F));

    embed(m, token & 255, x);
    for (l = 0; l < c->n_layer; l++) {
        const oz_layer *L = &m->layer[l];
        int8_t *K = st->k + (uint64_t)l * st->cap * D, *V = st->v + (uint64_t)l * st->cap * D;
        oz_rmsnorm(x, y, (int)D);
        linear_i8(L->wqkv, L->rq_qkv, y, (int)D, 0, 3 * D, qkv);
        for (i = 0; i < D; i++) {
            K[(uint64_t)slot * D + i] = qkv[D + i];
            V[(uint64_t)slot * D + i] = qkv[2 * D + i];
        }
        for (h = 0; h < H; h++)
            attend(qkv + h * Dh, K + h * Dh, V + h * Dh, st->cap, D, Dh, p, W, L->att, L->slope[h],
                   zs, a + h * Dh);
        linear_res(L->wo, L->rq_o, a, (int)D, D, x);
        oz_rmsnorm(x, y, (int)D);
        for (i = 0; i < F; i++) {
            g[i] = oz_act(L->act, oz_row_i8(oz_dot_i8(L->w1 + (uint64_t)i * D, y, (int)D), L->rq_1[2 * i],
                                            L->rq_1[2 * i + 1]));
        }
        linear_res(L->w2, L->rq_2, g, (int)F, D, x);
    }
    oz_rmsnorm(x, y, (int)D);
    head_logits(m, y, z);
    st->pos = p + 1;
}

/* ------------------------------------------------------------------ chunk */

uint64_t oz_chunk_ws_bytes(const oz_config *c, uint32_t n)
{
    uint64_t D = c->d_model, F = c->d_ff;
    return WS_ALIGN(4 * D * n) + WS_ALIGN(D * n) + WS_ALIGN(3 * D * n) + WS_ALIGN(D * n) +
           WS_ALIGN(F * n) + WS_ALIGN(4ull * c->ctx);
}

/* Matrix-matrix form of the step: every weight row is applied to all n
 * positions while it is in cache. The arithmetic per (row, position) is the
 * step's, so the results are identical. */
void oz_forward_chunk(const oz_model *m, oz_state *st, const uint8_t *tokens, uint32_t n,
                      void *ws, int32_t *z)
{
    const oz_config *c = &m->cfg;
    uint32_t D = c->d_model, F = c->d_ff, H = c->n_head, Dh = D / H, W = c->ctx;
    uint32_t l, h, i, t, r, p0 = st->pos;
    uint8_t *w = (uint8_t *)ws;
    int32_t *X = (int32_t *)(void *)w;                   /* (n, D) residual */
    int8_t *Y = (int8_t *)(w += WS_ALIGN(4ull * D * n)); /* (n, D) normalised */
    int8_t *QKV = (int8_t *)(w += WS_ALIGN((uint64_t)D * n)); /* (n, 3D) */
    int8_t *A = (int8_t *)(w += WS_ALIGN(3ull * D * n));  /* (n, D) attention out */
    int8_t *G = (int8_t *)(w += WS_ALIGN((uint64_t)D * n)); /* (n, F) activation out */
    int32_t *zs = (int32_t *)(void *)(w += WS_ALIGN((uint64_t)F * n));

    for (t = 0; t < n; t++)
        embed(m, tokens[t], X + (uint64_t)t * D);
    for (l = 0; l < c->n_layer; l++) {
        const oz_layer *L = &m->layer[l];
        int8_t *K = st->k + (uint64_t)l * st->cap * D, *V = st->v + (uint64_t)l * st->cap * D;
        for (t = 0; t < n; t++)
            oz_rmsnorm(X + (uint64_t)t * D, Y + (uint64_t)t * D, (int)D);
        for (r = 0; r < 3 * D; r++) {
            const int8_t *wr = L->wqkv + (uint64_t)r * D;
            int32_t mm = L->rq_qkv[2 * r], ss = L->rq_qkv[2 * r + 1];
            for (t = 0; t < n; t++)
                QKV[(uint64_t)t * 3 * D + r] = oz_row_i8(oz_dot_i8(wr, Y + (uint64_t)t * D, (int)D), mm, ss);
        }
        for (t = 0; t < n; t++) {
            uint32_t slot = (p0 + t) % st->cap;
            for (i = 0; i < D; i++) {
                K[(uint64_t)slot * D + i] = QKV[(uint64_t)t * 3 * D + D + i];
                V[(uint64_t)slot * D + i] = QKV[(uint64_t)t * 3 * D + 2 * D + i];
            }
        }
        for (t = 0; t < n; t++)
            for (h = 0; h < H; h++)
                attend(QKV + (uint64_t)t * 3 * D + h * Dh, K + h * Dh, V + h * Dh, st->cap, D, Dh,
                       p0 + t, W, L->att, L->slope[h], zs, A + (uint64_t)t * D + h * Dh);
        for (r = 0; r < D; r++) {
            const int8_t *wr = L->wo + (uint64_t)r * D;
            int32_t mm = L->rq_o[2 * r], ss = L->rq_o[2 * r + 1];
            for (t = 0; t < n; t++)
                X[(uint64_t)t * D + r] = oz_row_res(X[(uint64_t)t * D + r], oz_dot_i8(wr, A + (uint64_t)t * D, (int)D), mm, ss);
        }
        for (t = 0; t < n; t++)
            oz_rmsnorm(X + (uint64_t)t * D, Y + (uint64_t)t * D, (int)D);
        for (r = 0; r < F; r++) {
            const int8_t *wr = L->w1 + (uint64_t)r * D;
            int32_t mm = L->rq_1[2 * r], ss = L->rq_1[2 * r + 1];
            for (t = 0; t < n; t++)
                G[(uint64_t)t * F + r] = oz_act(L->act, oz_row_i8(oz_dot_i8(wr, Y + (uint64_t)t * D, (int)D), mm, ss));
        }
        for (r = 0; r < D; r++) {
            const int8_t *wr = L->w2 + (uint64_t)r * F;
            int32_t mm = L->rq_2[2 * r], ss = L->rq_2[2 * r + 1];
            for (t = 0; t < n; t++)
                X[(uint64_t)t * D + r] = oz_row_res(X[(uint64_t)t * D + r], oz_dot_i8(wr, G + (uint64_t)t * F, (int)F), mm, ss);
        }
    }
    for (t = 0; t < n; t++) {
        oz_rmsnorm(X + (uint64_t)t * D, Y + (uint64_t)t * D, (int)D);
        head_logits(m, Y + (uint64_t)t * D, z + (uint64_t)t * 256);
    }
    st->pos = p0 + n;
}

/* -------------------------------------------------------------- frequencies */

/* f_s = 1 + floor(e_s * R / 2^32) with e_s = exp2q15(zmax - z_s),
 * R = floor((2^20 - 256) * 2^32 / sum e); the rest of 2^20 goes to the first
 * symbol with the largest logit. Bounds: e_s <= 2^15, R < 2^37, product < 2^52. */
void oz_freq_cum(const int32_t *z, uint32_t *cum)
{
    int32_t zmax = z[0];
    uint32_t s, best = 0, e[256], sum = 0, f;
    uint64_t E = 0, R;
    for (s = 1; s < 256; s++)
        if (oz_freq_better(z[s], s, zmax, best)) {
            zmax = z[s];
            best = s;
        }
    for (s = 0; s < 256; s++) {
        e[s] = oz_exp2q15(zmax - z[s]);
        E += e[s];
    }
    R = oz_freq_recip(E);
    for (s = 0; s < 256; s++) {
        e[s] = oz_freq1(e[s], R);
        sum += e[s];
    }
    e[best] += oz_freq_rest(sum);
    f = 0;
    for (s = 0; s < 256; s++) {
        cum[s] = f;
        f += e[s];
    }
    cum[256] = f;
}
