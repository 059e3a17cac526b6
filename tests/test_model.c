/* test_model.c - the integer Transformer: the whole-chunk forward and the
 * one-step forward agree at every position (past the first window too), for
 * many shapes, block sizes and saturating parameters; model streams round
 * trip; bound checks of oz_model_bind. Built a second time with UBSan by
 * tests/run.sh, which turns any overflow into a failure. */
#include <math.h>
#include <stdint.h>

#include "../core/oz_codec.h"
#include "harness.h"
#include "rand_model.h"

/* Runs data[n] through the step path (ring exactly W) and the chunk path
 * (blocks of `block`, ring W + block - 1 + extra); compares every logit. */
static int agree(const oz_model *m, const uint8_t *data, uint32_t n, uint32_t block, uint32_t extra, uint32_t *where)
{
    const oz_config *c = &m->cfg;
    uint32_t capc = c->ctx + block - 1 + extra, t, s;
    void *ms = malloc(oz_state_bytes(c, c->ctx)), *mc = malloc(oz_state_bytes(c, capc));
    void *wss = NULL, *wsc = NULL;
    int32_t *zs = malloc(256 * sizeof(int32_t)), *zc = malloc((size_t)block * 256 * sizeof(int32_t));
    oz_state ss, sc;
    uint8_t *tok = malloc(n);
    int ok = 1;
    if (posix_memalign(&wss, 64, oz_step_ws_bytes(c)) || posix_memalign(&wsc, 64, oz_chunk_ws_bytes(c, block)))
        return 0;
    oz_state_init(&ss, c, ms, c->ctx);
    oz_state_init(&sc, c, mc, capc);
    for (t = 0; t < n; t++)
        tok[t] = t ? data[t - 1] : 0;
    for (t = 0; t < n && ok; t += block) {
        uint32_t k, cnt = n - t < block ? n - t : block;
        oz_forward_chunk(m, &sc, tok + t, cnt, wsc, zc);
        for (k = 0; k < cnt && ok; k++) {
            oz_forward_step(m, &ss, tok[t + k], wss, zs);
            for (s = 0; s < 256; s++)
                if (zs[s] != zc[(size_t)k * 256 + s]) {
                    ok = 0;
                    *where = t + k;
                    break;
                }
        }
    }
    free(ms);
    free(mc);
    free(wss);
    free(wsc);
    free(zs);
    free(zc);
    free(tok);
    return ok;
}

static uint8_t *real_data(size_t want, size_t *n, const char **src)
{
    const char *dir = t_corpus();
    char path[512];
    uint8_t *d = NULL;
    if (dir) {
        snprintf(path, sizeof path, "%s/log-Apache_2k.log", dir);
        d = t_read_file(path, n);
        *src = "log-Apache_2k.log";
    }
    if (!d) {
        d = t_read_file("data/taxi-yellow_tripdata_2015-01.csv", n);
        *src = "data/taxi-yellow_tripdata_2015-01.csv";
    }
    if (!d) {
        d = t_read_file("tests/test_model.c", n);
        *src = "tests/test_model.c";
    }
    if (d && *n > want)
        *n = want;
    return d;
}

static void test_agreement(void)
{
    static const oz_config shapes[] = {
        {2, 32, 4, 64, 16, 8, OZ_CFG_TIED}, {1, 16, 1, 16, 1, 8, OZ_CFG_TIED}, {3, 48, 3, 96, 7, 6, 0},
        {2, 64, 2, 128, 64, 8, OZ_CFG_TIED}, {1, 32, 16, 32, 33, 4, 0},
        /* the most layers, with an output head of its own: the most regions */
        {16, 16, 2, 16, 20, 8, 0},
    };
    static const uint32_t blocks[] = {1, 5, 16, 64, 256};
    size_t n;
    const char *src;
    uint8_t *data = real_data(1500, &n, &src);
    char name[200];
    unsigned i, b;
    int g;
    for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        for (g = 0; g < 3; g++) {
            double gain = g == 0 ? 1.0 : (g == 1 ? 1e6 : 1e-6);
            uint32_t size, where = 0;
            uint8_t *img = random_image(&shapes[i], gain, &size);
            oz_model m;
            int ok = oz_model_bind(&m, img, size) == OZ_CORE_OK;
            for (b = 0; b < sizeof blocks / sizeof blocks[0] && ok; b++)
                ok = agree(&m, data, (uint32_t)(n < 3 * shapes[i].ctx + 300 ? n : 3 * shapes[i].ctx + 300),
                           blocks[b], b & 1, &where);
            snprintf(name, sizeof name,
                     "chunk and step forward agree at every position: L%u D%u H%u F%u W%u %s multipliers, on %s",
                     shapes[i].n_layer, shapes[i].d_model, shapes[i].n_head, shapes[i].d_ff, shapes[i].ctx,
                     g == 0 ? "sensible" : (g == 1 ? "saturating" : "vanishing"), src);
            t_result(ok, name, "first difference at position %u (block %u)", where, blocks[b - 1]);
            free(img);
        }
    }
    free(data);
}

/* The logits must depend on the context in the way the spec says: a model
 * whose activations are sane produces different predictions at different
 * positions (guards against a forward pass that ignores its input). */
static void test_sensitivity(void)
{
    oz_config c = {2, 32, 4, 64, 16, 8, OZ_CFG_TIED};
    uint32_t size, t, diff = 0;
    uint8_t *img = random_image(&c, 1.0, &size);
    oz_model m;
    oz_state st;
    void *mem = malloc(oz_state_bytes(&c, c.ctx)), *ws = NULL;
    int32_t z[256], prev[256];
    const char *text = "the quick brown fox jumps over the lazy dog 0123456789";
    if (posix_memalign(&ws, 64, oz_step_ws_bytes(&c)))
        return;
    oz_model_bind(&m, img, size);
    oz_state_init(&st, &c, mem, c.ctx);
    for (t = 0; text[t]; t++) {
        oz_forward_step(&m, &st, (uint8_t)text[t], ws, z);
        if (t && memcmp(z, prev, sizeof z))
            diff++;
        memcpy(prev, z, sizeof z);
    }
    t_result(diff > 40, "logits change with the input (the forward pass reads its context)", "%u changes", diff);
    free(img);
    free(mem);
    free(ws);
}

static void test_stream_roundtrip(void)
{
    oz_config c = {2, 32, 4, 64, 24, 8, OZ_CFG_TIED};
    uint32_t size, lens[] = {0, 1, 2, 255, 256, 257, 1000, 3000}, i;
    uint8_t *img = random_image(&c, 1.0, &size);
    size_t n;
    const char *src;
    uint8_t *data = real_data(3000, &n, &src);
    oz_model m;
    oz_state st;
    void *mem = malloc(oz_state_bytes(&c, OZ_ENC_CAP(c.ctx))), *scratch, *ws = NULL;
    uint8_t *out = malloc(oz_encode_bound(3000)), *dec = malloc(3000);
    int ok = 1, detected = 0, trials = 0;
    uint64_t olen;
    scratch = malloc(oz_encode_scratch_bytes(&c, 3000));
    if (posix_memalign(&ws, 64, oz_step_ws_bytes(&c)))
        return;
    oz_model_bind(&m, img, size);
    oz_state_init(&st, &c, mem, OZ_ENC_CAP(c.ctx));
    for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint32_t len = lens[i] < n ? lens[i] : (uint32_t)n;
        ok &= oz_encode_stream(&m, &st, scratch, data, len, out, &olen) == OZ_CORE_OK;
        ok &= oz_decode_stream(&m, &st, ws, out, olen, dec, len) == OZ_CORE_OK;
        ok &= memcmp(dec, data, len) == 0;
    }
    t_result(ok, "model streams round trip at lengths 0, 1, 2, 255..257, 1000, 3000", NULL);
    /* corrupt one byte of the coded stream: the coder's own check (final
     * state + exact consumption) catches most; none may decode 'OK' into
     * the original bytes by accident with a changed stream... */
    oz_encode_stream(&m, &st, scratch, data, 3000 < n ? 3000 : (uint32_t)n, out, &olen);
    for (i = 0; i < 200; i++) {
        uint64_t pos = t_rand() % olen;
        uint8_t bit = (uint8_t)(1u << (t_rand() % 8));
        int rc;
        out[pos] ^= bit;
        rc = oz_decode_stream(&m, &st, ws, out, olen, dec, 3000 < n ? 3000 : (uint32_t)n);
        trials++;
        detected += rc != OZ_CORE_OK;
        out[pos] ^= bit;
    }
    t_result(detected >= trials * 95 / 100, "the rANS end-state check detects >= 95% of single bit flips",
             "%d of %d", detected, trials);
    /* truncation */
    t_result(oz_decode_stream(&m, &st, ws, out, olen - 4, dec, 3000 < n ? 3000 : (uint32_t)n) != OZ_CORE_OK,
             "a truncated model stream is refused", NULL);
    free(img);
    free(data);
    free(mem);
    free(scratch);
    free(ws);
    free(out);
    free(dec);
}

static void test_bind_checks(void)
{
    oz_config c = {1, 16, 2, 32, 8, 8, OZ_CFG_TIED};
    uint32_t size;
    uint8_t *img = random_image(&c, 1.0, &size);
    oz_model m;
    oz_region reg[OZ_MAX_REGIONS];
    int ok = 1;
    oz_image_layout(&c, reg);
    ok &= oz_model_bind(&m, img, size) == OZ_CORE_OK;
    ok &= oz_model_bind(&m, img, size - 64) != OZ_CORE_OK;
    img[10] = 17; /* d_model not a multiple of 16 */
    ok &= oz_model_bind(&m, img, size) == OZ_CORE_ELIMIT;
    img[10] = 16;
    img[30] = 1; /* reserved */
    ok &= oz_model_bind(&m, img, size) == OZ_CORE_EVERSION;
    img[30] = 0;
    oz_wr32(img + reg[2].offset + 4, 63); /* shift out of range */
    ok &= oz_model_bind(&m, img, size) == OZ_CORE_ECORRUPT;
    oz_wr32(img + reg[2].offset + 4, 0);
    ok &= oz_model_bind(&m, img, size) == OZ_CORE_ECORRUPT;
    oz_wr32(img + reg[2].offset + 4, 10);
    oz_wr32(img + reg[2].offset, 0x80000000u); /* negative multiplier */
    ok &= oz_model_bind(&m, img, size) == OZ_CORE_ECORRUPT;
    oz_wr32(img + reg[2].offset, 1u << 30);
    ok &= oz_model_bind(&m, img, size) == OZ_CORE_OK;
    oz_wr32(img + reg[7].offset, OZ_MAX_SLOPE + 1); /* layer 0 slope of head 0 */
    ok &= oz_model_bind(&m, img, size) == OZ_CORE_ECORRUPT;
    oz_wr32(img + reg[7].offset, 0);
    ok &= oz_model_bind(&m, img, size) == OZ_CORE_OK;
    {
        /* an activation table entry of -128 (the SIMD proofs need >= -127) */
        uint32_t act = (uint32_t)((const uint8_t *)m.layer[0].act - img), k;
        for (k = 0; k < 256; k++)
            ok &= (int8_t)img[act + k] >= -127;
        img[act + 5] = 0x80;
        ok &= oz_model_bind(&m, img, size) == OZ_CORE_ECORRUPT;
        img[act + 5] = 0x81;
        ok &= oz_model_bind(&m, img, size) == OZ_CORE_OK;
    }
    t_result(ok, "oz_model_bind refuses wrong sizes, limits, reserved bits, shifts, multipliers, slopes, -128 activations",
             NULL);
    free(img);
}

/* Every shape within the limits lays out in at most OZ_MAX_REGIONS regions
 * (the bound had missed the untied head: 16 layers untied wrote one region
 * past every reg[OZ_MAX_REGIONS] array, on the decode path too, from a file's
 * model header); and a 16-layer untied image binds and round trips through
 * OZW. The layout writes into a larger array here, so an overrun shows as a
 * count, not only under ASan. */
static void test_limits(void)
{
    static const oz_config big[] = {{OZ_MAX_LAYERS, OZ_MAX_DMODEL, OZ_MAX_HEADS, OZ_MAX_DFF, OZ_MAX_CTX, 8, 0},
                                    {OZ_MAX_LAYERS, OZ_MAX_DMODEL, OZ_MAX_HEADS, OZ_MAX_DFF, OZ_MAX_CTX, 8, OZ_CFG_TIED},
                                    {1, 16, 1, 16, 1, 2, OZ_CFG_TIED}};
    oz_region reg[OZ_MAX_REGIONS + 16];
    oz_config c = {OZ_MAX_LAYERS, 16, 1, 16, 9, 8, 0};
    uint32_t size, i;
    uint8_t *img, *dec, *coded;
    void *scratch;
    uint64_t clen = 0;
    oz_model m;
    int ok = 1, n;
    for (i = 0; i < sizeof big / sizeof big[0]; i++) {
        n = oz_image_layout(&big[i], reg);
        ok &= n == 5 + 11 * (int)big[i].n_layer - (big[i].flags & OZ_CFG_TIED ? 1 : 0) && n <= OZ_MAX_REGIONS;
    }
    t_result(ok, "the largest shapes, tied and untied, lay out within OZ_MAX_REGIONS regions", "%d regions, bound %d",
             n, OZ_MAX_REGIONS);
    img = random_image(&c, 1.0, &size);
    dec = malloc(size);
    coded = malloc(oz_wcode_bound(size));
    scratch = malloc(oz_wcode_scratch_bytes(size));
    ok = oz_model_bind(&m, img, size) == OZ_CORE_OK && m.head != m.emb;
    ok &= oz_wcode_encode(img, size, scratch, coded, oz_wcode_bound(size), &clen) == OZ_CORE_OK;
    ok &= oz_wcode_decode(coded, clen, dec, size) == OZ_CORE_OK && !memcmp(dec, img, size);
    t_result(ok, "a 16-layer model with its own output head binds and round trips through OZW", NULL);
    free(img);
    free(dec);
    free(coded);
    free(scratch);
}

int main(void)
{
    test_agreement();
    test_sensitivity();
    test_stream_roundtrip();
    test_bind_checks();
    test_limits();
    return t_done();
}
