/* test_core.c - the integer primitives, the frequency tables, the rANS coder,
 * the container fields and the model coder, each against an independent
 * computation (wide integers, libm, entropy). */
#include <math.h>
#include <stdint.h>

#include "../core/oz_codec.h"
#include "../core/oz_format.h"
#include "../core/oz_int.h"
#include "harness.h"

typedef __int128 i128;

/* floor(x / 2^s) computed with C's truncating division and a correction */
static int64_t floor_div_pow2(int64_t x, int s)
{
    i128 d = (i128)1 << s, q = (i128)x / d;
    if ((i128)x % d != 0 && x < 0)
        q -= 1;
    return (int64_t)q;
}

static void test_sra(void)
{
    int bad = 0, i;
    for (i = 0; i < 200000 && !bad; i++) {
        int64_t x = (int64_t)t_rand();
        int s = (int)(t_rand() % 63);
        if (i < 64) { /* edges */
            x = (i & 1) ? INT64_MIN + 1 + i : -(int64_t)i;
        }
        if (oz_sra64(x, s) != floor_div_pow2(x, s))
            bad = 1;
    }
    t_result(!bad, "oz_sra64 is floor division by 2^s for all signs", "x=%d", i);
}

static void test_rq(void)
{
    int bad = 0, i;
    for (i = 0; i < 200000 && !bad; i++) {
        int32_t acc = (int32_t)t_rand(), m = (int32_t)(t_rand() & 0x7FFFFFFF), s = 1 + (int32_t)(t_rand() % 62);
        i128 num = (i128)acc * m + ((i128)1 << (s - 1)), d = (i128)1 << s, q = num / d;
        if (num % d != 0 && num < 0)
            q -= 1;
        if (i < 16) {
            acc = (i & 1) ? INT32_MAX : INT32_MIN + 1;
            m = 0x7FFFFFFF;
            s = 1 + i;
            num = (i128)acc * m + ((i128)1 << (s - 1));
            d = (i128)1 << s;
            q = num / d;
            if (num % d != 0 && num < 0)
                q -= 1;
        }
        if (oz_rq(acc, m, s) != (int64_t)q)
            bad = 1;
    }
    t_result(!bad, "oz_rq rounds half up exactly (checked with 128-bit arithmetic)", "case %d", i);
}

static void test_isqrt(void)
{
    int bad = 0, i;
    uint64_t edge[] = {0, 1, 2, 3, 4, 15, 16, 17, UINT64_MAX, UINT64_MAX - 1, (uint64_t)1 << 62,
                       ((uint64_t)1 << 62) - 1, 4294967295ull * 4294967295ull, 4294967295ull * 4294967295ull - 1};
    for (i = 0; i < (int)(sizeof edge / sizeof edge[0]) + 100000 && !bad; i++) {
        uint64_t v = i < (int)(sizeof edge / sizeof edge[0]) ? edge[i] : t_rand() >> (t_rand() % 64);
        unsigned __int128 r = oz_isqrt64(v);
        if (!(r * r <= v && (r + 1) * (r + 1) > v))
            bad = 1;
    }
    t_result(!bad, "oz_isqrt64 is floor(sqrt) on edges and random values", NULL);
}

static void test_exp2_table(void)
{
    int i, bad = -1;
    for (i = 0; i < 256; i++) {
        long ref = (long)floor(32768.0 * exp2(-(double)i / 256.0) + 0.5);
        if (OZ_EXP2_Q15[i] != ref) {
            bad = i;
            break;
        }
    }
    t_result(bad < 0, "OZ_EXP2_Q15 matches round(2^15 * 2^(-i/256)) from libm", "entry %d", bad);
    bad = 0;
    for (i = 0; i < 5000; i++) {
        double ref = 32768.0 * exp2(-(double)i / 256.0);
        uint32_t v = oz_exp2q15(i);
        if (fabs((double)v - ref) > 1.0 + ref * 0.0 || (i > 0 && v > oz_exp2q15(i - 1)))
            bad = 1;
    }
    t_result(!bad && oz_exp2q15(0) == 32768 && oz_exp2q15(16 * 256) == 0 && oz_exp2q15(1 << 26) == 0,
             "oz_exp2q15 is within 1 of 2^15 * 2^(-t/256), monotone, 0 beyond t = 4096", NULL);
}

static void test_rmsnorm(void)
{
    int32_t x[1024];
    int8_t y[1024];
    int trial, i, bad = 0, n;
    for (trial = 0; trial < 2000 && !bad; trial++) {
        double ss = 0, rms;
        n = 16 * (1 + (int)(t_rand() % 64));
        for (i = 0; i < n; i++) {
            int mode = trial % 4;
            int32_t v = (int32_t)(t_rand() % (2 * OZ_RES_MAX + 1)) - OZ_RES_MAX;
            if (mode == 1)
                v >>= (t_rand() % 23);
            if (mode == 2)
                v = (i & 1) ? OZ_RES_MAX : -OZ_RES_MAX;
            if (mode == 3)
                v = (int32_t)(t_rand() % 7) - 3;
            x[i] = v;
            ss += (double)v * v;
        }
        oz_rmsnorm(x, y, n);
        rms = floor(sqrt(floor(ss / n)));
        for (i = 0; i < n; i++) {
            double ref = rms > 0 ? 32.0 * x[i] / rms : 0;
            ref = ref > 127 ? 127 : (ref < -127 ? -127 : ref);
            if (fabs(y[i] - ref) > 0.51 + fabs(ref) * 1e-6)
                bad = 1;
        }
    }
    t_result(!bad, "oz_rmsnorm equals round(32 x / rms) within rounding, full range, D up to 1024", "trial %d",
             trial);
    for (i = 0; i < 64; i++)
        x[i] = 0;
    oz_rmsnorm(x, y, 64);
    bad = 0;
    for (i = 0; i < 64; i++)
        bad |= y[i] != 0;
    t_result(!bad, "oz_rmsnorm of a zero vector is zero", NULL);
}

static void check_cum(const uint32_t *cum, int *ok)
{
    int s;
    if (cum[0] != 0 || cum[256] != (1u << OZ_PROB_BITS))
        *ok = 0;
    for (s = 0; s < 256; s++)
        if (cum[s + 1] <= cum[s])
            *ok = 0;
}

static void test_freq(void)
{
    int32_t z[256];
    uint32_t cum[257];
    int trial, s, ok = 1;
    double worst = 0;
    for (trial = 0; trial < 3000; trial++) {
        double p[256], sum = 0, mx = -1e300;
        int mode = trial % 5;
        for (s = 0; s < 256; s++) {
            if (mode == 0)
                z[s] = (int32_t)(t_rand() % 4096) - 2048;
            else if (mode == 1)
                z[s] = (int32_t)(t_rand() % (2 * OZ_Z_MAX + 1)) - OZ_Z_MAX;
            else if (mode == 2)
                z[s] = 0;
            else if (mode == 3)
                z[s] = s == 77 ? OZ_Z_MAX : -OZ_Z_MAX;
            else
                z[s] = (int32_t)(t_rand() % 512);
        }
        oz_freq_cum(z, cum);
        check_cum(cum, &ok);
        for (s = 0; s < 256; s++)
            mx = z[s] > mx ? z[s] : mx;
        for (s = 0; s < 256; s++)
            sum += p[s] = exp2((z[s] - mx) / 256.0);
        for (s = 0; s < 256; s++) {
            double f = (double)(cum[s + 1] - cum[s]) / (1 << OZ_PROB_BITS), e = fabs(f - p[s] / sum);
            worst = e > worst ? e : worst;
        }
    }
    t_result(ok, "oz_freq_cum: total 2^20, every frequency >= 1, on random and extreme logits", NULL);
    /* floor of each share + the 256 forced ones + the table's 2^-15 resolution */
    t_result(worst < 0.0006, "oz_freq_cum follows the softmax of the logits (max abs error < 6e-4)", "max error %g",
             worst);
}

/* rANS round trip over symbols drawn from a table; returns bytes, or 0 on failure */
static uint64_t rans_roundtrip(const uint32_t *cum, const uint8_t *sym, uint64_t n, int pb, double *ideal, int *ok)
{
    uint64_t cap = 4 * n + 16, len, i;
    uint8_t *buf = malloc(cap), *start;
    oz_renc e;
    oz_rdec d;
    *ideal = 0;
    oz_renc_init(&e, buf, buf + cap);
    for (i = n; i-- > 0;)
        oz_renc_put(&e, cum[sym[i]], cum[sym[i] + 1] - cum[sym[i]], pb);
    start = oz_renc_finish(&e);
    len = (uint64_t)(buf + cap - start);
    oz_rdec_init(&d, start, len);
    for (i = 0; i < n; i++) {
        uint32_t s = oz_cum_find(cum, oz_rdec_slot(&d, pb));
        if (s != sym[i])
            *ok = 0;
        oz_rdec_advance(&d, cum[s], cum[s + 1] - cum[s], pb);
        *ideal += -log2((double)(cum[s + 1] - cum[s]) / (double)(1u << pb));
    }
    if (!oz_rdec_done(&d))
        *ok = 0;
    /* truncation must be detected */
    if (len > 12) {
        oz_rdec_init(&d, start, len - 4);
        for (i = 0; i < n; i++) {
            uint32_t s = oz_cum_find(cum, oz_rdec_slot(&d, pb));
            oz_rdec_advance(&d, cum[s], cum[s + 1] - cum[s], pb);
        }
        if (oz_rdec_done(&d))
            *ok = 0;
    }
    free(buf);
    return len;
}

static void test_rans(void)
{
    uint32_t cum[257], f[256];
    uint64_t n = 200000, i, len;
    uint8_t *sym = malloc(n);
    int trial, s, ok = 1;
    double ideal, worst_over = 0;
    for (trial = 0; trial < 8; trial++) {
        uint32_t total = 0, acc = 0;
        for (s = 0; s < 256; s++) {
            if (trial == 0)
                f[s] = 4096; /* uniform */
            else if (trial == 1)
                f[s] = 1; /* all mass on one symbol, fixed below */
            else if (trial == 2)
                f[s] = 1 + (uint32_t)(t_rand() % 8000);
            else
                f[s] = 1 + (uint32_t)(t_rand() % (1u << (t_rand() % 14)));
            total += f[s];
        }
        /* scale to exactly 2^20 keeping every f >= 1 */
        if (trial == 1) {
            f[200] += (1u << 20) - total;
        } else {
            uint32_t t2 = 0;
            for (s = 0; s < 256; s++) {
                f[s] = 1 + (uint32_t)((uint64_t)f[s] * ((1u << 20) - 256) / total);
                t2 += f[s];
            }
            f[0] += (1u << 20) - t2;
        }
        for (s = 0; s < 256; s++) {
            cum[s] = acc;
            acc += f[s];
        }
        cum[256] = acc;
        for (i = 0; i < n; i++) {
            if (trial == 7) { /* adversarial: the least likely symbols only */
                sym[i] = (uint8_t)(t_rand() % 256);
                continue;
            }
            uint32_t r = (uint32_t)(t_rand() & ((1u << 20) - 1));
            sym[i] = (uint8_t)oz_cum_find(cum, r);
        }
        len = rans_roundtrip(cum, sym, n, 20, &ideal, &ok);
        /* beyond the 8-byte final state, relative to the ideal length */
        if ((8.0 * (len - 8) - ideal) / (ideal + 1) > worst_over)
            worst_over = (8.0 * (len - 8) - ideal) / (ideal + 1);
        if (8.0 * len > ideal * 1.0001 + 8 * 16)
            ok = 0;
    }
    t_result(ok, "rANS round trips random, skewed and adversarial tables; detects truncation", NULL);
    t_result(worst_over < 1e-4, "rANS code length is within 0.01% of the ideal (plus the 8-byte state)", "overhead %g", worst_over);
    /* binary alphabet at 12 bits, as the model coder uses it */
    {
        uint32_t bc[3];
        ok = 1;
        for (trial = 0; trial < 20; trial++) {
            uint32_t p0 = 15 + (uint32_t)(t_rand() % 4067);
            bc[0] = 0;
            bc[1] = p0;
            bc[2] = 4096;
            for (i = 0; i < n; i++)
                sym[i] = (uint8_t)((t_rand() & 4095) >= p0);
            /* oz_cum_find needs 257 entries; decode by comparison instead */
            {
                uint64_t cap = 4 * n + 16, k;
                uint8_t *buf = malloc(cap), *start;
                oz_renc e;
                oz_rdec d;
                oz_renc_init(&e, buf, buf + cap);
                for (k = n; k-- > 0;)
                    oz_renc_put(&e, bc[sym[k]], bc[sym[k] + 1] - bc[sym[k]], 12);
                start = oz_renc_finish(&e);
                oz_rdec_init(&d, start, (uint64_t)(buf + cap - start));
                for (k = 0; k < n; k++) {
                    uint32_t b = oz_rdec_slot(&d, 12) >= p0;
                    if (b != sym[k])
                        ok = 0;
                    oz_rdec_advance(&d, bc[b], bc[b + 1] - bc[b], 12);
                }
                if (!oz_rdec_done(&d))
                    ok = 0;
                free(buf);
            }
        }
        t_result(ok, "rANS round trips a binary alphabet at 12-bit precision", NULL);
    }
    /* a corrupt initial state is rejected */
    {
        uint8_t bad[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        oz_rdec d;
        oz_rdec_init(&d, bad, 8);
        t_result(d.err == 2, "rANS rejects an initial state below L", NULL);
    }
    free(sym);
}

static void test_format(void)
{
    oz_frame f, g;
    oz_index_entry idx[3] = {{OZ_M_MODEL, 100, 1}, {OZ_M_RAW, 1000, 2}, {OZ_M_ZSTD, 7, 3}}, e;
    uint8_t buf[256];
    uint64_t len;
    int ok = 1, i;
    memset(&f, 0, sizeof f);
    f.flags = OZ_F_MODEL;
    f.stream_count = 3;
    f.original_size = 3000;
    f.stream_block = 1000;
    f.content_xxh64 = 0x0123456789ABCDEFull;
    f.model_coding = OZ_MC_OZW;
    f.model_size = 4096;
    f.model_stored = 999;
    f.model_xxh64 = 42;
    len = oz_frame_write(&f, idx, buf);
    ok &= len == OZ_FRAME_HEADER + OZ_MODEL_DESC + 3 * OZ_INDEX_ENTRY && len + 4 == oz_header_bytes(&f);
    ok &= oz_frame_read(buf, len, &g) == OZ_CORE_OK;
    ok &= g.stream_count == 3 && g.original_size == 3000 && g.content_xxh64 == f.content_xxh64 &&
          g.model_stored == 999 && g.model_size == 4096 && g.model_xxh64 == 42 && g.flags == OZ_F_MODEL;
    for (i = 0; i < 3; i++) {
        ok &= oz_index_read(buf, &g, (uint32_t)i, &e) == OZ_CORE_OK;
        ok &= e.method == idx[i].method && e.stored_size == idx[i].stored_size && e.xxh32 == idx[i].xxh32;
    }
    ok &= oz_stream_len(&g, 2) == 1000;
    t_result(ok, "frame header, model descriptor and index round trip", NULL);
    /* the magic number bytes are exactly those of the spec */
    t_result(buf[0] == 0x89 && !memcmp(buf + 1, "OZP\r\n\x1a\n", 7) && buf[8] == 1 && buf[9] == 0,
             "magic 89 4F 5A 50 0D 0A 1A 0A and version 1.0", NULL);
    /* every single corruption of a checked field is refused */
    buf[0] ^= 1;
    ok = oz_frame_read(buf, len, &g) == OZ_CORE_EFORMAT;
    buf[0] ^= 1;
    buf[8] = 2;
    ok &= oz_frame_read(buf, len, &g) == OZ_CORE_EVERSION;
    buf[8] = 1;
    buf[10] |= 0x80;
    ok &= oz_frame_read(buf, len, &g) == OZ_CORE_EVERSION;
    buf[10] &= 0x7F;
    buf[40] = 1;
    ok &= oz_frame_read(buf, len, &g) == OZ_CORE_EFORMAT;
    buf[40] = 0;
    buf[12] = 4; /* stream count inconsistent with sizes */
    ok &= oz_frame_read(buf, len, &g) == OZ_CORE_EFORMAT;
    buf[12] = 3;
    ok &= oz_frame_read(buf, 30, &g) == OZ_CORE_ETRUNC;
    ok &= oz_frame_read(buf, len, &g) == OZ_CORE_OK;
    buf[OZ_FRAME_HEADER + OZ_MODEL_DESC + OZ_INDEX_ENTRY] = 9; /* method of stream 1 */
    ok &= oz_index_read(buf, &g, 1, &e) == OZ_CORE_EVERSION;
    buf[OZ_FRAME_HEADER + OZ_MODEL_DESC + OZ_INDEX_ENTRY] = OZ_M_RAW;
    buf[OZ_FRAME_HEADER + OZ_MODEL_DESC + OZ_INDEX_ENTRY + 4] = 1; /* raw stored size != length */
    ok &= oz_index_read(buf, &g, 1, &e) == OZ_CORE_EFORMAT;
    t_result(ok, "frame parser refuses bad magic, version, flags, reserved bytes, counts, methods", NULL);
}

static void test_wcode(void)
{
    oz_config c = {2, 32, 4, 64, 16, 8, OZ_CFG_TIED};
    uint32_t size = oz_image_size(&c), i;
    uint8_t *img = calloc(1, size), *dec = calloc(1, size), *out;
    void *scratch = malloc(oz_wcode_scratch_bytes(size));
    uint64_t len = 0;
    int ok, rc;
    oz_region reg[OZ_MAX_REGIONS];
    int nreg = oz_image_layout(&c, reg), r;
    oz_image_write_header(&c, img);
    for (r = 1; r < nreg; r++)
        for (i = 0; i < reg[r].size; i++) /* gaussian-ish int8 */
            img[reg[r].offset + i] = (uint8_t)(int8_t)(((int)(t_rand() % 64) + (int)(t_rand() % 64) - 63) / 2);
    out = malloc(oz_wcode_bound(size));
    rc = oz_wcode_encode(img, size, scratch, out, oz_wcode_bound(size), &len);
    ok = rc == OZ_CORE_OK && oz_wcode_decode(out, len, dec, size) == OZ_CORE_OK && !memcmp(img, dec, size);
    t_result(ok, "model coder (OZW) round trips an image", NULL);
    t_result(len < size * 0.85, "model coder compresses bell-shaped int8 weights below 6.8 bits each",
             "%llu of %u", (unsigned long long)len, size);
    rc = oz_wcode_decode(out, len - 1, dec, size);
    t_result(rc != OZ_CORE_OK, "model coder detects truncation", NULL);
    free(img);
    free(dec);
    free(out);
    free(scratch);
}

int main(void)
{
    test_sra();
    test_rq();
    test_isqrt();
    test_exp2_table();
    test_rmsnorm();
    test_freq();
    test_rans();
    test_format();
    test_wcode();
    return t_done();
}
