/* lmdec.c - the FPGA decode kernel: the integer Transformer fused with the
 * rANS decoder, for OZK_PE streams in lock step.
 *
 * One source, three compilers: Vitis HLS (C or C++, the top function below
 * with its interface pragmas), gcc/g++ (the testbench hls/tb/ and the
 * emulated device build/libozip_kernel_emu.so) and OpenCL C (the host's
 * opencl backend builds it at run time). Every value is computed by a core/
 * function (oz_ops.h, oz_int.h, oz_rans.h); this file adds the loops, the
 * on-chip buffers and the pragmas. docs/fpga.md explains the architecture
 * and derives the cycle model that OZK_CYC counts.
 *
 * Structure of a launch:
 *   load    the model into on-chip memory (weights padded to words of
 *           OZK_LANES bytes, requantisation pairs, tables);
 *   repeat  give every free PE the next stream; load each PE's input words
 *           for OZK_SEG steps; run up to OZK_SEG steps, all PEs at once;
 *           store the decoded bytes; record the streams that ended.
 * A step is one position of every live stream: embedding, L layers (norm,
 * q/k/v, attention over the ring of W keys/values, output projection, norm,
 * MLP), norm, output head, frequencies, rANS decode.
 *
 * The only warnings gcc gives on this file are for the HLS pragmas
 * (-Wunknown-pragmas), which the builds switch off. */
#include "lmdec.h"

#if defined(__SYNTHESIS__)
#define OZK_CYC(ck, field, n) ((void)0)
#else
/* the cycle model: trip count x II + pipeline depth of each loop, as run */
#define OZK_CYC(ck, field, n) ((ck)->field += (uint64_t)(n))
#endif

#define OZK_K OZK_LANES

#if defined(OZK_CHIP_BYTES)
/* Built as OpenCL C by a host that sized `chip` with its own C compiler
 * (host/backend_opencl.c): the two layouts of ozk_chip must agree. */
typedef char ozk_chip_layout_matches_the_host[sizeof(ozk_chip) == OZK_CHIP_BYTES ? 1 : -1];
#endif

/* int8 from a byte of the model image, without an implementation-defined conversion */
OZ_INLINE int8_t ozk_i8(uint32_t b)
{
    return (int8_t)((int32_t)b - (int32_t)((b & 0x80u) << 1));
}

OZ_INLINE uint32_t ozk_up(uint32_t a, uint32_t b)
{
    return (a + b - 1) / b;
}

/* word of the key (part 0) or value (part 1) ring of layer l, slot j, word c */
OZ_INLINE uint32_t ozk_kvw(const ozk_dims *dm, uint32_t l, uint32_t part, uint32_t j, uint32_t c)
{
    return ((l * 2 + part) * dm->W + j) * dm->Dpk + c;
}

/* ------------------------------------------------------------------ load */

/* An int32 field of the model that must lie in [lo, hi] (lo >= 0): 1 if it does. */
OZ_INLINE int ozk_in(OZ_MEM const uint8_t *p, int32_t lo, int32_t hi)
{
    uint32_t u = oz_rd32(p);
    return u >= (uint32_t)lo && u <= (uint32_t)hi;
}

/* Its value, once checked (the mask keeps the conversion defined). */
OZ_INLINE int32_t ozk_i32(OZ_MEM const uint8_t *p)
{
    return (int32_t)(oz_rd32(p) & 0x7FFFFFFFu);
}

/* rows x n int8 matrix at byte offset off -> words [wb, wb + rows * nw);
 * remap: columns go to the padded head lanes (the input of Wo). */
static int ozk_load_matrix(OZ_MEM ozk_chip *ck, const ozk_dims *dm, OZ_MEM const uint8_t *model,
                           uint32_t msize, uint32_t off, uint32_t rows, uint32_t n, uint32_t wb, uint32_t nw,
                           int remap)
{
    uint32_t r, c, k, i;
    if (off > msize || (uint64_t)rows * n > msize - off)
        return 0;
    for (r = 0; r < rows; r++) {
        for (c = 0; c < nw; c++)
            for (k = 0; k < OZK_K; k++)
                ck->wgt[wb + r * nw + c][k] = 0;
        for (i = 0; i < n; i++) {
#pragma HLS PIPELINE II=1
            uint32_t lane = remap ? ozk_plane(dm, i) : i;
            ck->wgt[wb + r * nw + lane / OZK_K][lane % OZK_K] = ozk_i8(model[off + r * n + i]);
        }
    }
    OZK_CYC(ck, cyc_load, rows * n / OZK_AXI_BYTES + rows * nw + OZK_LAT_AXI);
    return 1;
}

static int ozk_load_rq(OZ_MEM ozk_chip *ck, OZ_MEM const uint8_t *model, uint32_t msize, uint32_t off,
                       uint32_t rows, uint32_t rb)
{
    uint32_t r;
    if ((off & 3) || off > msize || (uint64_t)rows * 8 > msize - off)
        return 0;
    for (r = 0; r < rows; r++) {
#pragma HLS PIPELINE II=1
        /* the ranges oz_model_bind checks: oz_rq() is defined on them */
        if (!ozk_in(model + off + 8 * r, 0, 0x7FFFFFFF) || !ozk_in(model + off + 8 * r + 4, 1, 62))
            return 0;
        ck->rqm[rb + r] = ozk_i32(model + off + 8 * r);
        ck->rqs[rb + r] = ozk_i32(model + off + 8 * r + 4);
    }
    OZK_CYC(ck, cyc_load, rows + OZK_LAT_AXI);
    return 1;
}

/* Reads the model's shape and tensors; returns OZK_OK or an OZK_E_* code. */
static int ozk_load(OZ_MEM ozk_chip *ck, ozk_dims *dm, OZ_MEM const uint8_t *model, OZ_MEM const uint32_t *desc,
                    OZ_MEM uint32_t *status)
{
    uint32_t msize = desc[OZK_D_MODEL_SIZE], l, h, i, pe, c, k, j;
    int lim, ok = 1;
    if (desc[OZK_D_MAGIC] != OZK_MAGIC || desc[OZK_D_VERSION] != OZK_VERSION)
        return OZK_E_DESC;
    lim = ozk_dims_init(dm, desc[OZK_D_L], desc[OZK_D_D], desc[OZK_D_H], desc[OZK_D_F], desc[OZK_D_W],
                        desc[OZK_D_FLAGS] & OZ_CFG_TIED);
    if (lim != OZK_L_NONE) {
        status[OZK_ST_DETAIL] = (uint32_t)lim;
        return OZK_E_LIMIT;
    }
    ok &= ozk_load_matrix(ck, dm, model, msize, desc[OZK_D_EMB], 256, dm->D, dm->wb_emb, dm->Dk, 0);
    ok &= ozk_load_rq(ck, model, msize, desc[OZK_D_RQ_EMB], 256, dm->rb_emb);
    if (!dm->tied)
        ok &= ozk_load_matrix(ck, dm, model, msize, desc[OZK_D_HEAD], 256, dm->D, dm->wb_head, dm->Dk, 0);
    ok &= ozk_load_rq(ck, model, msize, desc[OZK_D_RQ_HEAD], 256, dm->rb_head);
    for (l = 0; l < dm->L && ok; l++) {
        OZ_MEM const uint32_t *t = desc + OZK_D_LAYERS + OZK_T_COUNT * l;
        uint32_t D = dm->D, F = dm->F;
        ok &= ozk_load_matrix(ck, dm, model, msize, t[OZK_T_WQKV], 3 * D, D, dm->wb[l][0], dm->Dk, 0);
        ok &= ozk_load_rq(ck, model, msize, t[OZK_T_RQ_QKV], 3 * D, dm->rb[l][0]);
        ok &= ozk_load_matrix(ck, dm, model, msize, t[OZK_T_WO], D, D, dm->wb[l][1], dm->Dpk, 1);
        ok &= ozk_load_rq(ck, model, msize, t[OZK_T_RQ_O], D, dm->rb[l][1]);
        ok &= ozk_load_matrix(ck, dm, model, msize, t[OZK_T_W1], F, D, dm->wb[l][2], dm->Dk, 0);
        ok &= ozk_load_rq(ck, model, msize, t[OZK_T_RQ_1], F, dm->rb[l][2]);
        ok &= ozk_load_matrix(ck, dm, model, msize, t[OZK_T_W2], D, F, dm->wb[l][3], dm->Fk, 0);
        ok &= ozk_load_rq(ck, model, msize, t[OZK_T_RQ_2], D, dm->rb[l][3]);
        if (!ok || (t[OZK_T_ATT] & 3) || (t[OZK_T_SLOPE] & 3) || t[OZK_T_ATT] > msize - 8 ||
            t[OZK_T_SLOPE] > msize - 4 * dm->H || t[OZK_T_ACT] > msize - 256)
            return OZK_E_MODEL;
        ok &= ozk_in(model + t[OZK_T_ATT], 0, 0x7FFFFFFF) & ozk_in(model + t[OZK_T_ATT] + 4, 1, 62);
        ck->att[l][0] = ozk_i32(model + t[OZK_T_ATT]);
        ck->att[l][1] = ozk_i32(model + t[OZK_T_ATT] + 4);
        for (h = 0; h < dm->H; h++) {
            ok &= ozk_in(model + t[OZK_T_SLOPE] + 4 * h, 0, OZ_MAX_SLOPE);
            ck->slope[l][h] = ozk_i32(model + t[OZK_T_SLOPE] + 4 * h);
        }
        for (i = 0; i < 256; i++)
            ck->act[l][i] = ozk_i8(model[t[OZK_T_ACT] + i]);
        OZK_CYC(ck, cyc_load, 256 + 2 + dm->H + OZK_LAT_AXI);
    }
    if (!ok)
        return OZK_E_MODEL;
    /* pad lanes of the per-PE vectors are read (times zero weights, or as
     * head padding of q, k, v) and must hold numbers: zero them once */
    for (pe = 0; pe < OZK_PE; pe++)
        for (c = 0; c < OZK_VW; c++)
            for (k = 0; k < OZK_K; k++) {
                ck->vb[pe][0][c][k] = 0;
                ck->vb[pe][1][c][k] = 0;
                if (c < OZK_DW)
                    for (j = 0; j < 3; j++)
                        ck->qkv[pe][j][c][k] = 0;
            }
    OZK_CYC(ck, cyc_load, OZK_VW);
    return OZK_OK;
}

/* ------------------------------------------------------------------ step */

/* x <- embedding of each live PE's previous byte, and the sum of its squares
 * for the next norm. The PEs take turns on one K-lane unit: their rows differ,
 * and the weight memory has one read port. */
static void ozk_embed(OZ_MEM ozk_chip *ck, const ozk_dims *dm)
{
    uint32_t pe, c, k;
    for (pe = 0; pe < OZK_PE; pe++) {
        if (!ck->live[pe])
            continue;
        ck->ss[pe] = 0;
        for (c = 0; c < dm->Dk; c++) {
#pragma HLS PIPELINE II=1
            uint32_t tok = ck->prev[pe];
            OZ_MEM const int8_t *w = ck->wgt[dm->wb_emb + tok * dm->Dk + c];
            int32_t m = ck->rqm[dm->rb_emb + tok], s = ck->rqs[dm->rb_emb + tok];
            for (k = 0; k < OZK_K; k++)
                if (c * OZK_K + k < dm->D) {
                    ck->x[pe][c * OZK_K + k] = oz_embed1(w[k], m, s);
                    ck->ss[pe] += oz_sq(ck->x[pe][c * OZK_K + k]);
                }
        }
    }
    OZK_CYC(ck, cyc_step, OZK_PE * dm->Dk + OZK_DEPTH_EL);
}

/* vb[pe][0] <- rmsnorm(x), every PE at once, OZK_WIDE lanes each. The sum
 * of squares was taken as x was written (embedding, residual rows). */
static void ozk_norm(OZ_MEM ozk_chip *ck, const ozk_dims *dm)
{
    int64_t inv[OZK_PE];
    uint32_t pe, i, k;
#pragma HLS ARRAY_PARTITION variable=inv complete
    for (pe = 0; pe < OZK_PE; pe++)
        if (ck->live[pe])
            inv[pe] = oz_rms_inv(ck->ss[pe], dm->D);
    for (i = 0; i < dm->D; i += OZK_WIDE) {
#pragma HLS PIPELINE II=1
        for (pe = 0; pe < OZK_PE; pe++)
            if (ck->live[pe])
                for (k = 0; k < OZK_WIDE; k++)
                    ck->vb[pe][0][(i + k) / OZK_K][(i + k) % OZK_K] = oz_norm(ck->x[pe][i + k], inv[pe]);
    }
    OZK_CYC(ck, cyc_step, OZK_LAT_ISQRT + OZK_LAT_DIV_NORM + ozk_up(dm->D, OZK_WIDE) + OZK_DEPTH_EL);
}

enum { OZK_TO_QKV, OZK_TO_RES, OZK_TO_ACT, OZK_TO_LOGIT };

/* rows x (nw words) matrix at word wb times vb[pe][src], every PE at once:
 * one weight word per cycle, broadcast to the PEs, OZK_LANES MACs each. The
 * row's end turns the sum into the destination's value; residual rows also
 * sum x^2 for the next norm, logit rows keep the largest logit (rows come in
 * symbol order, so oz_freq_better's tie rule holds). */
static void ozk_matvec(OZ_MEM ozk_chip *ck, const ozk_dims *dm, uint32_t rows, uint32_t nw, uint32_t wb,
                       uint32_t rb, int src, int dst, uint32_t l)
{
    int32_t acc[OZK_PE];
    uint32_t pe, t, r = 0, c = 0, part = 0, h = 0, d = 0;
#pragma HLS ARRAY_PARTITION variable=acc complete
    for (pe = 0; pe < OZK_PE; pe++) {
        acc[pe] = 0;
        if (dst == OZK_TO_RES)
            ck->ss[pe] = 0;
    }
    for (t = 0; t < rows * nw; t++) {
#pragma HLS PIPELINE II=1
        OZ_MEM const int8_t *w = ck->wgt[wb + t];
        for (pe = 0; pe < OZK_PE; pe++)
            if (ck->live[pe])
                acc[pe] += oz_dot_i8(w, ck->vb[pe][src][c], OZK_K);
        if (++c < nw)
            continue;
        {
            int32_t m = ck->rqm[rb + r], s = ck->rqs[rb + r];
            uint32_t lane = h * dm->Dhp + d; /* QKV: padded lane of element (part, h, d) */
            for (pe = 0; pe < OZK_PE; pe++) {
                if (!ck->live[pe])
                    continue;
                if (dst == OZK_TO_QKV)
                    ck->qkv[pe][part][lane / OZK_K][lane % OZK_K] = oz_row_i8(acc[pe], m, s);
                else if (dst == OZK_TO_RES) {
                    ck->x[pe][r] = oz_row_res(ck->x[pe][r], acc[pe], m, s);
                    ck->ss[pe] += oz_sq(ck->x[pe][r]);
                } else if (dst == OZK_TO_ACT) {
                    ck->vb[pe][1][r / OZK_K][r % OZK_K] = oz_act(ck->act[l], oz_row_i8(acc[pe], m, s));
                } else {
                    int32_t z = oz_row_logit(acc[pe], m, s);
                    ck->z[pe][r] = z;
                    if (r == 0 || oz_freq_better(z, r, ck->zmax[pe], ck->zbest[pe])) {
                        ck->zmax[pe] = z;
                        ck->zbest[pe] = r;
                    }
                }
                acc[pe] = 0;
            }
        }
        c = 0;
        r++;
        if (++d == dm->Dh) {
            d = 0;
            if (++h == dm->H) {
                h = 0;
                part++;
            }
        }
    }
    OZK_CYC(ck, cyc_step, rows * nw + OZK_DEPTH_MAC);
}

/* Attention of layer l for every live PE: the new key/value into the ring
 * slot of this position, then two passes over the W slots (logits with the
 * running maximum; weights and weighted values), then the outputs into
 * vb[pe][1]. The heads of one word (OZK_LANES / Dhp of them) go together. */
static void ozk_attend(OZ_MEM ozk_chip *ck, const ozk_dims *dm, uint32_t l)
{
    int32_t zmax[OZK_PE][OZK_MAX_H];
    uint32_t E[OZK_PE][OZK_MAX_H];
    int64_t R[OZK_PE][OZK_MAX_H];
    uint32_t sp[OZK_PE]; /* ring slot of the current position */
    uint32_t pe, c, k, j, hh, h, i, hpw = OZK_K / dm->Dhp, W = dm->W;
#pragma HLS ARRAY_PARTITION variable=zmax complete dim=0
#pragma HLS ARRAY_PARTITION variable=E complete dim=0
#pragma HLS ARRAY_PARTITION variable=R complete dim=0
#pragma HLS ARRAY_PARTITION variable=sp complete
    for (pe = 0; pe < OZK_PE; pe++)
        sp[pe] = ck->live[pe] ? ck->pos[pe] % W : 0;
    for (c = 0; c < dm->Dpk; c++) {
#pragma HLS PIPELINE II=1
        for (pe = 0; pe < OZK_PE; pe++) {
            if (!ck->live[pe])
                continue;
            for (k = 0; k < OZK_K; k++) {
                ck->kv[pe][ozk_kvw(dm, l, 0, sp[pe], c)][k] = ck->qkv[pe][1][c][k];
                ck->kv[pe][ozk_kvw(dm, l, 1, sp[pe], c)][k] = ck->qkv[pe][2][c][k];
                ck->aacc[pe][c][k] = 0;
            }
        }
    }
    OZK_CYC(ck, cyc_step, 2 * dm->Dpk + OZK_DEPTH_EL);
    for (pe = 0; pe < OZK_PE; pe++)
        for (h = 0; h < OZK_MAX_H; h++) {
            zmax[pe][h] = OZ_ATT_ZMIN;
            E[pe][h] = 0;
        }
    /* pass 1: z = logit(q.k) - slope * distance, for the valid slots */
    for (j = 0; j < W; j++)
        for (c = 0; c < dm->Dpk; c++) {
#pragma HLS PIPELINE II=1
            for (pe = 0; pe < OZK_PE; pe++) {
                uint32_t dist = sp[pe] >= j ? sp[pe] - j : sp[pe] + W - j;
                if (!ck->live[pe] || dist > ck->pos[pe])
                    continue;
                for (hh = 0; hh < hpw; hh++) {
                    OZ_MEM const int8_t *kw = ck->kv[pe][ozk_kvw(dm, l, 0, j, c)] + hh * dm->Dhp;
                    int32_t z;
                    h = c * hpw + hh;
                    if (h >= dm->H)
                        break;
                    z = oz_att_logit(oz_dot_i8(ck->qkv[pe][0][c] + hh * dm->Dhp, kw, (int)dm->Dhp),
                                     ck->att[l][0], ck->att[l][1], ck->slope[l][h], dist);
                    ck->zs[pe][j * dm->H + h] = z;
                    if (z > zmax[pe][h])
                        zmax[pe][h] = z;
                }
            }
        }
    OZK_CYC(ck, cyc_step, W * dm->Dpk + OZK_DEPTH_MAC);
    /* pass 2: e = exp2q15(zmax - z); E += e; acc += e * v */
    for (j = 0; j < W; j++)
        for (c = 0; c < dm->Dpk; c++) {
#pragma HLS PIPELINE II=1
            for (pe = 0; pe < OZK_PE; pe++) {
                uint32_t dist = sp[pe] >= j ? sp[pe] - j : sp[pe] + W - j;
                OZ_MEM const int8_t *vw = ck->kv[pe][ozk_kvw(dm, l, 1, j, c)];
                if (!ck->live[pe] || dist > ck->pos[pe])
                    continue;
                for (hh = 0; hh < hpw; hh++) {
                    uint32_t e;
                    h = c * hpw + hh;
                    if (h >= dm->H)
                        break;
                    e = oz_att_weight(zmax[pe][h], ck->zs[pe][j * dm->H + h]);
                    E[pe][h] += e;
                    for (k = hh * dm->Dhp; k < (hh + 1) * dm->Dhp; k++)
                        ck->aacc[pe][c][k] = oz_att_mac(ck->aacc[pe][c][k], e, vw[k]);
                }
            }
        }
    OZK_CYC(ck, cyc_step, W * dm->Dpk + OZK_DEPTH_MAC);
    /* one divider per PE, pipelined: a head per cycle */
    for (h = 0; h < dm->H; h++) {
#pragma HLS PIPELINE II=1
        for (pe = 0; pe < OZK_PE; pe++)
            if (ck->live[pe])
                R[pe][h] = oz_att_recip(E[pe][h]);
    }
    OZK_CYC(ck, cyc_step, dm->H + OZK_LAT_DIV_ATT);
    for (i = 0; i < dm->Dp; i += OZK_WIDE) {
#pragma HLS PIPELINE II=1
        for (pe = 0; pe < OZK_PE; pe++)
            if (ck->live[pe])
                for (k = i; k < i + OZK_WIDE; k++)
                    ck->vb[pe][1][k / OZK_K][k % OZK_K] = oz_att_out(ck->aacc[pe][k / OZK_K][k % OZK_K],
                                                                     R[pe][k / dm->Dhp]);
    }
    OZK_CYC(ck, cyc_step, ozk_up(dm->Dp, OZK_WIDE) + OZK_DEPTH_EL);
}

/* Logits -> frequencies -> the byte, for every live PE: the arithmetic of
 * oz_freq_cum and oz_rdec_advance, symbols OZK_FLANES (or, where a wide
 * multiply is needed, OZK_WIDE) at a time. */
static void ozk_decode(OZ_MEM ozk_chip *ck)
{
    uint32_t sum[OZK_PE], pe, s0, s;
    uint64_t Es[OZK_PE], R[OZK_PE];
#pragma HLS ARRAY_PARTITION variable=sum complete
#pragma HLS ARRAY_PARTITION variable=Es complete
#pragma HLS ARRAY_PARTITION variable=R complete
    for (pe = 0; pe < OZK_PE; pe++) {
        sum[pe] = 0;
        Es[pe] = 0;
    }
    /* the largest logit and its symbol came with the head's rows */
    for (s0 = 0; s0 < 256; s0 += OZK_FLANES) {
#pragma HLS PIPELINE II=1
        for (pe = 0; pe < OZK_PE; pe++)
            if (ck->live[pe])
                for (s = s0; s < s0 + OZK_FLANES; s++) {
                    ck->e[pe][s] = oz_exp2q15(ck->zmax[pe] - ck->z[pe][s]);
                    Es[pe] += ck->e[pe][s];
                }
    }
    OZK_CYC(ck, cyc_step, 256 / OZK_FLANES + OZK_DEPTH_EL);
    for (pe = 0; pe < OZK_PE; pe++)
        if (ck->live[pe])
            R[pe] = oz_freq_recip(Es[pe]);
    OZK_CYC(ck, cyc_step, OZK_LAT_DIV_FREQ);
    for (s0 = 0; s0 < 256; s0 += OZK_WIDE) {
#pragma HLS PIPELINE II=1
        for (pe = 0; pe < OZK_PE; pe++)
            if (ck->live[pe])
                for (s = s0; s < s0 + OZK_WIDE; s++) {
                    ck->e[pe][s] = oz_freq1(ck->e[pe][s], R[pe]);
                    sum[pe] += ck->e[pe][s];
                }
    }
    OZK_CYC(ck, cyc_step, 256 / OZK_WIDE + OZK_DEPTH_EL);
    for (pe = 0; pe < OZK_PE; pe++)
        if (ck->live[pe]) {
            ck->e[pe][ck->zbest[pe]] += oz_freq_rest(sum[pe]);
            sum[pe] = 0;
        }
    for (s0 = 0; s0 < 256; s0 += OZK_FLANES) {
#pragma HLS PIPELINE II=1
        for (pe = 0; pe < OZK_PE; pe++)
            if (ck->live[pe])
                for (s = s0; s < s0 + OZK_FLANES; s++) {
                    ck->cum[pe][s] = sum[pe];
                    sum[pe] += ck->e[pe][s];
                }
    }
    for (pe = 0; pe < OZK_PE; pe++)
        ck->cum[pe][256] = sum[pe];
    OZK_CYC(ck, cyc_step, 256 / OZK_FLANES + OZK_DEPTH_EL);
    for (pe = 0; pe < OZK_PE; pe++) {
#pragma HLS UNROLL
        uint64_t x = ck->x_rans[pe];
        uint32_t sym;
        if (!ck->live[pe])
            continue;
        sym = oz_cum_find(ck->cum[pe], oz_rans_slot(x, OZ_PROB_BITS));
        x = oz_rans_dec(x, ck->cum[pe][sym], ck->cum[pe][sym + 1] - ck->cum[pe][sym], OZ_PROB_BITS);
        if (oz_rans_low(x)) {
            if (ck->in_end[pe] - ck->in_pos[pe] < 4) {
                ck->rc[pe] = OZ_CORE_ETRUNC; /* as oz_decode_stream: a word is missing */
                x = OZ_RANS_L;
            } else {
                x = oz_rans_pull(x, oz_rd32(ck->inb[pe] + (ck->in_pos[pe] - ck->seg_base[pe])));
                ck->in_pos[pe] += 4;
            }
        }
        ck->x_rans[pe] = x;
        ck->outb[pe][ck->seg_pos[pe]++] = (uint8_t)sym;
        ck->prev[pe] = sym;
        ck->pos[pe]++;
        if (ck->pos[pe] == ck->n[pe] || ck->rc[pe] != OZ_CORE_OK)
            ck->live[pe] = 0;
    }
    OZK_CYC(ck, cyc_step, OZK_LAT_FIND + OZK_LAT_RANS);
}

static void ozk_step(OZ_MEM ozk_chip *ck, const ozk_dims *dm)
{
    uint32_t l, D = dm->D, F = dm->F;
    ozk_embed(ck, dm);
    for (l = 0; l < dm->L; l++) {
        ozk_norm(ck, dm);
        ozk_matvec(ck, dm, 3 * D, dm->Dk, dm->wb[l][0], dm->rb[l][0], 0, OZK_TO_QKV, l);
        ozk_attend(ck, dm, l);
        ozk_matvec(ck, dm, D, dm->Dpk, dm->wb[l][1], dm->rb[l][1], 1, OZK_TO_RES, l);
        ozk_norm(ck, dm);
        ozk_matvec(ck, dm, F, dm->Dk, dm->wb[l][2], dm->rb[l][2], 0, OZK_TO_ACT, l);
        ozk_matvec(ck, dm, D, dm->Fk, dm->wb[l][3], dm->rb[l][3], 1, OZK_TO_RES, l);
    }
    ozk_norm(ck, dm);
    ozk_matvec(ck, dm, 256, dm->Dk, dm->wb_head, dm->rb_head, 0, OZK_TO_LOGIT, 0);
    ozk_decode(ck);
    ck->steps++;
}

/* ------------------------------------------------------------- streams */

OZ_INLINE uint64_t ozk_rd_u64(OZ_MEM const uint32_t *w)
{
    return (uint64_t)w[0] | ((uint64_t)w[1] << 32);
}

/* Gives PE pe stream i of the table. */
static void ozk_assign(OZ_MEM ozk_chip *ck, OZ_MEM const uint32_t *desc, uint32_t pe, uint32_t i)
{
    OZ_MEM const uint32_t *s = desc + OZK_D_STREAMS + OZK_S_WORDS * i;
    ck->sid[pe] = i;
    ck->in_base[pe] = ozk_rd_u64(s + OZK_S_IN_LO);
    ck->in_pos[pe] = ck->in_base[pe];
    ck->in_end[pe] = ck->in_base[pe] + s[OZK_S_IN_LEN];
    ck->out_base[pe] = ozk_rd_u64(s + OZK_S_OUT_LO);
    ck->n[pe] = s[OZK_S_OUT_LEN];
    ck->pos[pe] = 0;
    ck->prev[pe] = 0; /* the first byte of a stream sees the token 0 */
    ck->rc[pe] = OZ_CORE_OK;
    ck->started[pe] = 0;
    ck->busy[pe] = 1;
}

/* Input words for the next OZK_SEG steps of every busy PE, from a 64-byte
 * aligned start (the host pads each payload to 64 bytes). */
static void ozk_load_inputs(OZ_MEM ozk_chip *ck, OZ_MEM const uint8_t *in)
{
    uint32_t pe, i, nb;
    for (pe = 0; pe < OZK_PE; pe++) {
        uint64_t base = ck->in_pos[pe] & ~(uint64_t)63, end = (ck->in_end[pe] + 63) & ~(uint64_t)63;
        if (!ck->busy[pe])
            continue;
        nb = (uint32_t)(end - base < OZK_SEG_IN ? end - base : OZK_SEG_IN);
        for (i = 0; i < nb; i++) {
#pragma HLS PIPELINE II=1
            ck->inb[pe][i] = in[base + i];
        }
        ck->seg_base[pe] = base;
        OZK_CYC(ck, cyc_io, ozk_up(nb, OZK_AXI_BYTES) + OZK_LAT_AXI);
    }
}

static void ozk_store_outputs(OZ_MEM ozk_chip *ck, OZ_MEM uint8_t *out)
{
    uint32_t pe, i;
    for (pe = 0; pe < OZK_PE; pe++) {
        uint64_t at = ck->out_base[pe] + ck->pos[pe] - ck->seg_pos[pe];
        if (!ck->busy[pe])
            continue;
        for (i = 0; i < ck->seg_pos[pe]; i++) {
#pragma HLS PIPELINE II=1
            out[at + i] = ck->outb[pe][i];
        }
        OZK_CYC(ck, cyc_io, ozk_up(ck->seg_pos[pe], OZK_AXI_BYTES) + OZK_LAT_AXI);
    }
}

/* A new stream's initial state (oz_rdec_init's checks), or an empty one's end. */
static void ozk_start(OZ_MEM ozk_chip *ck, uint32_t pe)
{
    uint64_t x;
    ck->started[pe] = 1;
    if (ck->in_end[pe] - ck->in_pos[pe] < 8) {
        ck->rc[pe] = OZ_CORE_ETRUNC;
        return;
    }
    x = oz_rd64(ck->inb[pe] + (ck->in_pos[pe] - ck->seg_base[pe]));
    ck->in_pos[pe] += 8;
    if (!oz_rans_state_ok(x)) {
        ck->rc[pe] = OZ_CORE_ECORRUPT;
        x = OZ_RANS_L;
    }
    ck->x_rans[pe] = x;
}

static void ozk_put64(OZ_MEM uint32_t *w, uint64_t v)
{
    w[0] = (uint32_t)v;
    w[1] = (uint32_t)(v >> 32);
}

static void ozk_run(OZ_MEM ozk_chip *ck, OZ_MEM const uint8_t *model, OZ_MEM const uint32_t *desc,
                    OZ_MEM const uint8_t *in, OZ_MEM uint8_t *out, OZ_MEM uint32_t *status, uint32_t nstreams)
{
    ozk_dims dm;
    uint32_t pe, next = 0, t, any;
    int rc;
    ck->steps = ck->cyc_step = ck->cyc_io = ck->cyc_load = 0;
    status[OZK_ST_PE] = OZK_PE;
    status[OZK_ST_LANES] = OZK_LANES;
    status[OZK_ST_CLOCK] = OZK_CLOCK_MHZ;
    status[OZK_ST_DETAIL] = OZK_L_NONE;
    rc = ozk_load(ck, &dm, model, desc, status);
    for (pe = 0; pe < OZK_PE; pe++) {
        ck->busy[pe] = 0;
        ck->live[pe] = 0;
    }
    while (rc == OZK_OK) {
        for (pe = 0; pe < OZK_PE; pe++)
            if (!ck->busy[pe] && next < nstreams)
                ozk_assign(ck, desc, pe, next++);
        any = 0;
        for (pe = 0; pe < OZK_PE; pe++)
            any |= (uint32_t)ck->busy[pe];
        if (!any)
            break;
        ozk_load_inputs(ck, in);
        for (pe = 0; pe < OZK_PE; pe++) {
            if (ck->busy[pe] && !ck->started[pe])
                ozk_start(ck, pe);
            ck->seg_pos[pe] = 0;
            ck->live[pe] = ck->busy[pe] && ck->rc[pe] == OZ_CORE_OK && ck->pos[pe] < ck->n[pe];
        }
        for (t = 0; t < OZK_SEG; t++) {
            any = 0;
            for (pe = 0; pe < OZK_PE; pe++)
                any |= (uint32_t)ck->live[pe];
            if (!any)
                break;
            ozk_step(ck, &dm);
        }
        ozk_store_outputs(ck, out);
        for (pe = 0; pe < OZK_PE; pe++) {
            if (!ck->busy[pe] || (ck->rc[pe] == OZ_CORE_OK && ck->pos[pe] < ck->n[pe]))
                continue;
            if (ck->rc[pe] == OZ_CORE_OK && !oz_rans_end_ok(ck->x_rans[pe], ck->in_end[pe] - ck->in_pos[pe]))
                ck->rc[pe] = OZ_CORE_ECORRUPT; /* as oz_rdec_done */
            status[OZK_ST_STREAMS + ck->sid[pe]] = (uint32_t)ck->rc[pe];
            ck->busy[pe] = 0;
        }
    }
    ozk_put64(status + OZK_ST_STEPS, ck->steps);
    ozk_put64(status + OZK_ST_CYC_STEP, ck->cyc_step);
    ozk_put64(status + OZK_ST_CYC_IO, ck->cyc_io);
    ozk_put64(status + OZK_ST_CYC_LOAD, ck->cyc_load);
    status[OZK_ST_RC] = (uint32_t)rc;
    status[OZK_ST_DONE] = OZK_DONE;
}

/* ------------------------------------------------------------- top */

#if defined(__OPENCL_VERSION__) || defined(__OPENCL_C_VERSION__)
/* OpenCL C: the on-chip memories come as a __global buffer (`chip`). */
__kernel void lmdec(__global const uint8_t *model, __global const uint32_t *desc, __global const uint8_t *in,
                    __global uint8_t *out, __global uint32_t *status, uint32_t nstreams, __global ozk_chip *chip)
{
    ozk_run(chip, model, desc, in, out, status, nstreams);
}
#else
#ifdef __cplusplus
extern "C" {
#endif
void lmdec(const uint8_t *model, const uint32_t *desc, const uint8_t *in, uint8_t *out, uint32_t *status,
           uint32_t nstreams)
{
#pragma HLS INTERFACE m_axi port=model offset=slave bundle=gmem0 max_widen_bitwidth=512 depth=1048576
#pragma HLS INTERFACE m_axi port=desc offset=slave bundle=gmem1 depth=65536
#pragma HLS INTERFACE m_axi port=in offset=slave bundle=gmem1 max_widen_bitwidth=512 depth=1048576
#pragma HLS INTERFACE m_axi port=out offset=slave bundle=gmem2 max_widen_bitwidth=512 depth=1048576
#pragma HLS INTERFACE m_axi port=status offset=slave bundle=gmem2 depth=65536
#pragma HLS INTERFACE s_axilite port=nstreams
#pragma HLS INTERFACE s_axilite port=return
    /* One compute unit's on-chip memories. A static holds them across the
     * launch and keeps them off the stack of a software build. */
    static ozk_chip chip;
#pragma HLS BIND_STORAGE variable=chip.wgt type=ram_2p impl=uram
#pragma HLS ARRAY_RESHAPE variable=chip.wgt complete dim=2
#pragma HLS BIND_STORAGE variable=chip.kv type=ram_2p impl=uram
#pragma HLS ARRAY_PARTITION variable=chip.kv complete dim=1
#pragma HLS ARRAY_RESHAPE variable=chip.kv complete dim=3
#pragma HLS ARRAY_PARTITION variable=chip.x complete dim=1
#pragma HLS ARRAY_PARTITION variable=chip.x cyclic factor=4 dim=2
#pragma HLS ARRAY_PARTITION variable=chip.vb complete dim=1
#pragma HLS ARRAY_PARTITION variable=chip.vb complete dim=4
#pragma HLS ARRAY_PARTITION variable=chip.qkv complete dim=1
#pragma HLS ARRAY_PARTITION variable=chip.qkv complete dim=4
#pragma HLS ARRAY_PARTITION variable=chip.aacc complete dim=1
#pragma HLS ARRAY_PARTITION variable=chip.aacc complete dim=3
#pragma HLS ARRAY_PARTITION variable=chip.zs complete dim=1
#pragma HLS ARRAY_PARTITION variable=chip.zs cyclic factor=4 dim=2
#pragma HLS ARRAY_PARTITION variable=chip.z complete dim=1
#pragma HLS ARRAY_PARTITION variable=chip.z cyclic factor=16 dim=2
#pragma HLS ARRAY_PARTITION variable=chip.e complete dim=1
#pragma HLS ARRAY_PARTITION variable=chip.e cyclic factor=16 dim=2
#pragma HLS ARRAY_PARTITION variable=chip.cum complete dim=1
#pragma HLS ARRAY_PARTITION variable=chip.inb complete dim=1
#pragma HLS ARRAY_PARTITION variable=chip.inb cyclic factor=8 dim=2
#pragma HLS ARRAY_PARTITION variable=chip.outb complete dim=1
#pragma HLS BIND_STORAGE variable=chip.rqm type=ram_2p impl=bram
#pragma HLS BIND_STORAGE variable=chip.rqs type=ram_2p impl=bram
#pragma HLS ARRAY_PARTITION variable=chip.act complete dim=1
#pragma HLS ARRAY_PARTITION variable=chip.slope complete dim=0
    ozk_run(&chip, model, desc, in, out, status, nstreams);
}
#ifdef __cplusplus
}
#endif
#endif
