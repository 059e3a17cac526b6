/* train_cpu.c - the reference float32 trainer (CPU, OpenBLAS sgemm + OpenMP).
 *
 * Forward pass of one layer on N = B*T positions (shapes (rows, cols)):
 *   n1 = x / rms(x)                 y1 = fq(n1, 1/32)             (N, D)
 *   qkv = y1 Wqkv^T                 q,k,v = fq(., s_q|s_k|s_v)    (N, 3D)
 *   o = softmax(q k^T / sqrt(Dh) - alibi) v over a causal window of W
 *   oq = fq(o, s_v)                 xm = x + oq Wo^T              (N, D)
 *   n2 = xm / rms(xm)               y2 = fq(n2, 1/32)
 *   hp = y2 W1^T   hq = fq(hp, s_h) g = gelu(hq)   gq = fq(g, s_g) (N, F)
 *   x' = xm + gq W2^T
 * and at the end logits = fq(rmsnorm(x), 1/32) Head^T (N, 256).
 * fq() is the fake quantisation at every point where the integer model
 * rounds to int8; its gradient is the straight-through estimator (1 inside
 * the clip range, 0 outside). Weights are fake-quantised per output row to
 * +-(2^(wbits-1) - 1) steps, exactly as export.c stores them.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "trainer.h"

/* Hot loops are compiled for three ISA levels and picked at load time
 * (glibc ifunc), so one binary uses AVX-512 or AVX2 where the CPU has them. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(OZ_NO_CLONES)
#define TR_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TR_HOT
#endif
#define FMAX(a, b) ((a) > (b) ? (a) : (b))
#define FABS(a) ((a) < 0 ? -(a) : (a))

/* ----------------------------------------------------------------- trainer */

struct cpu_trainer {
    tr_opts o;
    oz_config a;
    tr_layout lay;
    size_t np;
    float *p, *g, *m, *v, *wq;
    tr_scales sc;
    uint64_t rng, step;
    uint32_t B, T, W, D, F, H, Dh, L;
    size_t N;
    float *X[OZ_MAX_LAYERS + 1], *XM[OZ_MAX_LAYERS];
    float *R1[OZ_MAX_LAYERS], *Y1[OZ_MAX_LAYERS], *QKV[OZ_MAX_LAYERS], *QKVq[OZ_MAX_LAYERS];
    float *P[OZ_MAX_LAYERS], *O[OZ_MAX_LAYERS], *Oq[OZ_MAX_LAYERS];
    float *R2[OZ_MAX_LAYERS], *Y2[OZ_MAX_LAYERS];
    float *Hp[OZ_MAX_LAYERS], *Hq[OZ_MAX_LAYERS], *G[OZ_MAX_LAYERS], *Gq[OZ_MAX_LAYERS];
    float *RF, *YF, *LG;
    float *dX, *dXM, *dY, *dQKV, *dO, *dH, *dLG;
    float slope[OZ_MAX_HEADS];
    float res_max;
    uint8_t *tok;
    int act_q; /* activation fake-quant active */
};

static float *falloc(size_t n)
{
    float *p = NULL;
    if (posix_memalign((void **)&p, 64, (n ? n : 1) * sizeof(float)) != 0)
        return NULL;
    memset(p, 0, (n ? n : 1) * sizeof(float));
    return p;
}

cpu_trainer *cpu_trainer_new(const tr_opts *o)
{
    cpu_trainer *t = calloc(1, sizeof *t);
    size_t i, l, N, D, F;
    int ok = 1;
    if (!t || tr_blas_load()) {
        free(t);
        return NULL;
    }
    t->o = *o;
    t->a = o->arch;
    if (oz_config_check(&t->a) != OZ_CORE_OK || o->seq < 1 || o->batch < 1) {
        free(t);
        return NULL;
    }
    tr_layout_of(&t->a, &t->lay);
    t->np = t->lay.total;
    t->L = t->a.n_layer;
    t->D = D = t->a.d_model;
    t->F = F = t->a.d_ff;
    t->H = t->a.n_head;
    t->Dh = t->D / t->H;
    t->W = t->a.ctx;
    t->B = o->batch;
    t->T = o->seq;
    t->N = N = (size_t)t->B * t->T;
    t->rng = tr_rng_seed(o->seed);
    t->p = falloc(t->np);
    t->g = falloc(t->np);
    t->m = falloc(t->np);
    t->v = falloc(t->np);
    t->wq = falloc(t->np);
    ok = t->p && t->g && t->m && t->v && t->wq;
    for (l = 0; l <= t->L && ok; l++) {
        ok = (t->X[l] = falloc(N * D)) != NULL;
        if (l == t->L || !ok)
            break;
        ok = (t->XM[l] = falloc(N * D)) && (t->R1[l] = falloc(N)) && (t->Y1[l] = falloc(N * D)) &&
             (t->QKV[l] = falloc(N * 3 * D)) && (t->QKVq[l] = falloc(N * 3 * D)) &&
             (t->P[l] = falloc(N * t->H * t->W)) && (t->O[l] = falloc(N * D)) &&
             (t->Oq[l] = falloc(N * D)) && (t->R2[l] = falloc(N)) && (t->Y2[l] = falloc(N * D)) &&
             (t->Hp[l] = falloc(N * F)) && (t->Hq[l] = falloc(N * F)) && (t->G[l] = falloc(N * F)) &&
             (t->Gq[l] = falloc(N * F));
    }
    ok = ok && (t->RF = falloc(N)) && (t->YF = falloc(N * D)) && (t->LG = falloc(N * 256)) &&
         (t->dX = falloc(N * D)) && (t->dXM = falloc(N * D)) && (t->dY = falloc(N * D)) &&
         (t->dQKV = falloc(N * 3 * D)) && (t->dO = falloc(N * D)) && (t->dH = falloc(N * F)) &&
         (t->dLG = falloc(N * 256)) && (t->tok = malloc((size_t)t->B * (t->T + 1)));
    if (!ok) {
        cpu_trainer_free(t);
        return NULL;
    }
    for (i = 0; i < t->H; i++)
        t->slope[i] = tr_alibi_nats(tr_alibi_slope((uint32_t)i, t->H));
    tr_init_params(&t->a, &t->rng, t->p);
#ifdef _OPENMP
    if (o->threads > 0)
        omp_set_num_threads(o->threads);
#endif
    return t;
}

void cpu_trainer_free(cpu_trainer *t)
{
    uint32_t l;
    if (!t)
        return;
    free(t->p);
    free(t->g);
    free(t->m);
    free(t->v);
    free(t->wq);
    for (l = 0; l <= t->L && l <= OZ_MAX_LAYERS; l++) {
        free(t->X[l]);
        if (l == t->L)
            break;
        free(t->XM[l]);
        free(t->R1[l]);
        free(t->Y1[l]);
        free(t->QKV[l]);
        free(t->QKVq[l]);
        free(t->P[l]);
        free(t->O[l]);
        free(t->Oq[l]);
        free(t->R2[l]);
        free(t->Y2[l]);
        free(t->Hp[l]);
        free(t->Hq[l]);
        free(t->G[l]);
        free(t->Gq[l]);
    }
    free(t->RF);
    free(t->YF);
    free(t->LG);
    free(t->dX);
    free(t->dXM);
    free(t->dY);
    free(t->dQKV);
    free(t->dO);
    free(t->dH);
    free(t->dLG);
    free(t->tok);
    free(t);
}

float *cpu_trainer_params(cpu_trainer *t) { return t->p; }
float *cpu_trainer_grads(cpu_trainer *t) { return t->g; }
tr_scales *cpu_trainer_scales(cpu_trainer *t) { return &t->sc; }
float cpu_trainer_res_max(cpu_trainer *t) { return t->res_max; }

/* ------------------------------------------------------------ operations */

static float qmax_w(const cpu_trainer *t) { return (float)((1 << (t->a.wbits - 1)) - 1); }

/* Per-row fake quantisation of a (rows, cols) weight matrix into dst. */
TR_HOT static void fq_rows(const float *w, float *dst, size_t rows, size_t cols, float qmax, int on)
{
    long r;
#pragma omp parallel for schedule(static)
    for (r = 0; r < (long)rows; r++) {
        const float *wr = w + (size_t)r * cols;
        float *dr = dst + (size_t)r * cols, mx = 0, s;
        size_t i;
        if (!on) {
            memcpy(dr, wr, cols * sizeof(float));
            continue;
        }
        for (i = 0; i < cols; i++)
            mx = FMAX(mx, FABS(wr[i]));
        s = mx / qmax;
        for (i = 0; i < cols; i++)
            dr[i] = s > 0 ? tr_fq(wr[i], s, qmax) : 0.0f;
    }
}

static void quantize_weights(cpu_trainer *t)
{
    uint32_t l, D = t->D, F = t->F;
    float qm = qmax_w(t);
    int on = t->o.qat;
    fq_rows(t->p + t->lay.emb, t->wq + t->lay.emb, 256, D, qm, on);
    if (t->lay.head != t->lay.emb)
        fq_rows(t->p + t->lay.head, t->wq + t->lay.head, 256, D, qm, on);
    for (l = 0; l < t->L; l++) {
        fq_rows(t->p + t->lay.wqkv[l], t->wq + t->lay.wqkv[l], 3 * D, D, qm, on);
        fq_rows(t->p + t->lay.wo[l], t->wq + t->lay.wo[l], D, D, qm, on);
        fq_rows(t->p + t->lay.w1[l], t->wq + t->lay.w1[l], F, D, qm, on);
        fq_rows(t->p + t->lay.w2[l], t->wq + t->lay.w2[l], D, F, qm, on);
    }
}

/* BLAS runs single-threaded; the row range is split across OpenMP threads
 * here, so BLAS threads and OpenMP threads never compete for the cores. */
static int nthreads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* C (M, Nc) = beta C + A op B, sliced over M rows of C (A row-major, lda). */
static void sgemm_rows(int transA, size_t M, size_t Nc, size_t K, const float *A, size_t lda, int transB,
                       const float *Bm, size_t ldb, float beta, float *C, size_t ldc)
{
    int nt = nthreads(), k;
    size_t chunk = (M + (size_t)nt - 1) / (size_t)nt;
    if (M * Nc * K < 65536 || nt == 1) {
        tr_sgemm(transA, transB, (int)M, (int)Nc, (int)K, 1.0f, A, (int)lda, Bm, (int)ldb, beta, C, (int)ldc);
        return;
    }
    chunk = (chunk + 15) & ~(size_t)15;
#pragma omp parallel for schedule(static)
    for (k = 0; k < nt; k++) {
        size_t r0 = (size_t)k * chunk, r1 = r0 + chunk > M ? M : r0 + chunk;
        if (r0 >= r1)
            continue;
        tr_sgemm(transA, transB, (int)(r1 - r0), (int)Nc, (int)K, 1.0f, transA ? A + r0 : A + r0 * lda, (int)lda, Bm,
                 (int)ldb, beta, C + r0 * ldc, (int)ldc);
    }
}

/* out (N, O) = beta out + in (N, Kd) W^T, W (O, Kd) */
static void mm_fwd(const float *in, const float *W, float *out, size_t N, size_t O, size_t Kd, float beta)
{
    sgemm_rows(0, N, O, Kd, in, Kd, 1, W, Kd, beta, out, O);
}

/* din (N, Kd) = beta din + dout (N, O) W;  dW (O, Kd) += dout^T in */
static void mm_bwd(const float *in, const float *W, const float *dout, float *din, float *dW, size_t N,
                   size_t O, size_t Kd, float beta)
{
    if (din)
        sgemm_rows(0, N, Kd, O, dout, O, 0, W, Kd, beta, din, Kd);
    sgemm_rows(1, O, Kd, N, dout, O, 0, in, Kd, 1.0f, dW, Kd);
}

/* RMS norm + fake quantisation on the fixed 1/32 grid: y = fq(x / r). */
TR_HOT static void rms_fwd(const cpu_trainer *t, const float *x, float *r, float *y, size_t N, size_t D)
{
    long i;
    int q = t->act_q;
#pragma omp parallel for schedule(static)
    for (i = 0; i < (long)N; i++) {
        const float *xi = x + (size_t)i * D;
        float *yi = y + (size_t)i * D, ss = 0, rr;
        size_t d;
        for (d = 0; d < D; d++)
            ss += xi[d] * xi[d];
        rr = sqrtf(ss / D + 1e-12f);
        r[i] = rr;
        for (d = 0; d < D; d++)
            yi[d] = q ? tr_fq(xi[d] / rr, TR_NORM_STEP, 127.0f) : xi[d] / rr;
    }
}

/* dx (+)= d(rms_fwd)/dx applied to dy (STE through the clip). */
TR_HOT static void rms_bwd(const cpu_trainer *t, const float *x, const float *r, const float *dy, float *dx,
                    size_t N, size_t D, int accumulate)
{
    long i;
    int q = t->act_q;
    const float lim = 127.5f * TR_NORM_STEP;
#pragma omp parallel for schedule(static)
    for (i = 0; i < (long)N; i++) {
        const float *xi = x + (size_t)i * D, *dyi = dy + (size_t)i * D;
        float *dxi = dx + (size_t)i * D, rr = r[i], dot = 0;
        size_t d;
        for (d = 0; d < D; d++) {
            float n = xi[d] / rr, g = (q && FABS(n) > lim) ? 0.0f : dyi[d];
            dot += g * n;
        }
        dot /= (float)D;
        for (d = 0; d < D; d++) {
            float n = xi[d] / rr, g = (q && FABS(n) > lim) ? 0.0f : dyi[d];
            float v = (g - n * dot) / rr;
            dxi[d] = accumulate ? dxi[d] + v : v;
        }
    }
}

TR_HOT static float max_abs(const float *x, size_t n)
{
    float m = 0;
    size_t i;
    for (i = 0; i < n; i++)
        m = FMAX(m, FABS(x[i]));
    return m;
}

TR_HOT static float max_abs_cols(const float *x, size_t N, size_t stride, size_t c0, size_t c1)
{
    float m = 0;
    size_t i, c;
    for (i = 0; i < N; i++)
        for (c = c0; c < c1; c++)
            m = FMAX(m, FABS(x[i * stride + c]));
    return m;
}

static void ema_scale(float *s, float mx, int init)
{
    float v = mx / 127.0f;
    if (v <= 0)
        v = 1e-6f;
    *s = init ? v : 0.9f * *s + 0.1f * v;
}

TR_HOT static void fq_buf(const float *x, float *y, size_t n, float s, int on)
{
    long i;
    if (!on) {
        memcpy(y, x, n * sizeof(float));
        return;
    }
#pragma omp parallel for schedule(static)
    for (i = 0; i < (long)n; i++)
        y[i] = tr_fq(x[i], s, 127.0f);
}

TR_HOT static void fq_cols(const float *x, float *y, size_t N, size_t stride, size_t c0, size_t c1, float s, int on)
{
    long i;
#pragma omp parallel for schedule(static)
    for (i = 0; i < (long)N; i++) {
        size_t c;
        for (c = c0; c < c1; c++)
            y[i * stride + c] = on ? tr_fq(x[i * stride + c], s, 127.0f) : x[i * stride + c];
    }
}

/* STE mask: zero the gradient where x was clipped by fq(., s). */
TR_HOT static void ste_mask(const float *x, float *dx, size_t n, float s, int on)
{
    long i;
    float lim = 127.5f * s;
    if (!on)
        return;
#pragma omp parallel for schedule(static)
    for (i = 0; i < (long)n; i++)
        if (FABS(x[i]) > lim)
            dx[i] = 0;
}

TR_HOT static void ste_mask_cols(const float *x, float *dx, size_t N, size_t stride, size_t c0, size_t c1, float s,
                          int on)
{
    long i;
    float lim = 127.5f * s;
    if (!on)
        return;
#pragma omp parallel for schedule(static)
    for (i = 0; i < (long)N; i++) {
        size_t c;
        for (c = c0; c < c1; c++)
            if (FABS(x[i * stride + c]) > lim)
                dx[i * stride + c] = 0;
    }
}

static const float GELU_C = 0.7978845608028654f; /* sqrt(2/pi) */

static inline float gelu_f(float x)
{
    return 0.5f * x * (1.0f + tanhf(GELU_C * (x + 0.044715f * x * x * x)));
}

static inline float gelu_d(float x)
{
    float u = GELU_C * (x + 0.044715f * x * x * x), th = tanhf(u);
    return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * GELU_C * (1.0f + 3.0f * 0.044715f * x * x);
}

/* hq = fq(hp, s_h); g = gelu(hq) */
TR_HOT static void act_fwd(const float *hp, float *hq, float *g, size_t n, float sh, int q)
{
    long i;
#pragma omp parallel for schedule(static)
    for (i = 0; i < (long)n; i++) {
        float h = q ? tr_fq(hp[i], sh, 127.0f) : hp[i];
        hq[i] = h;
        g[i] = gelu_f(h);
    }
}

/* dh = dgq * [g not clipped by s_g] * gelu'(hq) * [hp not clipped by s_h] */
TR_HOT static void act_bwd(const float *hp, const float *hq, const float *g, float *dh, size_t n, float sh,
                           float sg, int q)
{
    long i;
    const float limh = 127.5f * sh, limg = 127.5f * sg;
#pragma omp parallel for schedule(static)
    for (i = 0; i < (long)n; i++) {
        float d = dh[i] * gelu_d(hq[i]);
        if (q && (FABS(hp[i]) > limh || FABS(g[i]) > limg))
            d = 0;
        dh[i] = d;
    }
}

/* Causal sliding-window attention with ALiBi on qkv (N, 3D) -> o (N, D);
 * P (B, H, T, W) keeps the probabilities, indexed by distance t - j.
 * Per (b, h) the head's K and V are gathered transposed, (Dh, T), so the
 * inner loops run over positions and vectorise. */
TR_HOT static void attn_fwd_bh(const cpu_trainer *t, const float *qkv, float *P, float *o, uint32_t b,
                               uint32_t h, float *kt, float *sc)
{
    const uint32_t T = t->T, Dh = t->Dh, D = t->D, W = t->W, H = t->H;
    const float scale = 1.0f / sqrtf((float)Dh), sl = t->slope[h];
    uint32_t tt, j, d;
    for (j = 0; j < T; j++) {
        const float *k = qkv + ((size_t)b * T + j) * 3 * D + D + h * Dh;
        for (d = 0; d < Dh; d++)
            kt[(size_t)d * T + j] = k[d];
    }
    for (tt = 0; tt < T; tt++) {
        const float *q = qkv + ((size_t)b * T + tt) * 3 * D + h * Dh;
        float *pr = P + (((size_t)b * H + h) * T + tt) * W, mx = -FLT_MAX, sum = 0, inv;
        float *oo = o + ((size_t)b * T + tt) * D + h * Dh;
        uint32_t lo = tt + 1 >= W ? tt + 1 - W : 0, n = tt - lo + 1;
        for (j = 0; j < n; j++)
            sc[j] = -sl * (float)(tt - lo - j);
        for (d = 0; d < Dh; d++) {
            const float qd = q[d] * scale, *kr = kt + (size_t)d * T + lo;
            for (j = 0; j < n; j++)
                sc[j] += qd * kr[j];
        }
        for (j = 0; j < n; j++)
            mx = FMAX(mx, sc[j]);
        for (j = 0; j < n; j++) {
            sc[j] = expf(sc[j] - mx);
            sum += sc[j];
        }
        inv = 1.0f / sum;
        for (d = 0; d < Dh; d++)
            oo[d] = 0;
        for (j = 0; j < n; j++) {
            const float pj = sc[j] * inv, *v = qkv + ((size_t)b * T + lo + j) * 3 * D + 2 * D + h * Dh;
            pr[j] = pj;
            for (d = 0; d < Dh; d++)
                oo[d] += pj * v[d];
        }
        for (j = n; j < W; j++)
            pr[j] = 0;
    }
}

static void attn_fwd(const cpu_trainer *t, const float *qkv, float *P, float *o)
{
    long bh;
    const uint32_t B = t->B, H = t->H;
#pragma omp parallel
    {
        float *kt = malloc(sizeof(float) * ((size_t)t->Dh * t->T + t->T));
#pragma omp for schedule(static)
        for (bh = 0; bh < (long)(B * H); bh++)
            attn_fwd_bh(t, qkv, P, o, (uint32_t)bh / H, (uint32_t)bh % H, kt, kt + (size_t)t->Dh * t->T);
        free(kt);
    }
}

/* Gradients of attn_fwd for one (b, h): dout (N, D) -> dqkv (N, 3D) columns
 * of head h (written). K, V and their gradients are held transposed, (Dh, T),
 * so every inner loop runs over positions. */
TR_HOT static void attn_bwd_bh(const cpu_trainer *t, const float *qkv, const float *P, const float *dout,
                               float *dqkv, uint32_t b, uint32_t h, float *buf)
{
    const uint32_t T = t->T, H = t->H, Dh = t->Dh, D = t->D, W = t->W;
    const float scale = 1.0f / sqrtf((float)Dh);
    float *kt = buf, *vt = kt + (size_t)Dh * T, *dkt = vt + (size_t)Dh * T, *dvt = dkt + (size_t)Dh * T;
    float *dp = dvt + (size_t)Dh * T, *ds = dp + T;
    uint32_t tt, j, d;
    for (j = 0; j < T; j++) {
        const float *k = qkv + ((size_t)b * T + j) * 3 * D + D + h * Dh;
        for (d = 0; d < Dh; d++) {
            kt[(size_t)d * T + j] = k[d];
            vt[(size_t)d * T + j] = k[d + D];
            dkt[(size_t)d * T + j] = dvt[(size_t)d * T + j] = 0;
        }
    }
    for (tt = 0; tt < T; tt++) {
        const float *q = qkv + ((size_t)b * T + tt) * 3 * D + h * Dh;
        const float *pr = P + (((size_t)b * H + h) * T + tt) * W;
        const float *go = dout + ((size_t)b * T + tt) * D + h * Dh;
        float *dq = dqkv + ((size_t)b * T + tt) * 3 * D + h * Dh, sum = 0;
        uint32_t lo = tt + 1 >= W ? tt + 1 - W : 0, n = tt - lo + 1;
        for (j = 0; j < n; j++)
            dp[j] = 0;
        for (d = 0; d < Dh; d++) {
            const float g = go[d], *vr = vt + (size_t)d * T + lo;
            float *dvr = dvt + (size_t)d * T + lo;
            for (j = 0; j < n; j++) {
                dp[j] += g * vr[j];
                dvr[j] += pr[j] * g;
            }
        }
        for (j = 0; j < n; j++)
            sum += pr[j] * dp[j];
        for (j = 0; j < n; j++)
            ds[j] = pr[j] * (dp[j] - sum) * scale;
        for (d = 0; d < Dh; d++) {
            const float qd = q[d], *kr = kt + (size_t)d * T + lo;
            float *dkr = dkt + (size_t)d * T + lo, acc = 0;
            for (j = 0; j < n; j++) {
                acc += ds[j] * kr[j];
                dkr[j] += ds[j] * qd;
            }
            dq[d] = acc;
        }
    }
    for (j = 0; j < T; j++) {
        float *row = dqkv + ((size_t)b * T + j) * 3 * D + h * Dh;
        for (d = 0; d < Dh; d++) {
            row[d + D] = dkt[(size_t)d * T + j];
            row[d + 2 * D] = dvt[(size_t)d * T + j];
        }
    }
}

static void attn_bwd(const cpu_trainer *t, const float *qkv, const float *P, const float *dout, float *dqkv)
{
    long bh;
    const uint32_t B = t->B, H = t->H;
#pragma omp parallel
    {
        float *buf = malloc(sizeof(float) * (4 * (size_t)t->Dh * t->T + 2 * t->T));
#pragma omp for schedule(static)
        for (bh = 0; bh < (long)(B * H); bh++)
            attn_bwd_bh(t, qkv, P, dout, dqkv, (uint32_t)bh / H, (uint32_t)bh % H, buf);
        free(buf);
    }
}

/* Forward over t->tok (B, T+1); returns mean loss (nats); if dlg is not NULL
 * also writes dloss/dlogits there. */
static double forward(cpu_trainer *t, uint32_t B, int update_scales, float *dlg)
{
    const uint32_t T = t->T, D = t->D, F = t->F, L = t->L;
    const size_t N = (size_t)B * T;
    const int q = t->act_q;
    int init = !t->sc.init;
    uint32_t l;
    long i;
    double loss = 0;
    float rmax = 0;
    uint32_t Bsave = t->B;

    t->B = B;
    quantize_weights(t);
    /* embedding: x0 = emb_fq[token] */
#pragma omp parallel for schedule(static)
    for (i = 0; i < (long)N; i++) {
        uint32_t b = (uint32_t)i / T, tt = (uint32_t)i % T;
        memcpy(t->X[0] + (size_t)i * D, t->wq + t->lay.emb + (size_t)t->tok[(size_t)b * (T + 1) + tt] * D,
               D * sizeof(float));
    }
    for (l = 0; l < L; l++) {
        rms_fwd(t, t->X[l], t->R1[l], t->Y1[l], N, D);
        mm_fwd(t->Y1[l], t->wq + t->lay.wqkv[l], t->QKV[l], N, 3 * D, D, 0.0f);
        if (update_scales) {
            ema_scale(&t->sc.q[l], max_abs_cols(t->QKV[l], N, 3 * D, 0, D), init);
            ema_scale(&t->sc.k[l], max_abs_cols(t->QKV[l], N, 3 * D, D, 2 * D), init);
            ema_scale(&t->sc.v[l], max_abs_cols(t->QKV[l], N, 3 * D, 2 * D, 3 * D), init);
        }
        fq_cols(t->QKV[l], t->QKVq[l], N, 3 * D, 0, D, t->sc.q[l], q);
        fq_cols(t->QKV[l], t->QKVq[l], N, 3 * D, D, 2 * D, t->sc.k[l], q);
        fq_cols(t->QKV[l], t->QKVq[l], N, 3 * D, 2 * D, 3 * D, t->sc.v[l], q);
        attn_fwd(t, t->QKVq[l], t->P[l], t->O[l]);
        fq_buf(t->O[l], t->Oq[l], N * D, t->sc.v[l], q);
        memcpy(t->XM[l], t->X[l], N * D * sizeof(float));
        mm_fwd(t->Oq[l], t->wq + t->lay.wo[l], t->XM[l], N, D, D, 1.0f);
        rms_fwd(t, t->XM[l], t->R2[l], t->Y2[l], N, D);
        mm_fwd(t->Y2[l], t->wq + t->lay.w1[l], t->Hp[l], N, F, D, 0.0f);
        if (update_scales)
            ema_scale(&t->sc.h[l], max_abs(t->Hp[l], N * F), init);
        act_fwd(t->Hp[l], t->Hq[l], t->G[l], N * F, t->sc.h[l], q);
        if (update_scales)
            ema_scale(&t->sc.g[l], max_abs(t->G[l], N * F), init);
        fq_buf(t->G[l], t->Gq[l], N * F, t->sc.g[l], q);
        memcpy(t->X[l + 1], t->XM[l], N * D * sizeof(float));
        mm_fwd(t->Gq[l], t->wq + t->lay.w2[l], t->X[l + 1], N, D, F, 1.0f);
        if (update_scales)
            rmax = FMAX(rmax, FMAX(max_abs(t->XM[l], N * D), max_abs(t->X[l + 1], N * D)));
    }
    if (update_scales) {
        rmax = FMAX(rmax, max_abs(t->X[0], N * D));
        t->res_max = init ? rmax : FMAX(0.98f * t->res_max, rmax);
        t->sc.init = 1;
    }
    rms_fwd(t, t->X[L], t->RF, t->YF, N, D);
    mm_fwd(t->YF, t->wq + t->lay.head, t->LG, N, 256, D, 0.0f);
#pragma omp parallel for schedule(static) reduction(+ : loss)
    for (i = 0; i < (long)N; i++) {
        const float *lg = t->LG + (size_t)i * 256;
        uint32_t b = (uint32_t)i / T, tt = (uint32_t)i % T, s, y = t->tok[(size_t)b * (T + 1) + tt + 1];
        float mx = -FLT_MAX, sum = 0;
        for (s = 0; s < 256; s++)
            mx = FMAX(mx, lg[s]);
        for (s = 0; s < 256; s++)
            sum += expf(lg[s] - mx);
        loss += (double)(logf(sum) + mx - lg[y]);
        if (dlg) {
            float *d = dlg + (size_t)i * 256, inv = 1.0f / ((float)N * sum);
            for (s = 0; s < 256; s++)
                d[s] = expf(lg[s] - mx) * inv;
            d[y] -= 1.0f / (float)N;
        }
    }
    t->B = Bsave;
    return loss / (double)N;
}

static void backward(cpu_trainer *t, uint32_t B)
{
    const uint32_t T = t->T, D = t->D, F = t->F, L = t->L;
    const size_t N = (size_t)B * T;
    const int q = t->act_q;
    float *g = t->g;
    long i;
    uint32_t l;
    uint32_t Bsave = t->B;

    t->B = B;
    memset(g, 0, t->np * sizeof(float));
    /* head: logits = YF Head^T */
    mm_bwd(t->YF, t->wq + t->lay.head, t->dLG, t->dY, g + t->lay.head, N, 256, D, 0.0f);
    rms_bwd(t, t->X[L], t->RF, t->dY, t->dX, N, D, 0);
    for (l = L; l-- > 0;) {
        /* x' = xm + gq W2^T */
        mm_bwd(t->Gq[l], t->wq + t->lay.w2[l], t->dX, t->dH, g + t->lay.w2[l], N, D, F, 0.0f);
        act_bwd(t->Hp[l], t->Hq[l], t->G[l], t->dH, N * F, t->sc.h[l], t->sc.g[l], q);
        mm_bwd(t->Y2[l], t->wq + t->lay.w1[l], t->dH, t->dY, g + t->lay.w1[l], N, F, D, 0.0f);
        memcpy(t->dXM, t->dX, N * D * sizeof(float));
        rms_bwd(t, t->XM[l], t->R2[l], t->dY, t->dXM, N, D, 1);
        /* xm = x + oq Wo^T */
        mm_bwd(t->Oq[l], t->wq + t->lay.wo[l], t->dXM, t->dO, g + t->lay.wo[l], N, D, D, 0.0f);
        ste_mask(t->O[l], t->dO, N * D, t->sc.v[l], q);
        attn_bwd(t, t->QKVq[l], t->P[l], t->dO, t->dQKV);
        ste_mask_cols(t->QKV[l], t->dQKV, N, 3 * D, 0, D, t->sc.q[l], q);
        ste_mask_cols(t->QKV[l], t->dQKV, N, 3 * D, D, 2 * D, t->sc.k[l], q);
        ste_mask_cols(t->QKV[l], t->dQKV, N, 3 * D, 2 * D, 3 * D, t->sc.v[l], q);
        mm_bwd(t->Y1[l], t->wq + t->lay.wqkv[l], t->dQKV, t->dY, g + t->lay.wqkv[l], N, 3 * D, D, 0.0f);
        memcpy(t->dX, t->dXM, N * D * sizeof(float));
        rms_bwd(t, t->X[l], t->R1[l], t->dY, t->dX, N, D, 1);
    }
    /* embedding rows (serial: rows repeat) */
    for (i = 0; i < (long)N; i++) {
        uint32_t b = (uint32_t)i / T, tt = (uint32_t)i % T, d;
        float *ge = g + t->lay.emb + (size_t)t->tok[(size_t)b * (T + 1) + tt] * D;
        const float *dx = t->dX + (size_t)i * D;
        for (d = 0; d < D; d++)
            ge[d] += dx[d];
    }
    t->B = Bsave;
}

double cpu_trainer_loss_grad(cpu_trainer *t, const uint8_t *tok, uint32_t B, int update_scales)
{
    double loss;
    if (B > t->B)
        B = t->B;
    memcpy(t->tok, tok, (size_t)B * (t->T + 1));
    t->act_q = t->o.qat && (t->sc.init || update_scales);
    loss = forward(t, B, update_scales, t->dLG);
    backward(t, B);
    return loss;
}

double cpu_trainer_loss(cpu_trainer *t, const uint8_t *tok, uint32_t B)
{
    if (B > t->B)
        B = t->B;
    memcpy(t->tok, tok, (size_t)B * (t->T + 1));
    t->act_q = t->o.qat && t->sc.init;
    return forward(t, B, 0, NULL);
}

TR_HOT static void adamw(cpu_trainer *t, double lr)
{
    const tr_opts *o = &t->o;
    double b1 = o->beta1, b2 = o->beta2, c1, c2, nrm = 0, sc = 1;
    size_t n = t->np, e0 = t->lay.emb, e1 = t->lay.emb + 256 * (size_t)t->D;
    long i;
    t->step++;
    c1 = 1 - pow(b1, (double)t->step);
    c2 = 1 - pow(b2, (double)t->step);
    if (o->clip > 0) {
#pragma omp parallel for schedule(static) reduction(+ : nrm)
        for (i = 0; i < (long)n; i++)
            nrm += (double)t->g[i] * t->g[i];
        nrm = sqrt(nrm);
        if (nrm > o->clip)
            sc = o->clip / nrm;
    }
#pragma omp parallel for schedule(static)
    for (i = 0; i < (long)n; i++) {
        float gi = (float)(t->g[i] * sc);
        float wd = ((size_t)i >= e0 && (size_t)i < e1) ? 0.0f : (float)o->wd;
        t->m[i] = (float)(b1 * t->m[i] + (1 - b1) * gi);
        t->v[i] = (float)(b2 * t->v[i] + (1 - b2) * gi * gi);
        t->p[i] -= (float)(lr * ((t->m[i] / c1) / (sqrt(t->v[i] / c2) + 1e-8) + wd * t->p[i]));
    }
}

double cpu_trainer_fit(cpu_trainer *t, const uint8_t *data, size_t n, tr_progress_fn cb, void *ctx)
{
    const uint32_t T = t->T, B = t->B;
    uint64_t s, tail = t->o.steps / 20 + 1, ntail = 0;
    double tail_sum = 0;
    uint8_t *tok = malloc((size_t)B * (T + 1));
    if (!tok || n < (size_t)T + 1) {
        free(tok);
        return -1;
    }
    for (s = 0; s < t->o.steps; s++) {
        double loss;
        tr_sample_windows(&t->rng, data, n, T, B, tok);
        loss = cpu_trainer_loss_grad(t, tok, B, 1);
        adamw(t, tr_lr_at(&t->o, s));
        if (s + tail >= t->o.steps) {
            tail_sum += loss;
            ntail++;
        }
        if (cb && cb(ctx, s + 1, t->o.steps, loss / log(2.0)))
            break;
    }
    free(tok);
    return ntail ? tail_sum / ntail / log(2.0) : -1;
}

void cpu_trainer_set_steps(cpu_trainer *t, uint64_t steps) { t->o.steps = steps ? steps : 1; }

static double eval_loss(void *t, const uint8_t *tok, uint32_t b) { return cpu_trainer_loss((cpu_trainer *)t, tok, b); }

double cpu_trainer_eval(cpu_trainer *t, const uint8_t *data, size_t n)
{
    return tr_eval_windows(data, n, t->T, t->B, eval_loss, t);
}
