/* lmdec_host.c - describing a model and its streams in the kernel's buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmdec_host.h"

static void *zalloc64(size_t n)
{
    void *p = NULL;
    n = (n + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, n ? n : 64))
        return NULL;
    memset(p, 0, n ? n : 64);
    return p;
}

int ozk_model_fits(const oz_config *c, char *why, size_t why_n)
{
    static const char *what[] = {
        "", "layers", "d_model (or heads x padded head width)", "d_ff", "heads", "head width",
        "attention window", "key/value ring (2 L W ceil(H Dhp / lanes) words)", "attention logits (W H)",
        "weight words", "requantisation rows"};
    ozk_dims dm;
    int lim = ozk_dims_init(&dm, c->n_layer, c->d_model, c->n_head, c->d_ff, c->ctx, c->flags & OZ_CFG_TIED);
    if (lim != OZK_L_NONE && why)
        snprintf(why, why_n,
                 "the model (L%u D%u H%u F%u W%u) exceeds the kernel's %s limit (build: %d PEs, %d lanes, "
                 "L <= %d, D <= %d, F <= %d, H <= %d, W <= %d, %d key/value words, %d weight words)",
                 c->n_layer, c->d_model, c->n_head, c->d_ff, c->ctx, what[lim], OZK_PE, OZK_LANES,
                 OZK_MAX_LAYERS, OZK_MAX_D, OZK_MAX_F, OZK_MAX_H, OZK_MAX_W, OZK_KV_WORDS, OZK_W_WORDS);
    return lim;
}

static uint32_t off_of(const void *p, const uint8_t *image)
{
    return (uint32_t)((const uint8_t *)p - image);
}

int ozk_pack(const oz_model *m, const uint8_t *image, uint32_t image_size, const ozk_job *jobs, uint32_t n,
             ozk_bufs *b)
{
    uint64_t in_total = 0, out_total = 0, at = 0, o = 0;
    uint32_t i, l, *d;
    memset(b, 0, sizeof *b);
    for (i = 0; i < n; i++) {
        in_total += (jobs[i].in_len + 63) & ~(uint64_t)63;
        out_total += jobs[i].out_len;
    }
    b->nstreams = n;
    b->desc_bytes = 4 * ((size_t)OZK_D_STREAMS + (size_t)OZK_S_WORDS * n);
    b->in_bytes = (size_t)in_total ? (size_t)in_total : 64;
    b->out_bytes = (size_t)((out_total + 63) & ~(uint64_t)63) ? (size_t)((out_total + 63) & ~(uint64_t)63) : 64;
    b->status_bytes = 4 * ((size_t)OZK_ST_STREAMS + n);
    b->desc = (uint32_t *)zalloc64(b->desc_bytes);
    b->in = (uint8_t *)zalloc64(b->in_bytes);
    b->status = (uint32_t *)zalloc64(b->status_bytes);
    b->out_off = (uint64_t *)calloc(n ? n : 1, sizeof *b->out_off);
    if (!b->desc || !b->in || !b->status || !b->out_off) {
        ozk_bufs_free(b);
        return -1;
    }
    b->desc_bytes = (b->desc_bytes + 63) & ~(size_t)63;
    b->status_bytes = (b->status_bytes + 63) & ~(size_t)63;
    memset(b->status, 0xFF, b->status_bytes); /* OZK_NOT_RUN everywhere */
    d = b->desc;
    d[OZK_D_MAGIC] = OZK_MAGIC;
    d[OZK_D_VERSION] = OZK_VERSION;
    d[OZK_D_L] = m->cfg.n_layer;
    d[OZK_D_D] = m->cfg.d_model;
    d[OZK_D_H] = m->cfg.n_head;
    d[OZK_D_F] = m->cfg.d_ff;
    d[OZK_D_W] = m->cfg.ctx;
    d[OZK_D_FLAGS] = m->cfg.flags;
    d[OZK_D_MODEL_SIZE] = image_size;
    /* tensor offsets from the pointers oz_model_bind set: the layout has one definition */
    d[OZK_D_EMB] = off_of(m->emb, image);
    d[OZK_D_RQ_EMB] = off_of(m->rq_emb, image);
    d[OZK_D_HEAD] = off_of(m->head, image);
    d[OZK_D_RQ_HEAD] = off_of(m->rq_head, image);
    for (l = 0; l < m->cfg.n_layer && l < OZ_MAX_LAYERS; l++) {
        const oz_layer *L = &m->layer[l];
        uint32_t *t = d + OZK_D_LAYERS + OZK_T_COUNT * l;
        t[OZK_T_WQKV] = off_of(L->wqkv, image);
        t[OZK_T_RQ_QKV] = off_of(L->rq_qkv, image);
        t[OZK_T_ATT] = off_of(L->att, image);
        t[OZK_T_SLOPE] = off_of(L->slope, image);
        t[OZK_T_WO] = off_of(L->wo, image);
        t[OZK_T_RQ_O] = off_of(L->rq_o, image);
        t[OZK_T_W1] = off_of(L->w1, image);
        t[OZK_T_RQ_1] = off_of(L->rq_1, image);
        t[OZK_T_ACT] = off_of(L->act, image);
        t[OZK_T_W2] = off_of(L->w2, image);
        t[OZK_T_RQ_2] = off_of(L->rq_2, image);
    }
    for (i = 0; i < n; i++) {
        uint32_t *s = d + OZK_D_STREAMS + OZK_S_WORDS * i;
        memcpy(b->in + at, jobs[i].in, (size_t)jobs[i].in_len);
        s[OZK_S_IN_LO] = (uint32_t)at;
        s[OZK_S_IN_HI] = (uint32_t)(at >> 32);
        s[OZK_S_IN_LEN] = (uint32_t)jobs[i].in_len;
        s[OZK_S_OUT_LO] = (uint32_t)o;
        s[OZK_S_OUT_HI] = (uint32_t)(o >> 32);
        s[OZK_S_OUT_LEN] = (uint32_t)jobs[i].out_len;
        b->out_off[i] = o;
        at += (jobs[i].in_len + 63) & ~(uint64_t)63;
        o += jobs[i].out_len;
    }
    return 0;
}

void ozk_bufs_free(ozk_bufs *b)
{
    free(b->desc);
    free(b->in);
    free(b->status);
    free(b->out_off);
    memset(b, 0, sizeof *b);
}

uint64_t ozk_status64(const uint32_t *status, int at)
{
    return (uint64_t)status[at] | ((uint64_t)status[at + 1] << 32);
}

const char *ozk_strerror(const uint32_t *status)
{
    if (status[OZK_ST_DONE] != OZK_DONE)
        return "the kernel did not finish: no result was written to its status buffer";
    switch (status[OZK_ST_RC]) {
    case OZK_OK:
        return "ok";
    case OZK_E_DESC:
        return "the kernel rejected its descriptor (version mismatch between host and kernel build?)";
    case OZK_E_LIMIT:
        return "the model exceeds the kernel's limits";
    case OZK_E_MODEL:
        return "the kernel found an out-of-range field in the model";
    }
    return "the kernel returned an unknown result";
}
