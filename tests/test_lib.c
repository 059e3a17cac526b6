/* test_lib.c - the public API (include/ozip.h): round trips of edge cases and
 * real files through the model and the classic paths, the size guarantee,
 * range decoding, external models, and corruption / truncation of every
 * section giving an error (never a wrong result). */
#include <brotli/encode.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <unistd.h>
#include <bzlib.h>
#include <lzma.h>
#include <stdint.h>
#include <xxhash.h>
#include <zstd.h>

#include "../core/oz_codec.h"
#include "../core/oz_format.h"
#include "../include/ozip.h"
#include "harness.h"

#define SMALL_ARCH "L=1,D=16,H=2,F=32,W=16,wbits=8"

static char errbuf[512];

static void params(ozip_params *p, int force_model)
{
    ozip_params_init(p);
    p->arch = SMALL_ARCH;
    p->epochs = 1;
    p->threads = 2;
    p->force_model = force_model;
    p->stream_size = 4096;
    p->errbuf = errbuf;
    p->errbuf_size = sizeof errbuf;
}

static int roundtrip(const uint8_t *d, size_t n, ozip_params *p, size_t *csize, ozip_report *rep)
{
    void *c = NULL, *u = NULL;
    size_t cn = 0, un = 0;
    int ok;
    p->report = rep;
    ok = ozip_compress(d, n, &c, &cn, p) == OZIP_OK;
    p->report = NULL;
    ok = ok && ozip_decompress(c, cn, &u, &un, p) == OZIP_OK && un == n && (n == 0 || !memcmp(u, d, n));
    if (csize)
        *csize = cn;
    ozip_free(c);
    ozip_free(u);
    return ok;
}

static void test_api_basics(void)
{
    int s, ok = 1;
    t_result(ozip_version_number() == OZIP_VERSION_NUMBER && !strcmp(ozip_version_string(), OZIP_VERSION_STRING),
             "run-time version equals the header's", NULL);
    for (s = 0; s <= OZIP_ERR_INTERNAL; s++) {
        int k;
        const char *m = ozip_strerror((ozip_status)s);
        ok &= m && *m;
        for (k = 0; k < s; k++)
            ok &= strcmp(m, ozip_strerror((ozip_status)k)) != 0;
    }
    t_result(ok && ozip_strerror((ozip_status)999) != NULL, "every status has its own message", NULL);
    {
        ozip_params p;
        void *c;
        size_t cn;
        ozip_params_init(&p);
        p.level = 10;
        t_result(ozip_compress("x", 1, &c, &cn, &p) == OZIP_ERR_PARAM, "level 10 is refused", NULL);
        p.level = 6;
        p.arch = "L=2,D=17";
        p.force_model = 1;
        t_result(ozip_compress("xy", 2, &c, &cn, &p) == OZIP_ERR_PARAM, "an invalid model shape is refused", NULL);
    }
}

static void test_edge_cases(void)
{
    static uint8_t buf[40000];
    ozip_params p;
    ozip_report rep;
    size_t i, cn;
    int ok;
    params(&p, 0);
    ok = roundtrip(buf, 0, &p, &cn, &rep);
    t_result(ok && cn == OZ_FRAME_HEADER + 4, "empty input round trips (52-byte frame)", "size %zu", cn);
    buf[0] = 'A';
    t_result(roundtrip(buf, 1, &p, &cn, &rep) && cn <= 1 + 64, "1 byte round trips", "size %zu", cn);
    memset(buf, 'a', sizeof buf);
    t_result(roundtrip(buf, sizeof buf, &p, &cn, &rep) && cn < 200, "40000 repeated bytes round trip, tiny output",
             "size %zu", cn);
    for (i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)t_rand();
    ok = roundtrip(buf, sizeof buf, &p, &cn, &rep);
    t_result(ok && cn <= sizeof buf + 64, "random bytes round trip, stored (at most 64 bytes larger)",
             "size %zu", cn);
    /* the model path on random bytes: forced, one stream per 4 KiB */
    params(&p, 1);
    ok = roundtrip(buf, 10000, &p, &cn, &rep);
    t_result(ok && rep.model_streams == 3 && rep.streams == 3, "random bytes round trip through a forced model",
             "model streams %u", rep.model_streams);
    /* a binary file: this test program */
    {
        size_t n;
        uint8_t *bin = t_read_file("build/tests/test_lib", &n);
        if (bin && n > 20000)
            n = 20000;
        params(&p, 1);
        ok = bin && roundtrip(bin, n, &p, &cn, &rep);
        t_result(ok && rep.model_streams == rep.streams && rep.streams == (n + 4095) / 4096,
                 "a binary file round trips through a forced model, 5 streams", NULL);
        free(bin);
    }
}

/* The size guarantee: never more than 64 bytes above stored, xz -9 (liblzma,
 * the .xz container without a check), zstd -19, bzip2 -9 and (level >= 3)
 * brotli -q 11. */
static void test_guarantee(const uint8_t *d, size_t n, const char *what)
{
    ozip_params p;
    ozip_report rep;
    size_t cn, xz = 0, zs, br = n + n / 2 + 65536, cap = n + n / 2 + 65536;
    unsigned int bz = (unsigned int)cap;
    uint8_t *tmp = malloc(cap);
    char name[200];
    int ok, lvl;
    ok = lzma_easy_buffer_encode(9, LZMA_CHECK_NONE, NULL, d, n, tmp, &xz, cap) == LZMA_OK;
    zs = ZSTD_compress(tmp, cap, d, n, 19);
    ok = ok && BZ2_bzBuffToBuffCompress((char *)tmp, &bz, (char *)(uintptr_t)d, (unsigned int)n, 9, 0, 0) == BZ_OK;
    ok = ok && BrotliEncoderCompress(11, 22, BROTLI_MODE_GENERIC, n, d, &br, tmp);
    for (lvl = 1; lvl <= 3; lvl += 2) {
        params(&p, 0);
        p.level = lvl;
        ok = ok && roundtrip(d, n, &p, &cn, &rep);
        snprintf(name, sizeof name, "%s, level %d: .oz <= min(stored, xz -9, zstd -19, bzip2 -9%s) + 64 bytes", what,
                 lvl, lvl >= 3 ? ", brotli -q 11" : "");
        t_result(ok && cn <= n + 64 && cn <= xz + 64 && cn <= zs + 64 && cn <= bz + 64 && (lvl < 3 || cn <= br + 64),
                 name, "oz %zu, xz %zu, zstd %zu, bzip2 %u, brotli %zu, raw %zu", cn, xz, zs, bz, br, n);
    }
    free(tmp);
}

static void test_range(const uint8_t *d, size_t n)
{
    ozip_params p;
    void *c;
    size_t cn;
    int ok, i;
    uint8_t *out = malloc(n);
    params(&p, 1);
    ok = ozip_compress(d, n, &c, &cn, &p) == OZIP_OK;
    for (i = 0; i < 30 && ok; i++) {
        uint64_t off = t_rand() % n, len = t_rand() % (n - off + 1);
        if (i == 0)
            off = 0, len = n;
        if (i == 1)
            off = 4095, len = 2; /* across a stream boundary */
        ok = ozip_decompress_range(c, cn, off, len, out, &p) == OZIP_OK && !memcmp(out, d + off, len);
    }
    t_result(ok, "range decoding returns exactly the requested bytes (30 ranges)", NULL);
    t_result(ozip_decompress_range(c, cn, n - 1, 2, out, &p) == OZIP_ERR_PARAM, "a range past the end is refused",
             NULL);
    ozip_free(c);
    free(out);
}

/* A model file whose image (hash recomputed) breaks one of oz_model_bind's
 * rules is refused with a sentence that names the rule. m: a valid .ozm
 * (OZW-coded). */
static void test_model_refusals(const void *m, size_t mn)
{
    static const struct {
        unsigned at, size;
        uint32_t v;
        const char *says;
    } cases[] = {
        {8, 2, 17, "supported limits"},          /* 17 layers */
        {18, 1, 9, "supported limits"},          /* wbits 9 */
        {19, 1, 2, "does not know"},             /* an unknown flag */
        {40, 1, 1, "does not know"},             /* a reserved byte */
        {0, 4, 0x12345678, "magic"},             /* the image's magic */
        {20, 4, 64, "size"},                     /* the image's size field */
        {0, 0, 63, "requantisation"},            /* a shift of 63 (below) */
    };
    const uint8_t *mb = m;
    uint32_t isz = oz_rd32(mb + 16), i;
    uint8_t *img = malloc(isz), *f = malloc(36 + (size_t)isz);
    int bad = 0;
    char why[640] = "";
    oz_config cfg;
    oz_region reg[OZ_MAX_REGIONS];
    if (!img || !f || mb[12] != 1 || oz_wcode_decode(mb + 36, mn - 36, img, isz) != OZ_CORE_OK ||
        oz_image_read_header(img, isz, &cfg) != OZ_CORE_OK || oz_image_layout(&cfg, reg) < 3 ||
        reg[2].kind != OZ_REG_I32) {
        t_result(0, "a refused model's message names the rule", "the model does not decode");
        free(img), free(f);
        return;
    }
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ozip_params p;
        ozip_status s;
        memcpy(f, mb, 36);
        memcpy(f + 36, img, isz);
        if (cases[i].size == 1)
            f[36 + cases[i].at] = (uint8_t)cases[i].v;
        else if (cases[i].size == 2)
            oz_wr16(f + 36 + cases[i].at, (uint16_t)cases[i].v);
        else if (cases[i].size == 4)
            oz_wr32(f + 36 + cases[i].at, cases[i].v);
        else /* the shift of the embedding's first requantisation pair (region 2) */
            oz_wr32(f + 36 + reg[2].offset + 4, cases[i].v);
        f[12] = 0; /* stored raw */
        oz_wr32(f + 20, isz);
        oz_wr64(f + 28, XXH64(f + 36, isz, 0));
        params(&p, 0);
        errbuf[0] = 0;
        s = ozip_check_model(f, 36 + (size_t)isz, &p);
        if (s == OZIP_OK || !strstr(errbuf, cases[i].says)) {
            bad++;
            snprintf(why, sizeof why, "case %u: status %d, \"%s\"", i, s, errbuf);
        }
    }
    t_result(bad == 0,
             "a model whose image breaks a rule (checksum recomputed) is refused, its message naming the rule",
             "%s", why);
    free(img);
    free(f);
}

static void test_external_model(const uint8_t *d, size_t n)
{
    ozip_params p;
    void *c = NULL, *m = NULL, *c2 = NULL, *u = NULL, *m2 = NULL, *c3 = NULL;
    size_t cn, mn, cn2, un, mn2, cn3;
    ozip_status s;
    int ok;
    params(&p, 1);
    ok = ozip_compress(d, n / 2, &c, &cn, &p) == OZIP_OK && ozip_extract_model(c, cn, &m, &mn, &p) == OZIP_OK;
    t_result(ok, "a model is extracted from an .oz file", NULL);
    if (ok) {
        /* the model check: the whole file passes; cut short, a flipped bit
         * anywhere (header, checksum or payload), or text does not */
        uint8_t *mb = malloc(mn);
        size_t i;
        int good = ozip_check_model(m, mn, &p) == OZIP_OK, bad = 0, cases = 0;
        if (mb) {
            memcpy(mb, m, mn);
            for (i = 0; i < mn; i += 1 + mn / 97, cases += 2) {
                mb[i] ^= 0x10;
                bad += ozip_check_model(mb, mn, &p) != OZIP_OK;
                mb[i] ^= 0x10;
                bad += ozip_check_model(mb, i, &p) != OZIP_OK;
            }
        }
        bad += ozip_check_model("not a model", 11, &p) == OZIP_ERR_PARAM;
        cases++;
        t_result(good && mb && bad == cases, "a model file is checked: whole passes, cut or flipped or text fails",
                 "%d of %d refused", bad, cases);
        free(mb);
        test_model_refusals(m, mn);
    }
    p.model = m;
    p.model_size = mn;
    p.model_external = 1;
    ok = ozip_compress(d + n / 2, n - n / 2, &c2, &cn2, &p) == OZIP_OK;
    t_result(ok && cn2 < cn, "compressing with an external model stores no model", "%zu vs %zu", cn2, cn);
    p.model = NULL;
    s = ozip_decompress(c2, cn2, &u, &un, &p);
    t_result(s == OZIP_ERR_MODEL_REQUIRED, "decoding without the external model says which model is needed",
             "status %d", s);
    /* another model */
    p.seed = 99;
    p.model_external = 0;
    ozip_compress(d, n / 3, &c3, &cn3, &p);
    ozip_extract_model(c3, cn3, &m2, &mn2, &p);
    p.model = m2;
    p.model_size = mn2;
    s = ozip_decompress(c2, cn2, &u, &un, &p);
    t_result(s == OZIP_ERR_MODEL_MISMATCH, "decoding with the wrong model is refused", "status %d", s);
    p.model = m;
    p.model_size = mn;
    s = ozip_decompress(c2, cn2, &u, &un, &p);
    t_result(s == OZIP_OK && un == n - n / 2 && !memcmp(u, d + n / 2, un), "decoding with the right model works",
             NULL);
    {
        /* an empty input with a model given (loaded before the input is looked at) */
        void *ce = NULL, *ue = NULL;
        size_t cen = 0, uen = 1;
        p.model_external = 0;
        s = ozip_compress("", 0, &ce, &cen, &p);
        s = s == OZIP_OK ? ozip_decompress(ce, cen, &ue, &uen, &p) : s;
        t_result(s == OZIP_OK && uen == 0, "an empty input with a model given round trips", "status %d", s);
        ozip_free(ce);
        ozip_free(ue);
    }
    ozip_free(c);
    ozip_free(c2);
    ozip_free(c3);
    ozip_free(m);
    ozip_free(m2);
    ozip_free(u);
}

/* Flip bits in every section and truncate at many points: every case must
 * fail with an error status, never return OK. */
static void test_corruption(const uint8_t *d, size_t n)
{
    ozip_params p;
    ozip_info info;
    void *c, *u;
    size_t cn, un, pos, hdr, i;
    uint8_t *b;
    int silent = 0, cases = 0, crashes_none = 1;
    int section_bad[4] = {0, 0, 0, 0}, section_cases[4] = {0, 0, 0, 0};
    params(&p, 1);
    if (ozip_compress(d, n, &c, &cn, &p) != OZIP_OK) {
        t_result(0, "corruption: compress", NULL);
        return;
    }
    b = (uint8_t *)c;
    ozip_get_info(c, cn, &info, &p);
    hdr = cn - info.stream_bytes - info.model_bytes;
    for (i = 0; i < 600; i++) {
        int sec;
        ozip_status s;
        /* 0 header/index, 1 model payload, 2 streams, 3 exhaustive first bytes */
        if (i < 200)
            pos = i < hdr * 8 ? i / 8 + 0 : t_rand() % hdr, sec = 0;
        else if (i < 400)
            pos = hdr + t_rand() % info.model_bytes, sec = 1;
        else
            pos = hdr + info.model_bytes + t_rand() % info.stream_bytes, sec = 2;
        b[pos] ^= (uint8_t)(1u << (i % 8));
        s = ozip_decompress(c, cn, &u, &un, &p);
        b[pos] ^= (uint8_t)(1u << (i % 8));
        cases++;
        section_cases[sec]++;
        if (s == OZIP_OK) {
            silent++;
            section_bad[sec]++;
            ozip_free(u);
        }
    }
    t_result(section_bad[0] == 0, "every bit flip in the header and index is an error", "%d of %d decoded",
             section_bad[0], section_cases[0]);
    t_result(section_bad[1] == 0, "every bit flip in the model is an error", "%d of %d decoded", section_bad[1],
             section_cases[1]);
    t_result(section_bad[2] == 0, "every bit flip in the streams is an error", "%d of %d decoded", section_bad[2],
             section_cases[2]);
    silent = 0;
    for (i = 0; i < 300; i++) {
        size_t cut = i < 100 ? i : (i < 200 ? cn - (i - 99) : t_rand() % cn);
        ozip_status s = ozip_decompress(c, cut, &u, &un, &p);
        if (s == OZIP_OK) {
            silent++;
            ozip_free(u);
        } else if (s != OZIP_ERR_TRUNCATED && s != OZIP_ERR_NOT_OZIP && s != OZIP_ERR_CORRUPT) {
            crashes_none = 0;
        }
    }
    t_result(silent == 0 && crashes_none, "every truncation is an error (truncated / not ozip / corrupt)",
             "%d decoded", silent);
    /* trailing garbage and a foreign file */
    {
        uint8_t *e = malloc(cn + 1);
        memcpy(e, c, cn);
        e[cn] = 0;
        t_result(ozip_decompress(e, cn + 1, &u, &un, &p) == OZIP_ERR_CORRUPT, "trailing data is an error", NULL);
        t_result(ozip_decompress(d, n, &u, &un, &p) == OZIP_ERR_NOT_OZIP, "a foreign file is 'not in ozip format'",
                 NULL);
        free(e);
    }
    ozip_free(c);
    (void)cases;
}

/* Several frames back to back (concatenated .oz files): decoded, ranged,
 * described and refused as one file whose content is the frames' contents
 * in order. d: at least 21000 bytes. */
/* ozip_decompress_stream's ends for the tests: a reader over a buffer in
 * chunks of random size (1 to 7 bytes, or up to 64K), failing with EIO
 * once `fail_at` bytes are read (0: never); a writer into a buffer */
typedef struct s_in {
    const uint8_t *b;
    size_t n, at, fail_at;
} s_in;
typedef struct s_out {
    uint8_t *b;
    size_t n, cap;
} s_out;

static int s_read(void *user, void *buf, size_t n, size_t *got)
{
    s_in *r = (s_in *)user;
    size_t k = t_rand() % 4 ? 1 + t_rand() % 7 : 1 + t_rand() % 65536;
    if (r->fail_at && r->at >= r->fail_at)
        return EIO;
    if (k > n)
        k = n;
    if (k > r->n - r->at)
        k = r->n - r->at;
    memcpy(buf, r->b + r->at, k);
    r->at += k;
    *got = k;
    return 0;
}

static int s_write(void *user, const void *data, size_t n)
{
    s_out *w = (s_out *)user;
    if (w->n + n > w->cap) {
        size_t c = (w->n + n) * 2;
        uint8_t *nb = realloc(w->b, c);
        if (!nb)
            return ENOMEM;
        w->b = nb;
        w->cap = c;
    }
    memcpy(w->b + w->n, data, n);
    w->n += n;
    return 0;
}

/* which frame numbers the progress reports carried (bit k: frame k; bit 0:
 * none), and whether they ever went down */
typedef struct f_seen {
    unsigned bits;
    uint32_t last;
    int backwards;
} f_seen;

static int f_seen_cb(void *user, const ozip_progress *pr)
{
    f_seen *fs = (f_seen *)user;
    if (pr->frame < 32)
        fs->bits |= 1u << pr->frame;
    if (pr->frame < fs->last)
        fs->backwards = 1;
    fs->last = pr->frame;
    return 0;
}

/* c[cn] (frames) read as a stream: the same content as from the buffer; a
 * cut anywhere gives the buffer call's status and message, having written
 * only whole frames' contents; junk after the frames, a damaged frame and a
 * failing reader are errors after the frames before them are written */
static void test_stream(uint8_t *c, size_t cn, const uint8_t *want, size_t wn, const ozip_params *pp)
{
    ozip_params p = *pp;
    s_in r;
    s_out w;
    char eb[512];
    size_t cut, bounds[8], nb = 0, cum[8], i;
    uint8_t *x;
    int ok, all = 1;
    ozip_status s1, s2;
    memset(&w, 0, sizeof w);
    /* the frame boundaries in c and the content before each */
    {
        size_t pos = 0, done = 0;
        while (pos < cn && nb < 8) {
            ozip_info fi;
            size_t len = 1;
            /* the frame's length: the shortest prefix from pos that get_info takes as one frame */
            while (ozip_get_info(c + pos, len, &fi, NULL) != OZIP_OK)
                len++;
            pos += len;
            done += fi.original_size;
            bounds[nb] = pos;
            cum[nb++] = done;
        }
    }
    for (i = 0; i < 2; i++) { /* whole, then in pieces of 5000 */
        r = (s_in){c, cn, 0, 0};
        w.n = 0;
        p.decode_buffer = i ? 5000 : 0;
        ok = ozip_decompress_stream(s_read, &r, s_write, &w, &p) == OZIP_OK && w.n == wn && !memcmp(w.b, want, wn);
        t_result(ok, i ? "decompress_stream, pieces of 5000 bytes, random reads: the content" :
                         "decompress_stream, random reads of 1 to 7 bytes (and some large): the content", "%s", errbuf);
    }
    p.decode_buffer = 0;
    for (cut = 0; cut < cn; cut += cut < 64 ? 1 : 1 + t_rand() % 97) {
        size_t k, expect = 0;
        r = (s_in){c, cut, 0, 0};
        w.n = 0;
        errbuf[0] = 0;
        s1 = ozip_decompress_stream(s_read, &r, s_write, &w, &p);
        snprintf(eb, sizeof eb, "%s", errbuf);
        errbuf[0] = 0;
        s2 = ozip_decompress_to(c, cut, s_write, &(s_out){0}, &p);
        for (k = 0; k < nb; k++)
            if (bounds[k] <= cut)
                expect = cum[k];
        ok = (s1 == s2 && strcmp(eb, errbuf) == 0 && w.n == expect && !memcmp(w.b, want, w.n));
        if (!ok) {
            t_result(0, "decompress_stream of a cut file", "cut at %zu: status %d/%d, '%s' / '%s', %zu bytes written",
                     cut, (int)s1, (int)s2, eb, errbuf, w.n);
            all = 0;
            break;
        }
    }
    {
        f_seen seen;
        memset(&seen, 0, sizeof seen);
        r = (s_in){c, cn, 0, 0};
        w.n = 0;
        p.progress = f_seen_cb;
        p.progress_user = &seen;
        ok = ozip_decompress_stream(s_read, &r, s_write, &w, &p) == OZIP_OK;
        p.progress = NULL;
        /* the model-coded frames report decoding: 1 and 4 */
        t_result(ok && seen.bits == 0x12 && !seen.backwards, "decompress_stream: progress names each frame", "frames seen %#x", seen.bits);
    }
    if (all)
        t_result(1, "decompress_stream of the file cut at every byte up to 64 and then every ~50: the buffer call's "
                    "status and message, only whole frames' contents written", NULL);
    x = malloc(cn + 4);
    memcpy(x, c, cn);
    memcpy(x + cn, "junk", 4);
    r = (s_in){x, cn + 4, 0, 0};
    w.n = 0;
    errbuf[0] = 0;
    ok = ozip_decompress_stream(s_read, &r, s_write, &w, &p) == OZIP_ERR_CORRUPT && strstr(errbuf, "trailing data") &&
         w.n == wn && !memcmp(w.b, want, wn);
    t_result(ok, "decompress_stream: junk after the frames is refused, after their contents", "%s", errbuf);
    if (nb >= 2) {
        char pre[64];
        x[cn - 3] ^= 0x10; /* in the last frame's last stream */
        r = (s_in){x, cn, 0, 0};
        w.n = 0;
        errbuf[0] = 0;
        snprintf(pre, sizeof pre, "frame %zu (at byte %zu): ", nb, bounds[nb - 2]);
        ok = ozip_decompress_stream(s_read, &r, s_write, &w, &p) != OZIP_OK && !strncmp(errbuf, pre, strlen(pre)) &&
             w.n == cum[nb - 2] && !memcmp(w.b, want, w.n);
        t_result(ok, "decompress_stream: a damaged last frame is named; none of its content is written", "%s", errbuf);
    }
    r = (s_in){c, cn, 0, cn / 2};
    w.n = 0;
    t_result(ozip_decompress_stream(s_read, &r, s_write, &w, &p) == OZIP_ERR_IO && w.n <= wn &&
                 !memcmp(w.b, want, w.n),
             "decompress_stream: a reader that fails gives an I/O error", NULL);
    free(x);
    free(w.b);
}

static void test_frames(const uint8_t *d, size_t n)
{
    ozip_params p;
    ozip_info ia, ib, ie, info;
    void *a = NULL, *bb = NULL, *e = NULL, *u = NULL, *m1 = NULL, *m2 = NULL;
    size_t an = 0, bn = 0, en = 0, un = 0, cn, xn, m1n = 0, m2n = 0, i, pos;
    uint8_t *c, *x, *out;
    static uint8_t out0[30000];
    int ok;
    if (n < 21000) {
        t_skip("frames", "the sample is under 21000 bytes");
        return;
    }
    params(&p, 1);
    ok = ozip_compress(d, 9000, &a, &an, &p) == OZIP_OK; /* model-coded */
    p.force_model = 0;
    p.no_model = 1;
    ok = ok && ozip_compress(d + 9000, 12000, &bb, &bn, &p) == OZIP_OK; /* classic */
    ok = ok && ozip_compress(d, 0, &e, &en, &p) == OZIP_OK;             /* empty */
    params(&p, 0);
    ok = ok && ozip_get_info(a, an, &ia, &p) == OZIP_OK && ozip_get_info(bb, bn, &ib, &p) == OZIP_OK &&
         ozip_get_info(e, en, &ie, &p) == OZIP_OK && ia.model_streams > 0 && ia.model_bytes > 0 && !ib.has_model;
    if (!ok) {
        t_result(0, "frames: compress the parts", "%s", errbuf);
        goto out;
    }
    /* c = A B E A; expect = d[0, 9000) d[9000, 21000) d[0, 9000) */
    cn = 2 * an + bn + en;
    c = malloc(cn);
    out = malloc(30000);
    x = malloc(cn + 8);
    memcpy(c, a, an);
    memcpy(c + an, bb, bn);
    memcpy(c + an + bn, e, en);
    memcpy(c + an + bn + en, a, an);
    memcpy(out, d, 21000);
    memcpy(out + 21000, d, 9000);
    memcpy(out0, out, 30000);
    ok = ozip_decompress(c, cn, &u, &un, &p) == OZIP_OK && un == 30000 && !memcmp(u, out, un);
    t_result(ok, "four frames (model, classic, empty, model) decode to their contents in order", "%s", errbuf);
    ozip_free(u);
    if (strstr(ozip_backends(), "emu")) {
        ozip_report r1, r2;
        memset(&r1, 0, sizeof r1);
        memset(&r2, 0x55, sizeof r2); /* whatever a caller left there */
        p.device = "emu";
        p.report = &r1;
        ok = ozip_decompress(a, an, &u, &un, &p) == OZIP_OK;
        ozip_free(u);
        p.report = &r2;
        ok = ok && ozip_decompress(c, cn, &u, &un, &p) == OZIP_OK && un == 30000 && !memcmp(u, out, un);
        ozip_free(u);
        p.report = NULL;
        p.device = NULL;
        t_result(ok && r1.device_bytes == 9000 && r2.device_bytes == 2 * r1.device_bytes && r1.device_cycles > 0 &&
                     r2.device_cycles == 2 * r1.device_cycles,
                 "on the emulated card the report adds up the frames' bytes and cycles", "%llu, %llu bytes",
                 (unsigned long long)r1.device_bytes, (unsigned long long)r2.device_bytes);
    } else {
        t_skip("frames on the emulated card", "emu backend not built");
    }
    ok = 1;
    for (i = 0; i < 60 && ok; i++) {
        uint64_t off = t_rand() % 30001, len = t_rand() % (30001 - off);
        static const uint64_t fixed[][2] = {{0, 30000}, {8998, 4}, {20990, 20}, {21000, 0}, {9000, 12000}, {29999, 1}};
        if (i < 6)
            off = fixed[i][0], len = fixed[i][1];
        /* each byte against d (out starts as each byte's complement) */
        {
            uint64_t k;
            for (k = 0; k < len; k++)
                out[k] = (uint8_t)~(off + k < 21000 ? d[off + k] : d[off + k - 21000]);
            ok = ozip_decompress_range(c, cn, off, len, out, &p) == OZIP_OK;
            for (k = 0; k < len && ok; k++)
                ok = out[k] == (off + k < 21000 ? d[off + k] : d[off + k - 21000]);
        }
    }
    t_result(ok, "range decoding across frames returns exactly the requested bytes (60 ranges, across every boundary)",
             "%s", errbuf);
    t_result(ozip_decompress_range(c, cn, 29990, 11, out, &p) == OZIP_ERR_PARAM,
             "a range past the end of the last frame is refused", NULL);
    ok = ozip_get_info(c, cn, &info, &p) == OZIP_OK;
    t_result(ok && info.frames == 4 && info.original_size == 30000 && info.compressed_size == cn &&
                 info.streams == 2 * ia.streams + ib.streams + ie.streams &&
                 info.model_streams == 2 * ia.model_streams && info.model_bytes == 2 * ia.model_bytes &&
                 info.stream_bytes == 2 * ia.stream_bytes + ib.stream_bytes &&
                 info.content_xxh64 == ia.content_xxh64 && info.has_model && info.n_layer == ia.n_layer &&
                 info.model_params == ia.model_params && ia.frames == 1,
             "get_info: the frames counted, sizes and counts added up, the first frame's checksum and model", NULL);
    /* B A: the model is the second frame's */
    memcpy(x, bb, bn);
    memcpy(x + bn, a, an);
    xn = bn + an;
    ok = ozip_get_info(x, xn, &info, &p) == OZIP_OK && info.frames == 2 && info.has_model &&
         info.model_xxh64 == ia.model_xxh64 && info.d_model == ia.d_model && info.content_xxh64 == ib.content_xxh64;
    ok = ok && ozip_extract_model(x, xn, &m1, &m1n, &p) == OZIP_OK && ozip_extract_model(a, an, &m2, &m2n, &p) == OZIP_OK &&
         m1n == m2n && !memcmp(m1, m2, m1n);
    t_result(ok, "a classic frame then a model frame: get_info and extract_model give the model frame's model", "%s",
             errbuf);
    memcpy(x + bn, e, en);
    t_result(ozip_extract_model(x, bn + en, &u, &un, &p) == OZIP_ERR_PARAM,
             "extract_model of frames without a model is refused", NULL);
    /* refusals: what follows a frame is a frame, whole and intact */
    memcpy(x, c, cn);
    memcpy(x + cn, "junk", 4);
    errbuf[0] = 0;
    t_result(ozip_decompress(x, cn + 4, &u, &un, &p) == OZIP_ERR_CORRUPT && strstr(errbuf, "4 bytes of trailing data") &&
                 ozip_get_info(x, cn + 4, &info, &p) == OZIP_ERR_CORRUPT &&
                 ozip_decompress_range(x, cn + 4, 0, 10, out, &p) == OZIP_ERR_CORRUPT &&
                 ozip_extract_model(x, cn + 4, &u, &un, &p) == OZIP_ERR_CORRUPT,
             "bytes after the last frame are refused by every call", "%s", errbuf);
    memcpy(x + cn, a, 5);
    t_result(ozip_decompress(x, cn + 5, &u, &un, &p) == OZIP_ERR_TRUNCATED, "the start of a magic number after the last frame is a truncated frame", "%s", errbuf);
    pos = an + bn + en;
    {
        char want[64];
        snprintf(want, sizeof want, "frame 4 (at byte %zu): ", pos);
        errbuf[0] = 0;
        ok = ozip_decompress(c, cn - 1, &u, &un, &p) == OZIP_ERR_TRUNCATED && !strncmp(errbuf, want, strlen(want));
        t_result(ok, "the last frame cut short: truncated, the frame named", "%s", errbuf);
        c[cn - 3] ^= 0x10; /* in frame 4's last stream */
        errbuf[0] = 0;
        ok = ozip_decompress(c, cn, &u, &un, &p) != OZIP_OK && !strncmp(errbuf, want, strlen(want)) &&
             ozip_decompress_range(c, cn, 29999, 1, out, &p) != OZIP_OK &&
             ozip_decompress_range(c, cn, 0, 21000, out, &p) == OZIP_OK;
        c[cn - 3] ^= 0x10;
        t_result(ok, "a damaged stream in frame 4: an error naming the frame; ranges before it still decode", "%s",
                 errbuf);
    }
    test_stream(c, cn, out0, 30000, &p);
    free(c);
    free(x);
    free(out);
out:
    ozip_free(a);
    ozip_free(bb);
    ozip_free(e);
    ozip_free(m1);
    ozip_free(m2);
}

/* ozip_compress_to's writer for the tests: the frames appended, their count,
 * and a failure at the `fail_at`th call (0: never) */
typedef struct f_out {
    s_out o;
    int calls, fail_at;
} f_out;

static int f_write(void *user, const void *data, size_t n)
{
    f_out *w = (f_out *)user;
    if (++w->calls == w->fail_at)
        return ENOSPC;
    return s_write(&w->o, data, n);
}

/* interrupts at the first progress report after the first frame was
 * written, i.e. in the second frame */
static int f_progress(void *user, const ozip_progress *pr)
{
    (void)pr;
    return ((f_out *)user)->calls >= 1;
}

/* Input above params.frame_size: a frame per frame_size bytes, each with its
 * own model; the same bytes from ozip_compress, ozip_compress_to (one write
 * per frame) and ozip_compress_stream (read in random pieces) as from the
 * pieces compressed one by one; the report adds up; errors name the frame */
static void test_compress_frames(const uint8_t *d, size_t n)
{
    enum { FS = 9000 };
    ozip_params p;
    ozip_report r;
    void *c = NULL, *u = NULL, *one = NULL;
    size_t cn = 0, un = 0, on = 0, at, nf = 0;
    s_out cat;
    f_out w;
    s_in rd;
    int ok = 1;
    if (n < 3 * FS + 100) {
        t_skip("frames when compressing", "the sample is under 27100 bytes");
        return;
    }
    n = 3 * FS + 100; /* three whole frames and a short one */
    memset(&cat, 0, sizeof cat);
    params(&p, 1);
    for (at = 0; at < n && ok; at += FS, nf++) { /* the pieces one by one */
        size_t k = n - at < FS ? n - at : FS;
        ok = ozip_compress(d + at, k, &one, &on, &p) == OZIP_OK && s_write(&cat, one, on) == 0;
        ozip_free(one);
        one = NULL;
    }
    /* by default the first frame's model codes the later ones: the same
     * bytes as frame 1 alone, then each later piece with --model = its model */
    p.frame_size = FS;
    {
        void *m = NULL, *first = NULL, *lent = NULL;
        size_t mn = 0, fn = 0, ln = 0;
        s_out exp;
        memset(&exp, 0, sizeof exp);
        ok = ozip_compress(d, n, &lent, &ln, &p) == OZIP_OK;
        params(&p, 1);
        ok = ok && ozip_compress(d, FS, &first, &fn, &p) == OZIP_OK && s_write(&exp, first, fn) == 0 &&
             ozip_extract_model(first, fn, &m, &mn, &p) == OZIP_OK;
        p.model = m;
        p.model_size = mn;
        for (at = FS; at < n && ok; at += FS) {
            size_t k = n - at < FS ? n - at : FS;
            ok = ozip_compress(d + at, k, &one, &on, &p) == OZIP_OK && s_write(&exp, one, on) == 0;
            ozip_free(one);
            one = NULL;
        }
        t_result(ok && ln == exp.n && !memcmp(lent, exp.b, ln),
                 "compress with frame_size 9000: the first frame trains, its model codes the three after it "
                 "(the same bytes as each piece given that model)", "%s", errbuf);
        ok = ozip_decompress(lent, ln, &u, &un, NULL) == OZIP_OK && un == n && !memcmp(u, d, n);
        t_result(ok, "those frames decode to the input", NULL);
        ozip_free(u);
        ozip_free(m);
        ozip_free(first);
        ozip_free(lent);
        free(exp.b);
        params(&p, 1);
        p.frame_size = FS;
    }
    p.train_each_frame = 1;
    p.report = &r;
    memset(&r, 0, sizeof r);
    ok = ozip_compress(d, n, &c, &cn, &p) == OZIP_OK;
    p.report = NULL;
    t_result(ok && cn == cat.n && !memcmp(c, cat.b, cn), "train_each_frame: four frames, the same bytes as the pieces compressed one by one", "%s", errbuf);
    t_result(r.frames == 4 && r.original_size == n && r.compressed_size == cn && r.streams >= 4 && r.model_streams > 0 &&
                 r.header_bytes + r.model_bytes + r.stream_bytes == cn,
             "the report adds up the frames (4 frames, sizes, streams)", "%u frames, %llu bytes", r.frames,
             (unsigned long long)r.compressed_size);
    ok = ozip_decompress(c, cn, &u, &un, &p) == OZIP_OK && un == n && !memcmp(u, d, n);
    t_result(ok, "the frames decode to the input", "%s", errbuf);
    ozip_free(u);
    memset(&w, 0, sizeof w);
    ok = ozip_compress_to(d, n, f_write, &w, &p) == OZIP_OK && w.calls == 4 && w.o.n == cn && !memcmp(w.o.b, c, cn);
    t_result(ok, "compress_to: one write per frame, the same bytes", "%d writes; %s", w.calls, errbuf);
    free(w.o.b);
    memset(&w, 0, sizeof w);
    rd = (s_in){d, n, 0, 0};
    ok = ozip_compress_stream(s_read, &rd, f_write, &w, &p) == OZIP_OK && w.calls == 4 && w.o.n == cn &&
         !memcmp(w.o.b, c, cn);
    t_result(ok, "compress_stream, random reads of 1 to 7 bytes (and some large): the same bytes", "%s", errbuf);
    free(w.o.b);
    memset(&w, 0, sizeof w);
    rd = (s_in){d, 2 * FS, 0, 0};
    ok = ozip_compress_stream(s_read, &rd, f_write, &w, &p) == OZIP_OK && w.calls == 2;
    t_result(ok, "compress_stream of exactly two frames' bytes: two frames, no empty third", "%d writes", w.calls);
    free(w.o.b);
    memset(&w, 0, sizeof w);
    rd = (s_in){d, 0, 0, 0};
    ok = ozip_compress_stream(s_read, &rd, f_write, &w, &p) == OZIP_OK && w.calls == 1 &&
         ozip_decompress(w.o.b, w.o.n, &u, &un, &p) == OZIP_OK && un == 0;
    ozip_free(u);
    t_result(ok, "compress_stream of nothing: one empty frame", "%d writes", w.calls);
    free(w.o.b);
    /* errors: a writer that fails at the third frame; a read error; an interrupt in the second frame */
    memset(&w, 0, sizeof w);
    w.fail_at = 3;
    ok = ozip_compress_to(d, n, f_write, &w, &p) == OZIP_ERR_IO && w.o.n > 0 && !memcmp(w.o.b, c, w.o.n) &&
         w.calls == 3;
    t_result(ok, "compress_to: a writer failing at the third frame stops it there, the two before written", "%s", errbuf);
    free(w.o.b);
    memset(&w, 0, sizeof w);
    rd = (s_in){d, n, 0, FS + 10};
    ok = ozip_compress_stream(s_read, &rd, f_write, &w, &p) == OZIP_ERR_IO;
    t_result(ok, "compress_stream: a reader that fails gives an I/O error", "%s", errbuf);
    free(w.o.b);
    {
        f_seen fs1, fs2;
        memset(&fs1, 0, sizeof fs1);
        memset(&fs2, 0, sizeof fs2);
        p.progress = f_seen_cb;
        p.progress_user = &fs1;
        ok = ozip_compress(d, n, &u, &un, &p) == OZIP_OK;
        ozip_free(u);
        p.progress_user = &fs2;
        ok = ok && ozip_compress(d, FS, &u, &un, &p) == OZIP_OK;
        ozip_free(u);
        p.progress = NULL;
        t_result(ok && fs1.bits == 0x1e && !fs1.backwards && fs2.bits == 0x1,
                 "progress reports name frames 1 to 4 in order, and no frame for input of one frame",
                 "frames seen %#x and %#x", fs1.bits, fs2.bits);
    }
    memset(&w, 0, sizeof w);
    p.progress = f_progress;
    p.progress_user = &w;
    errbuf[0] = 0;
    ok = ozip_compress_to(d, n, f_write, &w, &p) == OZIP_ERR_INTERRUPTED && w.calls == 1 &&
         !strncmp(errbuf, "frame 2 (input byte 9000): ", 27);
    t_result(ok, "an interrupt in the second frame: the first written, the error names frame 2 and its input byte", "%d writes; %s", w.calls, errbuf);
    p.progress = NULL;
    free(w.o.b);
    {
        char in[96], oz[96];
        FILE *f;
        uint8_t *o;
        size_t fn = 0;
        snprintf(in, sizeof in, "/tmp/ozip-frames-%d.in", (int)getpid());
        snprintf(oz, sizeof oz, "/tmp/ozip-frames-%d.oz", (int)getpid());
        f = fopen(in, "wb");
        ok = f && fwrite(d, 1, n, f) == n;
        if (f)
            fclose(f);
        ok = ok && ozip_compress_file(in, oz, &p) == OZIP_OK;
        o = t_read_file(oz, &fn);
        t_result(ok && o && fn == cn && !memcmp(o, c, cn), "compress_file with frame_size: the same frames", "%s", errbuf);
        free(o);
        unlink(in);
        unlink(oz);
    }
    free(cat.b);
    ozip_free(c);
}

/* --force-model with a shape: the classic methods' whole-input run (whose
 * result a forced model never uses) is skipped; without it, it runs */
static void test_forced_skips_classic(const uint8_t *d, size_t n)
{
    ozip_params p;
    ozip_report r1, r2;
    int ok;
    params(&p, 1);
    p.report = &r1;
    ok = roundtrip(d, n, &p, NULL, &r1);
    params(&p, 0);
    p.report = &r2;
    ok = ok && roundtrip(d, n, &p, NULL, &r2);
    t_result(ok && r1.xz_size == 0 && r1.zstd_size == 0 && r2.xz_size > 0 && r2.zstd_size > 0,
             "--force-model skips the whole-input classic run (no xz or zstd size in its report); the default runs it",
             "forced %llu, default %llu", (unsigned long long)r1.xz_size, (unsigned long long)r2.xz_size);
}

/* Files written from several threads at once (a library user's pool):
 * each output its own temporary file, each round trip exact */
typedef struct file_job {
    const uint8_t *d;
    size_t n;
    int id, ok;
} file_job;

static void *file_job_run(void *arg)
{
    file_job *j = (file_job *)arg;
    char in[96], oz[96], out[96];
    ozip_params p;
    int r;
    j->ok = 1;
    for (r = 0; r < 6 && j->ok; r++) {
        FILE *f;
        size_t on = 0, len = j->n - (size_t)(j->id * 997 + r * 131) % 4000;
        uint8_t *o;
        snprintf(in, sizeof in, "/tmp/ozip-thr-%d-%d.in", (int)getpid(), j->id);
        snprintf(oz, sizeof oz, "/tmp/ozip-thr-%d-%d.oz", (int)getpid(), j->id);
        snprintf(out, sizeof out, "/tmp/ozip-thr-%d-%d.out", (int)getpid(), j->id);
        f = fopen(in, "wb");
        fwrite(j->d, 1, len, f);
        fclose(f);
        ozip_params_init(&p);
        p.no_model = 1;
        p.threads = 1;
        p.level = 1;
        j->ok = ozip_compress_file(in, oz, &p) == OZIP_OK && ozip_decompress_file(oz, out, &p) == OZIP_OK;
        o = t_read_file(out, &on);
        j->ok = j->ok && o && on == len && !memcmp(o, j->d, len);
        free(o);
        unlink(in);
        unlink(oz);
        unlink(out);
    }
    return NULL;
}

static void test_file_threads(const uint8_t *d, size_t n)
{
    pthread_t th[4];
    file_job jobs[4];
    int i, ok = 1;
    for (i = 0; i < 4; i++) {
        jobs[i].d = d;
        jobs[i].n = n;
        jobs[i].id = i;
        pthread_create(&th[i], NULL, file_job_run, &jobs[i]);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok &= jobs[i].ok;
    }
    t_result(ok, "compress_file and decompress_file from 4 threads at once: every round trip exact", NULL);
}

/* ozip_decompress_to's writer for the tests: the pieces appended to buf */
typedef struct pieces {
    uint8_t *buf;
    size_t n, cap, largest;
    int calls, fail_at; /* fail_at > 0: that call returns ENOSPC */
} pieces;

static void pieces_reset(pieces *pc)
{
    pc->n = pc->largest = 0;
    pc->calls = pc->fail_at = 0;
    errbuf[0] = 0;
}

static int pieces_write(void *user, const void *data, size_t n)
{
    pieces *pc = (pieces *)user;
    if (++pc->calls == pc->fail_at)
        return ENOSPC;
    if (pc->n + n > pc->cap)
        return EFBIG;
    memcpy(pc->buf + pc->n, data, n);
    pc->n += n;
    if (n > pc->largest)
        pc->largest = n;
    return 0;
}

/* Decoding in pieces (ozip_decompress_to, decode_buffer): the output in
 * order, no piece above the budget, a stream never split; what fits comes
 * in one write after every check; a failure writes nothing unchecked.
 * d: at least 30000 bytes. */
static void test_pieces(const uint8_t *d, size_t n)
{
    ozip_params p;
    ozip_info info;
    void *a = NULL, *bb = NULL;
    size_t an = 0, bn = 0, cn, hb;
    uint8_t *c, *want;
    pieces pc;
    ozip_status s;
    int ok;
    if (n < 31000) {
        t_skip("decoding in pieces", "the sample is under 31000 bytes");
        return;
    }
    params(&p, 1); /* 4096-byte streams */
    ok = ozip_compress(d, 30000, &a, &an, &p) == OZIP_OK;
    p.force_model = 0;
    p.no_model = 1;
    ok = ok && ozip_compress(d + 1000, 10000, &bb, &bn, &p) == OZIP_OK;
    if (!ok) {
        t_result(0, "pieces: compress", "%s", errbuf);
        goto out;
    }
    cn = an + bn;
    c = malloc(cn);
    memcpy(c, a, an);
    memcpy(c + an, bb, bn);
    want = malloc(40000);
    memcpy(want, d, 30000);
    memcpy(want + 30000, d + 1000, 10000);
    memset(&pc, 0, sizeof pc);
    pieces_reset(&pc);
    pc.cap = 80000;
    pc.buf = malloc(pc.cap);
    params(&p, 0);
    p.decode_buffer = 3 * 4096 + 100; /* three streams a piece */
    s = ozip_decompress_to(c, cn, pieces_write, &pc, &p);
    /* the first frame's 8 streams in 3 + 3 + 2, the second frame's (at most 3) in one */
    t_result(s == OZIP_OK && pc.n == 40000 && !memcmp(pc.buf, want, 40000) && pc.largest == 3 * 4096 && pc.calls == 4,
             "decode_buffer of three streams: two frames in 3 + 1 pieces, in order, none above the budget", "%s; %d calls, largest %zu",
             errbuf, pc.calls, pc.largest);
    pieces_reset(&pc);
    p.decode_buffer = 100; /* below one stream: a stream is never split */
    s = ozip_decompress_to(c, cn, pieces_write, &pc, &p);
    ozip_get_info(bb, bn, &info, &p); /* classic: one stream of 10000 bytes, or 4096-byte ones */
    t_result(s == OZIP_OK && pc.n == 40000 && !memcmp(pc.buf, want, 40000) &&
                 pc.largest == (info.streams == 1 ? 10000 : 4096) && pc.calls == 8 + (int)info.streams,
             "a budget below one stream: one stream a piece", "%d calls, largest %zu", pc.calls, pc.largest);
    pieces_reset(&pc);
    p.decode_buffer = 0; /* the default: it fits */
    s = ozip_decompress_to(c, cn, pieces_write, &pc, &p);
    t_result(s == OZIP_OK && pc.n == 40000 && !memcmp(pc.buf, want, 40000) && pc.calls == 1,
             "content that fits the budget: checked whole, then one write", "%d calls", pc.calls);
    /* a damaged stream in the first frame's second piece (streams 3..5):
     * the first piece written, nothing after it */
    pieces_reset(&pc);
    p.decode_buffer = 3 * 4096;
    ozip_get_info(a, an, &info, &p);
    hb = an - info.stream_bytes - info.model_bytes;
    {
        /* the middle of the 8 streams' payloads (7 of about the same size,
         * then 1328 bytes): in stream 3, the second piece's first */
        size_t at = hb + info.model_bytes + info.stream_bytes / 2 + 3;
        c[at] ^= 0x40;
        s = ozip_decompress_to(c, cn, pieces_write, &pc, &p);
        c[at] ^= 0x40;
    }
    t_result(s != OZIP_OK && pc.n == 3 * 4096 && !memcmp(pc.buf, want, pc.n),
             "a damaged stream: an error, and only checked pieces before it were written", "%s; %zu bytes written", errbuf,
             pc.n);
    /* the content checksum (header checksum recomputed): every stream
     * checks, the frame does not: its last piece is not written */
    pieces_reset(&pc);
    c[24] ^= 1;
    oz_wr32(c + hb - 4, (uint32_t)XXH64(c, hb - 4, 0));
    s = ozip_decompress_to(c, cn, pieces_write, &pc, &p);
    t_result(s == OZIP_ERR_CHECKSUM && pc.n == 6 * 4096 && !memcmp(pc.buf, want, pc.n),
             "a wrong content checksum: OZIP_ERR_CHECKSUM, the frame's last piece not written", "%s; %zu bytes", errbuf,
             pc.n);
    pieces_reset(&pc);
    p.decode_buffer = 0;
    s = ozip_decompress_to(c, cn, pieces_write, &pc, &p);
    t_result(s == OZIP_ERR_CHECKSUM && pc.calls == 0, "the same where it fits: nothing written", "%d calls", pc.calls);
    c[24] ^= 1;
    oz_wr32(c + hb - 4, (uint32_t)XXH64(c, hb - 4, 0));
    /* the writer fails */
    pieces_reset(&pc);
    pc.fail_at = 2;
    p.decode_buffer = 3 * 4096;
    s = ozip_decompress_to(c, cn, pieces_write, &pc, &p);
    t_result(s == OZIP_ERR_IO && pc.calls == 2 && strstr(errbuf, strerror(ENOSPC)),
             "a writer that fails stops the decode with OZIP_ERR_IO and its reason", "%s", errbuf);
    pc.fail_at = 0;
    /* files: the same pieces into a temporary file; a failure leaves nothing */
    {
        char in[64], outp[64];
        FILE *f;
        size_t on = 0;
        uint8_t *o;
        snprintf(in, sizeof in, "/tmp/ozip-pieces-%d.oz", (int)getpid());
        snprintf(outp, sizeof outp, "/tmp/ozip-pieces-%d.out", (int)getpid());
        f = fopen(in, "wb");
        fwrite(c, 1, cn, f);
        fclose(f);
        unlink(outp);
        s = ozip_decompress_file(in, outp, &p);
        o = t_read_file(outp, &on);
        t_result(s == OZIP_OK && o && on == 40000 && !memcmp(o, want, on), "decompress_file in pieces", "%s", errbuf);
        free(o);
        unlink(outp);
        c[cn - 2] ^= 0x10; /* the last frame's stream */
        f = fopen(in, "wb");
        fwrite(c, 1, cn, f);
        fclose(f);
        c[cn - 2] ^= 0x10;
        s = ozip_decompress_file(in, outp, &p);
        t_result(s != OZIP_OK && access(outp, F_OK) != 0, "decompress_file in pieces, failing late: no output left",
                 "%s", errbuf);
        unlink(in);
    }
    free(pc.buf);
    free(c);
    free(want);
out:
    ozip_free(a);
    ozip_free(bb);
}

typedef struct prog_seen {
    int phases[8];
    uint64_t last_done[8];
    int backwards;
} prog_seen;

static int prog_cb(void *user, const ozip_progress *pr)
{
    prog_seen *ps = (prog_seen *)user;
    if (pr->phase > 0 && pr->phase < 8) {
        if (pr->phase != OZIP_PHASE_TRAIN && pr->done < ps->last_done[pr->phase])
            ps->backwards = 1;
        ps->phases[pr->phase]++;
        ps->last_done[pr->phase] = pr->done;
    }
    return 0;
}

static int stop_cb(void *user, const ozip_progress *pr)
{
    (void)user;
    return pr->phase == OZIP_PHASE_TRAIN && pr->done >= 3;
}

/* A wrong model file or model shape is refused before any work: no
 * progress at all (the classic runs report theirs first), even for an empty
 * input. */
static void test_checked_first(const uint8_t *d, size_t n)
{
    static const char not_ozm[64] = "this is not an ozip model file, only text";
    ozip_params p;
    prog_seen ps;
    void *c = NULL;
    size_t cn;
    ozip_status s1, s2, s3;
    int quiet1, quiet2;
    params(&p, 0);
    p.progress = prog_cb;
    p.progress_user = &ps;
    memset(&ps, 0, sizeof ps);
    p.model = not_ozm;
    p.model_size = sizeof not_ozm;
    s1 = ozip_compress(d, n, &c, &cn, &p);
    quiet1 = !ps.phases[OZIP_PHASE_CLASSIC] && !ps.phases[OZIP_PHASE_TRAIN];
    s2 = ozip_compress("", 0, &c, &cn, &p);
    t_result(s1 == OZIP_ERR_PARAM && quiet1 && s2 == OZIP_ERR_PARAM,
             "a file that is not a model is refused before the classic runs, also for an empty input",
             "status %d, %d", s1, s2);
    p.model = NULL;
    p.model_size = 0;
    p.arch = "L=2,D=17";
    memset(&ps, 0, sizeof ps);
    s3 = ozip_compress(d, n, &c, &cn, &p);
    quiet2 = !ps.phases[OZIP_PHASE_CLASSIC] && !ps.phases[OZIP_PHASE_TRAIN];
    t_result(s3 == OZIP_ERR_PARAM && quiet2, "an invalid model shape is refused before the classic runs",
             "status %d", s3);
}

static void test_progress(const uint8_t *d, size_t n)
{
    ozip_params p;
    prog_seen ps;
    void *c, *u;
    size_t cn, un;
    ozip_status s;
    memset(&ps, 0, sizeof ps);
    params(&p, 1);
    p.progress = prog_cb;
    p.progress_user = &ps;
    s = ozip_compress(d, n, &c, &cn, &p);
    s = s == OZIP_OK ? ozip_decompress(c, cn, &u, &un, &p) : s;
    /* forced: no classic phase (test_forced_skips_classic) */
    t_result(s == OZIP_OK && !ps.phases[OZIP_PHASE_CLASSIC] && ps.phases[OZIP_PHASE_TRAIN] &&
                 ps.phases[OZIP_PHASE_ENCODE] && ps.phases[OZIP_PHASE_DECODE] && !ps.backwards &&
                 ps.last_done[OZIP_PHASE_DECODE] == n && ps.last_done[OZIP_PHASE_ENCODE] == n,
             "progress reports training, encoding and decoding, counting up to the size", NULL);
    if (s == OZIP_OK) {
        ozip_free(c);
        ozip_free(u);
    }
    memset(&ps, 0, sizeof ps);
    params(&p, 0);
    p.no_model = 1;
    p.progress = prog_cb;
    p.progress_user = &ps;
    s = ozip_compress(d, n, &c, &cn, &p);
    t_result(s == OZIP_OK && ps.phases[OZIP_PHASE_CLASSIC] && !ps.phases[OZIP_PHASE_TRAIN],
             "progress reports the classic methods' phase", NULL);
    if (s == OZIP_OK)
        ozip_free(c);
    params(&p, 1);
    p.progress = prog_cb;
    p.progress_user = &ps;
    p.progress = stop_cb;
    s = ozip_compress(d, n, &c, &cn, &p);
    t_result(s == OZIP_ERR_INTERRUPTED, "a progress callback can interrupt training", "status %d", s);
    /* training on a sample still codes the whole input */
    params(&p, 1);
    p.train_sample = 8192;
    t_result(roundtrip(d, n, &p, NULL, NULL), "training on a sample of the input round trips", NULL);
}

/* Forged files: a field of the frame header, model descriptor or stream
 * index, or of the model image's header, set to an edge value, and the
 * checksums over it recomputed (as anyone can: XXH64 is no signature), so
 * that the decoder's own checks of each field are what stands between the
 * file and a crash or a wrong output. Every case must give an error or the
 * original bytes. A 16-layer model with its own output head (from the image
 * header of a 1-layer tied one, the image resized to match) had written past
 * the decoder's region table while the model payload was decoded. */
typedef struct forge {
    uint8_t hdr[72 + 12 * 16];
    uint32_t hlen;
    uint8_t *image;
    uint32_t isz;
    const uint8_t *tail; /* the stream payloads */
    size_t tail_n;
} forge;

static uint8_t *t_aligned(size_t n)
{
    void *q = NULL;
    return posix_memalign(&q, 64, n ? n : 64) ? NULL : (uint8_t *)q;
}

static const uint32_t forge_vals[] = {0, 1, 2, 3, 15, 16, 17, 31, 32, 63, 64, 255, 256, 512, 513, 1024, 1025,
                                      4096, 4097, 65535, 65536, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu};
#define NFV (sizeof forge_vals / sizeof forge_vals[0])

/* the file: fix_model rewrites the descriptor for this image (coded with
 * OZW where the image's header allows it, else stored), then the header
 * checksum is recomputed */
static uint8_t *forge_build(const forge *f, int fix_model, size_t *n)
{
    size_t cap = f->hlen + 4 + 2 * (size_t)f->isz + 1024 + f->tail_n;
    uint8_t *out = malloc(cap), *pay = out + f->hlen + 4;
    uint64_t mlen = f->isz;
    int coding = 0;
    memcpy(out, f->hdr, f->hlen);
    if (fix_model) {
        void *scratch = malloc(oz_wcode_scratch_bytes(f->isz));
        coding = oz_wcode_encode(f->image, f->isz, scratch, pay, cap - f->hlen - 4, &mlen) == OZ_CORE_OK;
        free(scratch);
        if (!coding) {
            memcpy(pay, f->image, f->isz);
            mlen = f->isz;
        }
        out[48] = (uint8_t)coding;
        oz_wr32(out + 52, f->isz);
        oz_wr32(out + 56, (uint32_t)mlen);
        oz_wr64(out + 64, XXH64(f->image, f->isz, 0));
    } else {
        memcpy(pay, f->image, f->isz);
        out[48] = 0;
        oz_wr32(out + 56, f->isz);
    }
    oz_wr32(out + f->hlen, (uint32_t)XXH64(out, f->hlen, 0));
    memcpy(pay + mlen, f->tail, f->tail_n);
    *n = f->hlen + 4 + mlen + f->tail_n;
    return out;
}

/* decodes the forged file: 1 the original bytes, 0 an error, -1 a wrong output */
static int forge_try(const forge *f, int fix_model, const uint8_t *d, size_t n, int *statuses)
{
    ozip_params p;
    size_t fn, un = 0;
    uint8_t *file = forge_build(f, fix_model, &fn);
    void *u = NULL;
    ozip_status s;
    int r = 0;
    params(&p, 0);
    s = ozip_decompress(file, fn, &u, &un, &p);
    statuses[s]++;
    if (s == OZIP_OK) {
        r = un == n && !memcmp(u, d, n) ? 1 : -1;
        ozip_free(u);
    }
    free(file);
    return r;
}

static void test_forged(const uint8_t *d, size_t n)
{
    ozip_params p;
    void *c;
    size_t cn, i, j;
    forge f0, f;
    uint32_t mstored;
    int bad = 0, cases = 0, statuses[OZIP_ERR_INTERNAL + 1] = {0};
    char sbuf[200];
    params(&p, 1);
    p.stream_size = 1024;
    if (ozip_compress(d, n, &c, &cn, &p) != OZIP_OK || oz_rd16((uint8_t *)c + 10) != OZ_F_MODEL ||
        oz_rd32((uint8_t *)c + 12) > 16) {
        t_result(0, "forged files: compress a model-coded file of a few streams", "%s", errbuf);
        return;
    }
    memset(&f0, 0, sizeof f0);
    f0.hlen = 72 + 12 * oz_rd32((uint8_t *)c + 12);
    memcpy(f0.hdr, c, f0.hlen);
    f0.isz = oz_rd32(f0.hdr + 52);
    mstored = oz_rd32(f0.hdr + 56);
    f0.image = t_aligned(f0.isz);
    f0.tail = (const uint8_t *)c + f0.hlen + 4 + mstored;
    f0.tail_n = cn - (f0.hlen + 4 + mstored);
    if (f0.hdr[48] != 1 || oz_wcode_decode((uint8_t *)c + f0.hlen + 4, mstored, f0.image, f0.isz) != OZ_CORE_OK) {
        t_result(0, "forged files: the model payload decodes", NULL);
        return;
    }
    /* the unchanged file, rebuilt, decodes (else every refusal below would prove nothing) */
    t_result(forge_try(&f0, 1, d, n, statuses) == 1,
             "forged files: the rebuilt original (model recoded, checksums recomputed) decodes", "%s", errbuf);
    statuses[OZIP_OK] = 0;
    /* 1. each u32 of the frame header, the descriptor and the index; each index entry's method */
    for (i = 12; i < f0.hlen; i += 4)
        for (j = 0; j < NFV; j++) {
            f = f0;
            oz_wr32(f.hdr + i, forge_vals[j]);
            bad += forge_try(&f, 0, d, n, statuses) < 0, cases++;
        }
    for (i = 72; i < f0.hlen; i += 12)
        for (j = 0; j < 8; j++) {
            f = f0;
            f.hdr[i] = (uint8_t)j;
            bad += forge_try(&f, 0, d, n, statuses) < 0, cases++;
        }
    /* 2. each field of the image's header; where the new header is valid,
     * also with the image resized to the size it gives */
    {
        static const unsigned at[] = {4, 6, 8, 10, 12, 14, 16, 18, 19, 20, 24, 60};
        static const uint16_t combos[][6] = {/* L D H F W flags */
                                             {16, 16, 2, 32, 16, 0}, {16, 16, 2, 32, 16, 1}, {1, 16, 16, 32, 16, 1},
                                             {1, 16, 1, 16, 512, 1}, {2, 256, 1, 16, 1, 0}};
        for (i = 0; i < sizeof at / sizeof at[0] + sizeof combos / sizeof combos[0]; i++)
            for (j = 0; j < (i < sizeof at / sizeof at[0] ? NFV : 1); j++) {
                oz_config cfg;
                uint8_t *img = t_aligned(f0.isz);
                memcpy(img, f0.image, f0.isz);
                if (i < sizeof at / sizeof at[0]) {
                    if (at[i] == 18 || at[i] == 19)
                        img[at[i]] = (uint8_t)forge_vals[j];
                    else if (at[i] == 20)
                        oz_wr32(img + 20, forge_vals[j]);
                    else
                        oz_wr16(img + at[i], (uint16_t)forge_vals[j]);
                } else {
                    const uint16_t *k = combos[i - sizeof at / sizeof at[0]];
                    oz_wr16(img + 8, k[0]), oz_wr16(img + 10, k[1]), oz_wr16(img + 12, k[2]);
                    oz_wr16(img + 14, k[3]), oz_wr16(img + 16, k[4]), img[19] = (uint8_t)k[5];
                }
                f = f0;
                f.image = img;
                bad += forge_try(&f, 1, d, n, statuses) < 0, cases++;
                if (oz_image_read_header(img, 64, &cfg) == OZ_CORE_ETRUNC) {
                    /* a valid header for a larger image: the tensors past the
                     * old image random, the size field fixed */
                    uint32_t want = oz_image_size(&cfg), b;
                    uint8_t *big = t_aligned(want);
                    for (b = 0; b < want; b++)
                        big[b] = b < f0.isz ? img[b] : (uint8_t)t_rand();
                    oz_wr32(big + 20, want);
                    f.image = big, f.isz = want;
                    bad += forge_try(&f, 1, d, n, statuses) < 0, cases++;
                    free(big);
                }
                free(img);
            }
    }
    snprintf(sbuf, sizeof sbuf, "%d cases gave a wrong output or crashed; statuses: %d ok, %d corrupt, %d version, "
             "%d checksum, %d truncated, %d no memory", bad, statuses[OZIP_OK], statuses[OZIP_ERR_CORRUPT],
             statuses[OZIP_ERR_VERSION], statuses[OZIP_ERR_CHECKSUM], statuses[OZIP_ERR_TRUNCATED],
             statuses[OZIP_ERR_NOMEM]);
    t_result(bad == 0 && cases > 1000, "forged header, descriptor, index and model-header fields (checksums "
             "recomputed): an error or the original bytes, never a wrong output", "%s", sbuf);
    printf("#   %d forged files: %s\n", cases, sbuf);
    free(f0.image);
    ozip_free(c);
}

int main(void)
{
    const char *dir = t_corpus();
    char path[512];
    size_t n = 0;
    uint8_t *d = NULL;
    test_api_basics();
    test_edge_cases();
    if (dir) {
        snprintf(path, sizeof path, "%s/log-Linux_2k.log", dir);
        d = t_read_file(path, &n);
    }
    if (!d)
        d = t_read_file("data/taxi-yellow_tripdata_2015-01.csv", &n);
    if (!d) {
        t_skip("real-data API tests", "no ../shared/corpus and no data/ folder");
        return t_done();
    }
    if (n > 60000)
        n = 60000;
    test_guarantee(d, n, "real text");
    {
        /* a table, where bzip2 usually wins among the classic methods */
        size_t tn = 0;
        uint8_t *tab = t_read_file("data/taxi-yellow_tripdata_2015-01.csv", &tn);
        if (tab) {
            test_guarantee(tab, tn < 100000 ? tn : 100000, "taxi CSV");
            free(tab);
        }
    }
    test_range(d, 20000);
    test_progress(d, 20000);
    test_checked_first(d, 20000);
    test_external_model(d, 30000);
    test_corruption(d, 12000);
    test_frames(d, n);
    test_pieces(d, n);
    test_compress_frames(d, n);
    test_forced_skips_classic(d, 8000);
    test_file_threads(d, 20000);
    test_forged(d, 5000);
    free(d);
    return t_done();
}
