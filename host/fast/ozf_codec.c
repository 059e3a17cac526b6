/* ozf_codec.c - model streams coded with the fast engine. The coding loop is
 * core/'s (oz_freq_cum, rANS in core/oz_rans.h, oz_decode_symbol); only the
 * logits come from the engine, and they equal core's. */
#include <stdlib.h>
#include <string.h>

#include "../../core/oz_codec.h"
#include "ozf.h"

int ozf_encode_stream(const ozf_model *fm, const uint8_t *data, uint64_t n, uint8_t *out, uint64_t *out_len)
{
    const oz_config *c = &fm->m->cfg;
    const uint32_t B = OZ_ENC_BLOCK;
    ozf_ring ring, *rp[OZ_ENC_BLOCK];
    ozf_scratch s;
    uint32_t *sf = malloc(8 * (n ? n : 1)), pos[OZ_ENC_BLOCK];
    int32_t *z = malloc(4 * 256 * (size_t)B);
    uint8_t tok[OZ_ENC_BLOCK], *start;
    uint64_t b, i;
    oz_renc enc;
    int rc = OZ_CORE_EPARAM;
    memset(&ring, 0, sizeof ring);
    memset(&s, 0, sizeof s);
    if (!sf || !z || ozf_ring_init(&ring, c, ozf_ring_cap(c->ctx, B)) || ozf_scratch_init(&s, c, B))
        goto done;
    for (i = 0; i < B; i++)
        rp[i] = &ring;
    for (b = 0; b < n; b += B) {
        uint32_t k, cnt = (uint32_t)(n - b < B ? n - b : B);
        for (k = 0; k < cnt; k++) {
            tok[k] = (b + k == 0) ? 0 : data[b + k - 1];
            pos[k] = (uint32_t)(b + k);
        }
        ozf_forward(fm, &s, cnt, tok, pos, rp, z);
        fm->k->freq_sym(z, cnt, data + b, sf + 2 * b);
    }
    oz_renc_init(&enc, out, out + oz_encode_bound(n));
    for (i = n; i-- > 0;)
        oz_renc_put(&enc, sf[2 * i], sf[2 * i + 1], OZ_PROB_BITS);
    start = oz_renc_finish(&enc);
    if (start) {
        *out_len = (uint64_t)(out + oz_encode_bound(n) - start);
        memmove(out, start, *out_len);
        rc = OZ_CORE_OK;
    }
done:
    free(sf);
    free(z);
    ozf_ring_free(&ring);
    ozf_scratch_free(&s);
    return rc;
}

int ozf_batch_lanes(const ozf_model *fm, ozf_ring *rings, uint32_t n, ozf_lanes **lb)
{
    const oz_config *c = &fm->m->cfg;
    uint32_t L = fm->k->lanes, Dh = c->d_model / c->n_head, G, per, g, i, cap = 0;
    *lb = NULL;
    for (i = 0; i < n && !cap; i++) /* the rings' length, which the copies share */
        cap = rings[i].mem ? rings[i].cap : 0;
    if (!L || !cap || n < L / 2 || Dh % 4 || Dh > 16)
        return 0;
    G = (n + L - 1) / L;
    per = (n + G - 1) / G;
    if (!(*lb = calloc(G, sizeof **lb)))
        return -1;
    for (g = 0; g < G; g++)
        if (ozf_lanes_init(&(*lb)[g], c, cap, L)) {
            ozf_batch_lanes_free(*lb, (int)G);
            *lb = NULL;
            return -1;
        }
    for (i = 0; i < n; i++)
        if (rings[i].mem && rings[i].cap == cap)
            ozf_ring_join(&rings[i], &(*lb)[i / per], i % per);
    return (int)G;
}

void ozf_batch_lanes_free(ozf_lanes *lb, int G)
{
    int g;
    for (g = 0; lb && g < G; g++)
        ozf_lanes_free(&lb[g]);
    free(lb);
}

int ozf_decode_batch(const ozf_model *fm, ozf_job *jobs, uint32_t njobs, void (*tick)(void *ctx, uint64_t bytes),
                     void *ctx)
{
    uint64_t since_tick = 0;
    const oz_config *c = &fm->m->cfg;
    uint32_t nj = njobs ? njobs : 1, nact = 0, i, k;
    ozf_ring *rings = calloc(nj, sizeof *rings), **rp = calloc(nj, sizeof *rp);
    oz_rdec *dec = calloc(nj, sizeof *dec);
    uint32_t *act = calloc(nj, sizeof *act), *pos = calloc(nj, sizeof *pos);
    uint64_t *done = calloc(nj, sizeof *done); /* bytes decoded per job */
    uint8_t *tok = calloc(nj, 1);
    int32_t *z = malloc(4 * 256 * (size_t)nj);
    uint32_t *slot = calloc(nj, 4), *sym = calloc(nj, 4), *start = calloc(nj, 4), *freq = calloc(nj, 4);
    ozf_lanes *lb = NULL;
    int G = 0;
    ozf_scratch s;
    int ret = -1;
    memset(&s, 0, sizeof s);
    if (!rings || !rp || !dec || !act || !pos || !done || !tok || !z || !slot || !sym || !start || !freq ||
        ozf_scratch_init(&s, c, nj))
        goto out;
    for (i = 0; i < njobs; i++) {
        oz_rdec_init(&dec[i], jobs[i].in, jobs[i].in_len);
        if (dec[i].err)
            jobs[i].rc = dec[i].err == 1 ? OZ_CORE_ETRUNC : OZ_CORE_ECORRUPT;
        else if (jobs[i].out_len == 0)
            jobs[i].rc = oz_rdec_done(&dec[i]) ? OZ_CORE_OK : OZ_CORE_ECORRUPT;
        else if (ozf_ring_init(&rings[i], c, ozf_ring_cap(c->ctx, 1)))
            goto out;
        else
            act[nact++] = i;
    }
    if ((G = ozf_batch_lanes(fm, rings, njobs, &lb)) < 0)
        goto out;
    /* every active stream advances one byte per pass; a finished or failed
     * stream leaves the batch */
    while (nact) {
        uint32_t keep = 0;
        for (k = 0; k < nact; k++) {
            i = act[k];
            rp[k] = &rings[i];
            pos[k] = (uint32_t)done[i];
            tok[k] = done[i] ? jobs[i].out[done[i] - 1] : 0;
        }
        ozf_forward(fm, &s, nact, tok, pos, rp, z);
        /* every row's slot first (a stream's slot depends only on its
         * decoder), so that the rows' symbol searches run together */
        for (k = 0; k < nact; k++)
            slot[k] = oz_rdec_slot(&dec[act[k]], OZ_PROB_BITS);
        fm->k->freq_find(z, nact, slot, sym, start, freq);
        for (k = 0; k < nact; k++) {
            i = act[k];
            oz_rdec_advance(&dec[i], start[k], freq[k], OZ_PROB_BITS);
            jobs[i].out[done[i]++] = (uint8_t)sym[k];
            if (dec[i].err)
                jobs[i].rc = OZ_CORE_ETRUNC;
            else if (done[i] == jobs[i].out_len)
                jobs[i].rc = oz_rdec_done(&dec[i]) ? OZ_CORE_OK : OZ_CORE_ECORRUPT;
            else
                act[keep++] = i;
        }
        since_tick += nact;
        nact = keep;
        if (tick && (since_tick >= 65536 || !nact)) {
            tick(ctx, since_tick);
            since_tick = 0;
        }
    }
    ret = 0;
out:
    if (rings)
        for (i = 0; i < njobs; i++)
            ozf_ring_free(&rings[i]);
    free(rings);
    ozf_batch_lanes_free(lb, G);
    free(rp);
    free(dec);
    free(act);
    free(pos);
    free(done);
    free(tok);
    free(z);
    free(slot);
    free(sym);
    free(start);
    free(freq);
    ozf_scratch_free(&s);
    return ret;
}
