/* fuzz.c - randomised checks of two of the product's rules, run longer than
 * the unit tests can afford: `make fuzz` (the library built with UBSan, ASan
 * and LeakSanitizer, ten minutes by default); `make test` runs a short
 * fixed-seed pass of it.
 *
 * forge (rule 3: nothing lost, nothing silent). .oz files forged from valid
 * ones: random bytes and fields of the header, descriptor and index, of the
 * model image (a region picked first, so that the small ones, scales,
 * slopes and activation tables, are hit as often as the weights; its header
 * too, the image resized to match), of the model payload and the stream
 * payloads; index sizes moved between streams; cuts and trailing bytes;
 * one in six of those files put among intact copies of its base (2 or 3
 * frames back to back, the content expected the base's that many times).
 * Also model files (.ozm) forged the same ways: ozip_check_model and
 * ozip_compress must agree on whether one is usable, and a file compressed
 * with a usable one must decode to its input on every engine.
 * Where a change would only be caught by a checksum over it, the checksum
 * is mostly recomputed, as anyone can (XXH64 is no signature), so that the
 * decoder's own checks are what is tested. Each file, in a buffer of its
 * exact size, is decoded by every engine this machine has (ref, scalar,
 * avx2, avx512) and by the emulated card (one in sixteen also by the card
 * through OpenCL, where a platform builds the kernel), and read by ozip_get_info,
 * ozip_decompress_range, ozip_decompress_stream (read in random pieces),
 * ozip_decompress_to (a budget of a few streams or
 * below the content's size: an error may come after pieces were written,
 * but only pieces of the original bytes)
 * and ozip_extract_model; one in eight also by
 * ozip_decompress_file. Every call must give an error with a message, not
 * OZIP_ERR_INTERNAL, or exactly the original bytes; the engines must agree
 * on which (one failing where another succeeds would be a bit-exactness
 * bug; the card may refuse a model beyond its limits); a failed file call
 * leaves no output and no temporary file.
 *
 * shapes (rule 2: bit-exact everywhere). Random valid model shapes (every
 * other one within the card's limits) with random weights (sensible, saturating
 * or vanishing scales; gentle to steep ALiBi slopes) and random stream
 * sizes: every engine encodes the same bytes, and every engine and the card,
 * emulated and through OpenCL, decode them to the original (the card may
 * refuse a shape beyond its limits, with its message).
 *
 * The bases (one per 48 forged cases) are random models from the seed, and
 * first a small model trained on the data (the same on one machine with the
 * same threads). Case c of seed s is made from (s, c) alone: `--seed s
 * --case c` (or --shape-case c) replays it. A failing case's file is written
 * to --out; so is the file being decoded when the process dies (from ASan's
 * death callback, or a signal handler without ASan).
 *
 * fuzz [--seed N] [--cases N] [--shapes N] [--seconds S]
 *      [--case C | --shape-case C] [--out DIR] [--data FILE]
 * --seconds without --cases: forged files for 80% of the time, shapes for
 * the rest. Defaults: seed 1, 300 cases, 4 shapes, out fuzz-out (removed
 * when nothing failed), data ../shared/corpus/log-Linux_2k.log or the taxi
 * demo file (the first 64 KiB).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "../core/oz_bytes.h"
#include "../core/oz_codec.h"
#include "../core/oz_format.h"
#include "../hls/lmdec_host.h"
#include "../host/fast/ozf.h"
#include "../include/ozip.h"
#include "harness.h"
#include "rand_model.h"

#define ROUND 48 /* forge cases per base file */

static const char *out_dir = "fuzz-out";
static uint64_t seed = 1;

/* ------------------------------------------------------------ randomness */

static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* t_rand (which random_image draws from) seeded from (seed, what, i) */
static void reseed(uint64_t what, uint64_t i)
{
    t_rng = mix64(seed ^ mix64(what * 0x100000001B3ull + i)) | 1;
}

static uint32_t rnd(uint32_t n) /* 0 .. n - 1 */
{
    return n ? (uint32_t)(t_rand() % n) : 0;
}

static const uint32_t edge[] = {0, 1, 2, 3, 4, 15, 16, 17, 31, 32, 63, 64, 255, 256, 257, 511, 512, 513,
                                1023, 1024, 1025, 4095, 4096, 4097, 65535, 65536, 0x7FFFFFFFu, 0x80000000u,
                                0xFFFFFFFFu};
#define NEDGE (sizeof edge / sizeof edge[0])

static uint32_t some_u32(void)
{
    switch (rnd(4)) {
    case 0:
        return (uint32_t)t_rand();
    case 1:
        return 0u - edge[rnd(NEDGE)];
    default:
        return edge[rnd(NEDGE)];
    }
}

/* ------------------------------------------------------- crash reporting */

/* the file being decoded, written out if the process dies */
static const uint8_t *cur_file;
static size_t cur_n;
static char cur_path[600];

static void save_current(void)
{
    int fd;
    if (!cur_file || !cur_path[0])
        return;
    fd = open(cur_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        const uint8_t *p = cur_file;
        size_t left = cur_n;
        while (left) {
            ssize_t w = write(fd, p, left);
            if (w <= 0)
                break;
            p += w, left -= (size_t)w;
        }
        close(fd);
    }
    if (write(2, "fuzz: died; the file being decoded is ", 38) > 0 && write(2, cur_path, strlen(cur_path)) > 0)
        (void)!write(2, "\n", 1);
}

/* ASan's, when the program is built with it */
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

/* LeakSanitizer reads this at exit: the OpenCL platform's own allocations
 * (PoCL and the LLVM it compiles the kernel with, on a kernel-cache miss)
 * are not ozip's to free */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libpocl\nleak:libLLVM\n";
}

static void on_signal(int sig)
{
    save_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void catch_deaths(void)
{
    if (__sanitizer_set_death_callback) {
        __sanitizer_set_death_callback(save_current);
    } else {
        static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
        unsigned i;
        for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            signal(sigs[i], on_signal);
    }
}

static void write_file(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n)
        fprintf(stderr, "fuzz: cannot write %s\n", path);
    if (f)
        fclose(f);
}

/* ---------------------------------------------------------------- engines */

/* the CPU engines, then the card: emulated (the kernel compiled as C) and
 * through OpenCL (the kernel compiled as OpenCL C by the platform, PoCL on a
 * CPU; slow to start, so only some forged cases use it) */
enum { E_REF, E_SCALAR, E_AVX2, E_AVX512, E_EMU, E_OCL, NENG };
static const char *eng_name[NENG] = {"ref", "scalar", "avx2", "avx512", "emu", "opencl"};
static long eng_calls[NENG], eng_ok[NENG]; /* decodes, and those that gave the bytes */
#define CARD(e) ((e) >= E_EMU)
static int eng_on[NENG];

static void params(ozip_params *p, char *eb, size_t ebn)
{
    ozip_params_init(p);
    p->threads = 2;
    p->errbuf = eb;
    p->errbuf_size = ebn;
    eb[0] = 0;
}

/* the card's refusal of a model beyond its kernel's limits (not a failure) */
static int card_refused(int e, ozip_status s, const char *eb)
{
    return CARD(e) && s == OZIP_ERR_DEVICE && strstr(eb, "exceeds") != NULL;
}

static void use_engine(int e, ozip_params *p)
{
    if (CARD(e)) {
        unsetenv("OZIP_FORCE_ISA");
        p->device = eng_name[e];
    } else {
        setenv("OZIP_FORCE_ISA", eng_name[e], 1);
        p->device = "cpu";
    }
}

/* ------------------------------------------------------------ the bases */

/* a valid file taken apart: header + descriptor + index (no checksum), the
 * decoded model image, the model payload as stored, the stream payloads */
typedef struct parts {
    uint8_t *hdr;
    uint32_t hlen, count;
    uint8_t *image, *mpay;
    uint32_t isz, mlen;
    uint8_t *tail;
    size_t tail_n;
} parts;

typedef struct base {
    uint8_t *file;
    size_t n;
    const uint8_t *orig;
    size_t orig_n;
    uint8_t *ozm; /* the model file, when the frame references it */
    size_t ozm_n;
    parts p;
    char what[160];
} base;

static int take_apart(const uint8_t *b, size_t n, parts *o)
{
    uint32_t flags = oz_rd16(b + 10), off = 48;
    memset(o, 0, sizeof *o);
    o->count = oz_rd32(b + 12);
    if (flags & OZ_F_MODEL) {
        o->isz = oz_rd32(b + 52);
        o->mlen = oz_rd32(b + 56);
        off += 24;
    }
    off += 12 * o->count;
    o->hlen = off;
    o->hdr = malloc(off);
    memcpy(o->hdr, b, off);
    off += 4;
    if (o->mlen) {
        o->mpay = malloc(o->mlen);
        memcpy(o->mpay, b + off, o->mlen);
        if (posix_memalign((void **)&o->image, 64, (o->isz + 63) / 64 * 64))
            return -1;
        if (b[48] == 1 ? oz_wcode_decode(b + off, o->mlen, o->image, o->isz) != OZ_CORE_OK
                       : (memcpy(o->image, b + off, o->isz), 0))
            return -1;
        off += o->mlen;
    }
    o->tail_n = n - off;
    o->tail = malloc(o->tail_n + 1);
    memcpy(o->tail, b + off, o->tail_n);
    return 0;
}

static void parts_free(parts *o)
{
    free(o->hdr);
    free(o->image);
    free(o->mpay);
    free(o->tail);
    memset(o, 0, sizeof *o);
}

/* image[size] into out (cap bytes) coded with OZW, or stored raw where OZW
 * does not fit or ozw is 0; returns the coding (1 OZW, 0 raw), *stored the
 * bytes written */
static int code_image(const uint8_t *image, uint32_t size, int ozw, uint8_t *out, size_t cap, uint64_t *stored)
{
    int coding = 0;
    if (ozw) {
        void *scratch = malloc(oz_wcode_scratch_bytes(size));
        coding = oz_wcode_encode(image, size, scratch, out, cap, stored) == OZ_CORE_OK;
        free(scratch);
    }
    if (!coding) {
        memcpy(out, image, size);
        *stored = size;
    }
    return coding;
}

/* The file from its parts. model: 0 the stored model payload as is, 1 the
 * image recoded with OZW (raw where OZW does not fit), 2 stored raw; the
 * descriptor's sizes and hash are rewritten for 1 and 2 when fix_model.
 * fix_hdr: recompute the header checksum, else write old_sum. */
static uint8_t *put_together(const parts *o, int model, int fix_model, int fix_hdr, uint32_t old_sum, size_t *n)
{
    size_t cap = o->hlen + 4 + 2 * (size_t)o->isz + o->mlen + 1024 + o->tail_n;
    uint8_t *out = malloc(cap), *pay = out + o->hlen + 4;
    uint64_t mlen = 0;
    memcpy(out, o->hdr, o->hlen);
    if (o->mlen && model == 0) {
        memcpy(pay, o->mpay, o->mlen);
        mlen = o->mlen;
    } else if (o->mlen) {
        int coding = code_image(o->image, o->isz, model == 1, pay, cap - o->hlen - 4, &mlen);
        if (fix_model) {
            out[48] = (uint8_t)coding;
            oz_wr32(out + 52, o->isz);
            oz_wr32(out + 56, (uint32_t)mlen);
            oz_wr64(out + 64, XXH64(o->image, o->isz, 0));
        }
    }
    oz_wr32(out + o->hlen, fix_hdr ? (uint32_t)XXH64(out, o->hlen, 0) : old_sum);
    memcpy(pay + mlen, o->tail, o->tail_n);
    *n = o->hlen + 4 + mlen + o->tail_n;
    return out;
}

static uint8_t *data;
static size_t data_n;

/* an .ozm file holding image, coded with OZW (where it fits) or stored raw */
static uint8_t *make_ozm_coded(const uint8_t *img, uint32_t size, int ozw, size_t *n)
{
    size_t cap = 36 + 2 * (size_t)size + 1024;
    uint8_t *m = calloc(1, cap);
    uint64_t stored = 0;
    memcpy(m, "\x89OZM\r\n\x1a\n", 8);
    m[8] = 1;
    m[12] = (uint8_t)code_image(img, size, ozw, m + 36, cap - 36, &stored);
    oz_wr32(m + 16, size);
    oz_wr32(m + 20, (uint32_t)stored);
    oz_wr64(m + 28, XXH64(img, size, 0));
    *n = 36 + (size_t)stored;
    return m;
}

static uint8_t *make_ozm(const uint8_t *img, uint32_t size, size_t *n)
{
    return make_ozm_coded(img, size, 0, n);
}

static void random_shape(oz_config *c, uint32_t max_d, uint32_t max_l, uint32_t max_f)
{
    do {
        c->n_layer = 1 + rnd(max_l);
        c->d_model = 16 * (1 + rnd(max_d / 16));
        c->n_head = 1 + rnd(16);
        c->d_ff = 16 * (1 + rnd(max_f / 16));
        c->ctx = rnd(3) ? 1 + rnd(rnd(2) ? 64 : 512) : edge[rnd(NEDGE)] % 513;
        c->wbits = 2 + rnd(7);
        c->flags = rnd(2) ? OZ_CFG_TIED : 0;
    } while (oz_config_check(c) != 0);
}

static const double gains[] = {1.0, 1.0, 1e6, 1e-4};
static const int32_t slopes[] = {200, 200, 1, 20000};

/* Base k: 0 a small model trained on the data; else a random small model
 * (one in four referenced as an external model file, one in eight
 * classic-coded streams only) over a random slice, in streams of a random
 * size. 0 on failure (message printed). */
static int make_base(uint32_t k, base *b)
{
    ozip_params p;
    char eb[512];
    void *c = NULL;
    size_t cn = 0;
    uint8_t *img = NULL;
    uint32_t isz = 0;
    oz_config cfg;
    int kind;
    memset(b, 0, sizeof *b);
    reseed(1, k);
    params(&p, eb, sizeof eb);
    p.force_model = 1;
    if (k == 0) {
        b->orig_n = data_n < 6000 ? data_n : 6000;
        b->orig = data;
        p.level = 1;
        p.epochs = 1;
        p.arch = "L=1,D=16,H=2,F=32,W=16";
        p.stream_size = 1024;
        kind = 0;
        snprintf(b->what, sizeof b->what, "trained L1 D16 H2 F32 W16, %zu bytes in streams of 1024", b->orig_n);
    } else {
        size_t at;
        kind = rnd(8) == 0 ? 2 : rnd(4) == 0 ? 1 : 0;
        b->orig_n = 1 + rnd(rnd(4) ? 4000 : 16000);
        if (b->orig_n > data_n)
            b->orig_n = data_n;
        at = rnd((uint32_t)(data_n - b->orig_n + 1));
        b->orig = data + at;
        p.stream_size = rnd(8) ? 64 + rnd(4096) : 1 + rnd(64); /* a few bases with hundreds of streams */
        if (kind == 2) {
            p.force_model = 0;
            p.no_model = 1;
            snprintf(b->what, sizeof b->what, "classic, %zu bytes at %zu in streams of %u", b->orig_n, at,
                     p.stream_size);
        } else {
            int g = (int)rnd(4);
            random_shape(&cfg, 64, 2, 96);
            rand_slope_max = slopes[g];
            img = random_image(&cfg, gains[g], &isz);
            b->ozm = make_ozm(img, isz, &b->ozm_n);
            p.model = b->ozm;
            p.model_size = b->ozm_n;
            p.model_external = kind == 1;
            snprintf(b->what, sizeof b->what, "random L%u D%u H%u F%u W%u %s (scale %g)%s, %zu bytes at %zu in "
                     "streams of %u", cfg.n_layer, cfg.d_model, cfg.n_head, cfg.d_ff, cfg.ctx,
                     cfg.flags & OZ_CFG_TIED ? "tied" : "untied", gains[g], kind == 1 ? ", external" : "",
                     b->orig_n, at, p.stream_size);
            free(img);
        }
    }
    unsetenv("OZIP_FORCE_ISA");
    if (ozip_compress(b->orig, b->orig_n, &c, &cn, &p) != OZIP_OK) {
        t_result(0, "fuzz: make a base file", "%s: %s", b->what, eb);
        return 0;
    }
    if (kind != 1) {
        free(b->ozm);
        b->ozm = NULL;
    }
    b->file = c;
    b->n = cn;
    if (take_apart(b->file, b->n, &b->p) != 0) {
        t_result(0, "fuzz: take a base file apart", "%s", b->what);
        return 0;
    }
    return 1;
}

static void base_free(base *b)
{
    ozip_free(b->file);
    free(b->ozm);
    parts_free(&b->p);
}

/* ----------------------------------------------------------- the checks */

static long n_calls, n_ok, n_err, n_fail, n_cases, status_count[OZIP_ERR_INTERNAL + 1];
static char fail_first[400];

static void fail(const char *label, uint64_t cs, const uint8_t *f, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void fail(const char *label, uint64_t cs, const uint8_t *f, size_t n, const char *fmt, ...)
{
    char msg[300], path[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(path, sizeof path, "%s/fail-%llu-%s-%llu.%s", out_dir, (unsigned long long)seed, label,
             (unsigned long long)cs, n >= 4 && !memcmp(f, "\x89OZM", 4) ? "ozm" : "oz");
    mkdir(out_dir, 0755);
    write_file(path, f, n);
    printf("# FAILED %s case %llu (seed %llu): %s; file %s; replay: --seed %llu --%scase %llu\n", label,
           (unsigned long long)cs, (unsigned long long)seed, msg, path, (unsigned long long)seed,
           label[0] == 's' ? "shape-" : "", (unsigned long long)cs);
    if (!n_fail)
        snprintf(fail_first, sizeof fail_first, "case %llu: %s", (unsigned long long)cs, msg);
    n_fail++;
}

/* a call's status: OK with the right bytes, or an error with a message */
static int check_status(ozip_status s, const char *eb, const char *call, uint64_t cs, const uint8_t *f, size_t n)
{
    n_calls++;
    if ((unsigned)s > OZIP_ERR_INTERNAL) {
        fail("forge", cs, f, n, "%s returned %d, not a status", call, (int)s);
        return 0;
    }
    status_count[s]++;
    if (s == OZIP_OK) {
        n_ok++;
        return 1;
    }
    n_err++;
    if (s == OZIP_ERR_INTERNAL || !eb[0])
        fail("forge", cs, f, n, "%s: status %d%s%s", call, (int)s, eb[0] ? ", " : " without a message", eb);
    return 0;
}

/* no file in out_dir starting with prefix */
static int no_leftovers(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int clean = 1;
    if (!d)
        return 1;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix)))
            clean = 0;
    closedir(d);
    return clean;
}

/* params for decoding base b's files: its model file, where they need one */
static void base_params(ozip_params *p, char *eb, size_t ebn, const base *b)
{
    params(p, eb, ebn);
    p->model = b->ozm;
    p->model_size = b->ozm_n;
}

/* ozip_decompress_to's writer: appended to buf (cap bytes; over: more came) */
typedef struct collect {
    uint8_t *buf;
    size_t n, cap;
    int over;
} collect;

static int collect_write(void *user, const void *bytes, size_t n)
{
    collect *cl = (collect *)user;
    if (n > cl->cap - cl->n) {
        cl->over = 1;
        return EFBIG;
    }
    memcpy(cl->buf + cl->n, bytes, n);
    cl->n += n;
    return 0;
}

/* ozip_decompress_stream's reader: the forged file in reads of random size */
typedef struct feed {
    const uint8_t *f;
    size_t n, at;
} feed;

static int feed_read(void *user, void *buf, size_t n, size_t *got)
{
    feed *fd = (feed *)user;
    size_t k = rnd(2) ? 1 + rnd(16) : 1 + rnd(1 << 16);
    if (k > n)
        k = n;
    if (k > fd->n - fd->at)
        k = fd->n - fd->at;
    memcpy(buf, fd->f + fd->at, k);
    fd->at += k;
    *got = k;
    return 0;
}

/* every check on one forged file; returns 1 if the engines decoded it to
 * the original bytes, 0 if they failed (-1: no engine ran) */
static int check_forged(const base *b, uint64_t cs, const uint8_t *f, size_t n, const uint8_t *want, size_t wn)
{
    int e, first_ok = -1;
    ozip_params p;
    char eb[512];
    snprintf(cur_path, sizeof cur_path, "%s/crash-%llu-forge-%llu.oz", out_dir, (unsigned long long)seed,
             (unsigned long long)cs);
    cur_file = f, cur_n = n;
    for (e = 0; e < NENG; e++) {
        void *u = NULL;
        size_t un = 0;
        ozip_status s;
        char call[64];
        if (!eng_on[e] || (e == E_OCL && rnd(16)))
            continue;
        base_params(&p, eb, sizeof eb, b);
        use_engine(e, &p);
        s = ozip_decompress(f, n, &u, &un, &p);
        eng_calls[e]++, eng_ok[e] += s == OZIP_OK;
        snprintf(call, sizeof call, "decompress on %s", eng_name[e]);
        if (check_status(s, eb, call, cs, f, n) && (un != wn || memcmp(u, want, un)))
            fail("forge", cs, f, n, "%s: OK with a wrong output (%zu bytes, %zu expected)", call, un, wn);
        if (card_refused(e, s, eb))
            ; /* not a disagreement */
        else if (first_ok < 0)
            first_ok = s == OZIP_OK;
        else if (first_ok != (s == OZIP_OK))
            fail("forge", cs, f, n, "the engines disagree: %s %s, %s %s", eng_name[e],
                 s == OZIP_OK ? "decodes" : "fails", eng_name[E_REF], first_ok ? "decodes" : "fails");
        ozip_free(u);
    }
    unsetenv("OZIP_FORCE_ISA");
    {
        ozip_info inf;
        ozip_status s;
        params(&p, eb, sizeof eb);
        s = ozip_get_info(f, n, &inf, &p);
        if (check_status(s, eb, "get_info", cs, f, n) && first_ok == 1 && inf.original_size != wn)
            fail("forge", cs, f, n, "get_info: original size %llu of a file that decodes to %zu bytes",
                 (unsigned long long)inf.original_size, wn);
    }
    if (wn) {
        uint64_t off = rnd((uint32_t)wn), len = 1 + rnd((uint32_t)(wn - off));
        uint8_t *r = malloc(len);
        ozip_status s;
        base_params(&p, eb, sizeof eb, b);
        s = ozip_decompress_range(f, n, off, len, r, &p);
        if (check_status(s, eb, "decompress_range", cs, f, n) && memcmp(r, want + off, len))
            fail("forge", cs, f, n, "decompress_range(%llu, %llu): OK with wrong bytes", (unsigned long long)off,
                 (unsigned long long)len);
        free(r);
    }
    {
        void *m = NULL;
        size_t mn = 0;
        ozip_status s;
        params(&p, eb, sizeof eb);
        s = ozip_extract_model(f, n, &m, &mn, &p);
        if (check_status(s, eb, "extract_model", cs, f, n)) {
            params(&p, eb, sizeof eb);
            if (ozip_check_model(m, mn, &p) != OZIP_OK)
                fail("forge", cs, f, n, "extract_model gave a model check_model refuses: %s", eb);
        }
        ozip_free(m);
    }
    {
        /* in pieces of 1 to 3 streams' worth (or a random budget): OK with
         * the original bytes, or an error after writing only a prefix of
         * them (every piece checked before it is written) */
        collect cl;
        ozip_status s;
        memset(&cl, 0, sizeof cl);
        cl.cap = wn;
        cl.buf = malloc(wn + 1);
        base_params(&p, eb, sizeof eb, b);
        /* 1 to 3 of the base's streams (stream_block), or below the whole
         * content, so that most files are decoded in pieces */
        p.decode_buffer = rnd(2) ? (uint64_t)(1 + rnd(3)) * oz_rd32(b->file + 32) + 1 : 1 + rnd((uint32_t)wn + 1);
        s = ozip_decompress_to(f, n, collect_write, &cl, &p);
        if (check_status(s, eb, "decompress_to", cs, f, n) ? cl.n != wn || memcmp(cl.buf, want, wn)
                                                          : cl.over || memcmp(cl.buf, want, cl.n))
            fail("forge", cs, f, n, "decompress_to (budget %llu): %s, %zu bytes written that are not the original's",
                 (unsigned long long)p.decode_buffer, s ? "failed" : "OK", cl.n);
        {
            /* the same read as a pipe: OK exactly when the buffer call is,
             * and whatever it writes is the original's */
            feed fd = {f, n, 0};
            ozip_status s2;
            uint64_t budget = p.decode_buffer;
            cl.n = 0;
            cl.over = 0;
            base_params(&p, eb, sizeof eb, b);
            p.decode_buffer = budget;
            s2 = ozip_decompress_stream(feed_read, &fd, collect_write, &cl, &p);
            if ((check_status(s2, eb, "decompress_stream", cs, f, n) ? cl.n != wn || memcmp(cl.buf, want, wn)
                                                                     : cl.over || memcmp(cl.buf, want, cl.n)) ||
                (s2 == OZIP_OK) != (s == OZIP_OK))
                fail("forge", cs, f, n, "decompress_stream: %s (decompress_to %s), %zu bytes written%s",
                     s2 ? "failed" : "OK", s ? "failed" : "OK", cl.n,
                     (s2 == OZIP_OK) != (s == OZIP_OK) ? "" : " that are not the original's");
        }
        free(cl.buf);
    }
    if (rnd(8) == 0) {
        char in[700], out[700];
        ozip_status s;
        snprintf(in, sizeof in, "%s/.case.oz", out_dir);
        snprintf(out, sizeof out, "%s/.case.out", out_dir);
        write_file(in, f, n);
        base_params(&p, eb, sizeof eb, b);
        s = ozip_decompress_file(in, out, &p);
        if (check_status(s, eb, "decompress_file", cs, f, n)) {
            size_t on = 0;
            uint8_t *o = t_read_file(out, &on);
            if (!o || on != wn || memcmp(o, want, on))
                fail("forge", cs, f, n, "decompress_file: OK with a wrong output");
            free(o);
        } else if (access(out, F_OK) == 0 || !no_leftovers(out_dir, ".case.out")) {
            fail("forge", cs, f, n, "decompress_file failed (%s) but left an output or a temporary file", eb);
        }
        unlink(in);
        unlink(out);
    }
    cur_file = NULL;
    return first_ok;
}

/* A copy of image (isz bytes), changed: header 0, bytes past the header (a
 * region at random, so that the small ones, scales, slopes and activation
 * tables, are hit as often as the large ones, then a place in it); header
 * 1, a field of the header, and half the time, where the new header is
 * valid, the image resized to it (the new part random). weights_only:
 * only in the int8 weight regions (a model that still binds). 64-byte aligned;
 * *nsz its size. */
static uint8_t *mutate_image(const uint8_t *image, uint32_t isz, int header, int weights_only, uint32_t *nsz)
{
    uint8_t *img = NULL;
    oz_config cfg;
    uint32_t k, nm;
    if (posix_memalign((void **)&img, 64, (isz + 63) / 64 * 64))
        abort();
    memcpy(img, image, isz);
    *nsz = isz;
    if (!header) {
        oz_region reg[OZ_MAX_REGIONS];
        int nreg = oz_image_read_header(image, isz, &cfg) == OZ_CORE_OK ? oz_image_layout(&cfg, reg) : 0;
        for (k = 0, nm = 1 + rnd(8); k < nm; k++) {
            uint32_t at = 64 + rnd(isz - 64);
            if (nreg > 1 && (rnd(4) || weights_only)) {
                const oz_region *g;
                do
                    g = &reg[1 + rnd((uint32_t)nreg - 1)];
                while (weights_only && g->kind != OZ_REG_I8);
                at = g->offset + rnd(g->size);
            }
            if (rnd(2))
                img[at] = rnd(2) ? (uint8_t)t_rand() : img[at] ^ (uint8_t)(1u << rnd(8));
            else if ((at & ~3u) + 4 <= isz)
                oz_wr32(img + (at & ~3u), some_u32());
        }
    } else {
        static const unsigned at[] = {4, 6, 8, 10, 12, 14, 16, 18, 19, 20, 24, 28, 32, 40, 60};
        unsigned a = at[rnd(sizeof at / sizeof at[0])];
        uint32_t v = some_u32();
        if (a == 18 || a == 19)
            img[a] = (uint8_t)v;
        else if (a == 20 || a >= 24)
            oz_wr32(img + a, v);
        else
            oz_wr16(img + a, (uint16_t)(rnd(2) ? v : rnd(40)));
        if (rnd(2) && oz_image_read_header(img, 64, &cfg) == OZ_CORE_ETRUNC) {
            uint32_t want = oz_image_size(&cfg), i;
            uint8_t *big = NULL;
            if (want <= (8u << 20) && !posix_memalign((void **)&big, 64, (want + 63) / 64 * 64)) {
                for (i = 0; i < want; i++)
                    big[i] = i < isz ? img[i] : (uint8_t)t_rand();
                oz_wr32(big + 20, want);
                free(img);
                img = big;
                *nsz = want;
            }
        }
    }
    return img;
}

/* ------------------------------------------------------------- mutations */

static const char *class_name[] = {"header bytes",  "header field",   "image bytes",
                                   "image header",  "stream payload", "model payload",
                                   "cut or extend", "index sizes",    "model file"};
#define NCLASS (sizeof class_name / sizeof class_name[0])
static long class_count[NCLASS];
static long frame_cases, frames_ok; /* forged frames among intact ones, and those that decoded */

/* *f (*n bytes, malloc'd) cut short (two times in three) or given up to
 * 64 random trailing bytes */
static void cut_or_extend(uint8_t **f, size_t *n)
{
    if (rnd(3) || !*n) {
        *n = rnd((uint32_t)*n);
    } else {
        size_t extra = 1 + rnd(64), i;
        *f = realloc(*f, *n + extra);
        for (i = 0; i < extra; i++)
            (*f)[*n + i] = (uint8_t)t_rand();
        *n += extra;
    }
}

/* f (n bytes, malloc'd) moved to a buffer of exactly n bytes, so that ASan
 * sees any read past the end */
static uint8_t *exact_copy(uint8_t *f, size_t n)
{
    uint8_t *exact = malloc(n ? n : 1);
    memcpy(exact, f, n);
    free(f);
    return exact;
}

/* f, made by ozip_compress from want[wn], decoded by every engine and the
 * card (through OpenCL only if with_ocl): each must give want (the card
 * may refuse a shape beyond its limits, with its message). Returns 1 if
 * the card refused. */
static int decode_everywhere(const uint8_t *f, size_t n, const uint8_t *want, size_t wn, const char *label,
                             uint64_t cs, const char *what, int with_ocl)
{
    int e, refused = 0;
    for (e = 0; e < NENG; e++) {
        ozip_params p;
        char eb[512];
        void *u = NULL;
        size_t un = 0;
        ozip_status s;
        if (!eng_on[e] || (e == E_OCL && !with_ocl))
            continue;
        params(&p, eb, sizeof eb);
        use_engine(e, &p);
        s = ozip_decompress(f, n, &u, &un, &p);
        eng_calls[e]++, eng_ok[e] += s == OZIP_OK;
        if (card_refused(e, s, eb))
            refused = 1;
        else if (s != OZIP_OK || un != wn || memcmp(u, want, wn))
            fail(label, cs, f, n, "%s: decode on %s: %s", what, eng_name[e], s ? eb : "a wrong output");
        ozip_free(u);
    }
    unsetenv("OZIP_FORCE_ISA");
    return refused;
}

/* A forged model file (.ozm) from base b's model: header bytes or fields,
 * image bytes or header fields (the hash recomputed), payload bytes, a cut
 * or trailing bytes. ozip_check_model and ozip_compress (a small input,
 * force_model) must agree on whether it can be used, each failing with a
 * message; a file compressed with it must decode to the input on every
 * engine (the card may refuse the shape). */
static long mf_used;

static void model_file_case(const base *b, uint64_t cs)
{
    const uint8_t *image = b->p.image ? b->p.image : b->ozm + 36;
    uint32_t isz = b->p.image ? b->p.isz : oz_rd32(b->ozm + 16), nsz = isz, k, nm;
    uint8_t *img = NULL, *ozm, *exact, *in;
    size_t n, len, at;
    ozip_params p;
    char eb[512], eb2[512];
    ozip_status s1, s2;
    void *c = NULL;
    size_t cn = 0;
    /* image bytes most, half of them in the weights only: models that bind */
    static const uint8_t kinds[] = {0, 1, 2, 2, 2, 2, 3, 4, 5};
    uint32_t kind = kinds[rnd(sizeof kinds)];
    if (kind == 2 || kind == 3)
        img = mutate_image(image, isz, kind == 3, kind == 2 && rnd(2), &nsz);
    ozm = make_ozm_coded(img ? img : image, nsz, rnd(3) != 0, &n);
    switch (kind) {
    case 0:
        for (k = 0, nm = 1 + rnd(3); k < nm; k++)
            ozm[8 + rnd(28)] = (uint8_t)t_rand();
        break;
    case 1:
        if (rnd(4) == 0)
            ozm[12] = (uint8_t)rnd(4);
        else
            oz_wr32(ozm + 8 + 4 * rnd(7), some_u32());
        break;
    case 4:
        for (k = 0, nm = 1 + rnd(4); k < nm; k++)
            ozm[36 + rnd((uint32_t)(n - 36))] ^= (uint8_t)(1 + rnd(255));
        break;
    case 5:
        cut_or_extend(&ozm, &n);
        break;
    }
    exact = exact_copy(ozm, n);
    free(img);
    len = 1 + rnd(1500);
    at = rnd((uint32_t)(data_n - len + 1));
    in = data + at;
    snprintf(cur_path, sizeof cur_path, "%s/crash-%llu-forge-%llu.ozm", out_dir, (unsigned long long)seed,
             (unsigned long long)cs);
    cur_file = exact, cur_n = n;
    params(&p, eb, sizeof eb);
    s1 = ozip_check_model(exact, n, &p);
    check_status(s1, eb, "check_model", cs, exact, n);
    params(&p, eb2, sizeof eb2);
    p.model = exact;
    p.model_size = n;
    p.force_model = 1;
    p.stream_size = 1 + rnd((uint32_t)len);
    s2 = ozip_compress(in, len, &c, &cn, &p);
    check_status(s2, eb2, "compress with the model", cs, exact, n);
    mf_used += s2 == OZIP_OK;
    if ((s1 == OZIP_OK) != (s2 == OZIP_OK))
        fail("model", cs, exact, n, "check_model %s (%s) but compress %s (%s)", s1 ? "refuses" : "accepts", eb,
             s2 ? "fails" : "succeeds", eb2);
    if (s2 == OZIP_OK) {
        snprintf(cur_path, sizeof cur_path, "%s/crash-%llu-forge-%llu.oz", out_dir, (unsigned long long)seed,
                 (unsigned long long)cs);
        cur_file = c, cur_n = cn;
        decode_everywhere(c, cn, in, len, "model", cs, "a file made with the forged model", rnd(4) == 0);
        ozip_free(c);
    }
    cur_file = NULL;
    free(exact);
}

/* one forged file from base b, case cs */
static void forge_case(const base *b, uint64_t cs)
{
    parts m = b->p;
    const parts *o = &b->p;
    uint8_t *f = NULL, *hdr = malloc(o->hlen), *img = NULL, *mpay = NULL, *tail = NULL;
    size_t n = 0;
    uint32_t cls, k, nm;
    int model = 0, fix_model = 0, fix_hdr = rnd(10) != 0;
    reseed(2, cs);
    memcpy(hdr, o->hdr, o->hlen);
    m.hdr = hdr;
    do
        cls = rnd(NCLASS);
    while (((cls == 2 || cls == 3 || cls == 5) && !o->mlen) || (cls == 8 && !o->mlen && !b->ozm));
    class_count[cls]++;
    if (cls == 8) {
        model_file_case(b, cs);
        free(hdr);
        return;
    }
    switch (cls) {
    case 0: /* bytes anywhere past the magic and version */
        for (k = 0, nm = 1 + rnd(4); k < nm; k++)
            hdr[10 + rnd(o->hlen - 10)] = (uint8_t)t_rand();
        break;
    case 1: /* a u32 of the header, descriptor or index, or a method byte */
        if (o->count && rnd(4) == 0)
            hdr[o->hlen - 12 * (1 + rnd(o->count))] = (uint8_t)rnd(8);
        else
            oz_wr32(hdr + 12 + 4 * rnd((o->hlen - 12) / 4), some_u32());
        break;
    case 2: /* image bytes past its header, the hash recomputed */
    case 3: /* a field of the image's header, and maybe the image resized */
        img = m.image = mutate_image(o->image, o->isz, cls == 3, 0, &m.isz);
        model = 1 + (int)rnd(2);
        fix_model = rnd(8) != 0;
        break;
    case 4: /* stream payload bytes (their checksums left as they were) */
        if (!o->tail_n)
            break;
        tail = malloc(o->tail_n);
        memcpy(tail, o->tail, o->tail_n);
        m.tail = tail;
        for (k = 0, nm = 1 + rnd(4); k < nm; k++) {
            size_t at = (size_t)t_rand() % o->tail_n;
            tail[at] = rnd(2) ? (uint8_t)t_rand() : tail[at] ^ (uint8_t)(1u << rnd(8));
        }
        break;
    case 5: /* model payload bytes (its hash left as it was) */
        mpay = malloc(o->mlen);
        memcpy(mpay, o->mpay, o->mlen);
        m.mpay = mpay;
        for (k = 0, nm = 1 + rnd(4); k < nm; k++)
            mpay[rnd(o->mlen)] ^= (uint8_t)(1 + rnd(255));
        break;
    case 6: /* the file cut short or given trailing bytes */
        break;
    case 7: /* stored sizes moved between two streams, their sum kept */
        if (o->count >= 2) {
            uint32_t i = rnd(o->count), j = rnd(o->count), d = 1 + rnd(rnd(2) ? 16 : 4096);
            uint8_t *a = hdr + o->hlen - 12 * o->count + 12 * i + 4, *z = hdr + o->hlen - 12 * o->count + 12 * j + 4;
            oz_wr32(a, oz_rd32(a) + d);
            oz_wr32(z, oz_rd32(z) - d);
        }
        break;
    }
    /* the base's own header checksum where it is not recomputed */
    f = put_together(&m, model, fix_model, fix_hdr || cls == 6, oz_rd32(b->file + o->hlen), &n);
    if (cls == 6)
        cut_or_extend(&f, &n);
    if (rnd(6) == 0) {
        /* one frame of 2 or 3 (docs/format.md, "Several frames"): the
         * others the base file as it is; the content expected is the
         * base's that many times */
        uint32_t nf = 2 + rnd(2), at = rnd(nf), i;
        uint8_t *g = malloc(n + (nf - 1) * b->n), *want = malloc(nf * b->orig_n + 1);
        size_t gn = 0;
        for (i = 0; i < nf; i++) {
            memcpy(g + gn, i == at ? f : b->file, i == at ? n : b->n);
            gn += i == at ? n : b->n;
            memcpy(want + i * b->orig_n, b->orig, b->orig_n);
        }
        free(f);
        f = exact_copy(g, gn);
        frame_cases++;
        frames_ok += check_forged(b, cs, f, gn, want, nf * b->orig_n) == 1;
        free(want);
    } else {
        f = exact_copy(f, n);
        check_forged(b, cs, f, n, b->orig, b->orig_n);
    }
    free(f);
    free(hdr);
    free(img);
    free(mpay);
    free(tail);
}

/* -------------------------------------------------------------- shapes */

static long shape_cases, shape_refusals;

static void shape_case(uint64_t cs)
{
    oz_config c;
    uint8_t *img, *ozm, *first = NULL;
    uint32_t isz, stream_size;
    size_t ozm_n, firstn = 0, n, at;
    int g, e;
    char eb[512];
    reseed(3, cs);
    /* sizes that keep a case to a few seconds under ASan: one big dimension
     * at most; the even cases within the card's limits */
    {
        /* largest d_model, layers, d_ff */
        static const uint32_t lim[4][3] = {{1024, 2, 64}, {128, 16, 128}, {64, 2, 4096}, {256, 4, 512}};
        uint32_t k = cs % 2 ? rnd(4) : 4;
        if (k < 4)
            random_shape(&c, lim[k][0], lim[k][1], lim[k][2]);
        else
            do
                random_shape(&c, 256, 8, 1024);
            while (ozk_model_fits(&c, NULL, 0) != OZK_L_NONE);
    }
    g = (int)rnd(4);
    rand_slope_max = slopes[g];
    img = random_image(&c, gains[g], &isz);
    ozm = make_ozm(img, isz, &ozm_n);
    n = 1 + rnd(rnd(3) ? 1500 : 4000);
    if (n > data_n)
        n = data_n;
    at = rnd((uint32_t)(data_n - n + 1));
    stream_size = 1 + rnd(rnd(2) ? (uint32_t)n : 600);
    shape_cases++;
    printf("# shape %llu: L%u D%u H%u F%u W%u %s, scale %g, %zu bytes in streams of %u\n", (unsigned long long)cs,
           c.n_layer, c.d_model, c.n_head, c.d_ff, c.ctx, c.flags & OZ_CFG_TIED ? "tied" : "untied", gains[g], n,
           stream_size);
    for (e = E_REF; e <= E_AVX512; e++) {
        ozip_params p;
        void *cb = NULL;
        size_t cn = 0;
        if (!eng_on[e])
            continue;
        params(&p, eb, sizeof eb);
        use_engine(e, &p);
        p.model = ozm;
        p.model_size = ozm_n;
        p.force_model = 1;
        p.stream_size = stream_size;
        if (ozip_compress(data + at, n, &cb, &cn, &p) != OZIP_OK) {
            fail("shapes", cs, ozm, ozm_n, "L%u D%u H%u F%u W%u: compress on %s: %s", c.n_layer, c.d_model,
                 c.n_head, c.d_ff, c.ctx, eng_name[e], eb);
            continue;
        }
        if (!first) {
            first = cb;
            firstn = cn;
        } else {
            if (cn != firstn || memcmp(cb, first, cn))
                fail("shapes", cs, cb, cn, "L%u D%u H%u F%u W%u: %s encodes other bytes than %s", c.n_layer,
                     c.d_model, c.n_head, c.d_ff, c.ctx, eng_name[e], eng_name[E_REF]);
            ozip_free(cb);
        }
    }
    snprintf(cur_path, sizeof cur_path, "%s/crash-%llu-shapes-%llu.oz", out_dir, (unsigned long long)seed,
             (unsigned long long)cs);
    cur_file = first, cur_n = firstn;
    if (first) {
        char what[120];
        snprintf(what, sizeof what, "L%u D%u H%u F%u W%u %s", c.n_layer, c.d_model, c.n_head, c.d_ff, c.ctx,
                 c.flags & OZ_CFG_TIED ? "tied" : "untied");
        shape_refusals += decode_everywhere(first, firstn, data + at, n, "shapes", cs, what, 1);
    }
    cur_file = NULL;
    unsetenv("OZIP_FORCE_ISA");
    ozip_free(first);
    free(ozm);
    free(img);
}

/* ---------------------------------------------------------------- main */

/* whether --device opencl finds a platform that builds the kernel: a tiny
 * model-coded file decoded there (else the cases skip it, with the reason) */
static int opencl_works(void)
{
    static const oz_config c = {1, 16, 1, 16, 16, 8, OZ_CFG_TIED};
    uint32_t isz;
    uint8_t *img, *ozm;
    size_t ozm_n, cn = 0, un = 0;
    void *cb = NULL, *u = NULL;
    ozip_params p;
    char eb[512];
    int ok = 0;
    reseed(5, 0);
    img = random_image(&c, 1.0, &isz);
    ozm = make_ozm(img, isz, &ozm_n);
    params(&p, eb, sizeof eb);
    p.model = ozm;
    p.model_size = ozm_n;
    p.force_model = 1;
    if (ozip_compress(data, 64, &cb, &cn, &p) == OZIP_OK) {
        params(&p, eb, sizeof eb);
        p.device = "opencl";
        ok = ozip_decompress(cb, cn, &u, &un, &p) == OZIP_OK;
        if (!ok)
            printf("# no opencl engine: %s\n", eb);
    }
    ozip_free(cb);
    ozip_free(u);
    free(ozm);
    free(img);
    return ok;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long cases = 300, shapes = 4, one = -1;
    double seconds = 0, t0 = now();
    const char *data_path = NULL;
    int i, e, replay_shapes = 0, cases_given = 0, shapes_given = 0;
    base b;
    long k, cur_base = -1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--seed") && v)
            seed = strtoull(v, NULL, 0), i++;
        else if (!strcmp(a, "--cases") && v)
            cases = atol(v), cases_given = 1, i++;
        else if (!strcmp(a, "--shapes") && v)
            shapes = atol(v), shapes_given = 1, i++;
        else if (!strcmp(a, "--seconds") && v)
            seconds = atof(v), i++;
        else if (!strcmp(a, "--case") && v)
            one = atol(v), i++;
        else if (!strcmp(a, "--shape-case") && v)
            one = atol(v), replay_shapes = 1, i++;
        else if (!strcmp(a, "--out") && v)
            out_dir = v, i++;
        else if (!strcmp(a, "--data") && v)
            data_path = v, i++;
        else {
            fprintf(stderr, "usage: fuzz [--seed N] [--cases N] [--seconds S] [--shapes N] [--case C | --shape-case C] "
                            "[--out DIR] [--data FILE]\n");
            return 2;
        }
    }
    if (seconds > 0 && !cases_given)
        cases = -1; /* as many as the time allows */
    if (seconds > 0 && !shapes_given)
        shapes = -1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    mkdir(out_dir, 0755);
    catch_deaths();
    if (data_path) {
        data = t_read_file(data_path, &data_n);
    } else {
        const char *dir = t_corpus();
        char path[600];
        if (dir) {
            snprintf(path, sizeof path, "%s/log-Linux_2k.log", dir);
            data = t_read_file(path, &data_n);
        }
        if (!data)
            data = t_read_file("data/taxi-yellow_tripdata_2015-01.csv", &data_n);
    }
    if (!data || data_n < 1000) {
        t_skip("fuzz", "no data: no ../shared/corpus, no data/ folder and no --data");
        return t_done();
    }
    if (data_n > 65536)
        data_n = 65536;
    eng_on[E_REF] = eng_on[E_SCALAR] = 1;
    eng_on[E_AVX2] = ozf_cpu_has(OZF_AVX2);
    eng_on[E_AVX512] = ozf_cpu_has(OZF_AVX512);
    eng_on[E_EMU] = strstr(ozip_backends(), "emu") != NULL;
    eng_on[E_OCL] = strstr(ozip_backends(), "opencl") != NULL && opencl_works();
    printf("# fuzz: seed %llu; engines:", (unsigned long long)seed);
    for (e = 0; e < NENG; e++)
        if (eng_on[e])
            printf(" %s", eng_name[e]);
    printf("\n");

    /* replay one case */
    if (one >= 0) {
        if (replay_shapes) {
            shape_case((uint64_t)one);
        } else if (make_base((uint32_t)(one / ROUND), &b)) {
            printf("# base: %s\n", b.what);
            forge_case(&b, (uint64_t)one);
            base_free(&b);
        }
        t_result(n_fail == 0, "fuzz: the case replayed", "%s", fail_first);
        return t_done();
    }

    /* forged files */
    for (k = 0; (cases < 0 || k < cases) && (seconds <= 0 || now() - t0 < seconds * 0.8) && n_fail < 20; k++) {
        if (k / ROUND != cur_base) {
            int ok = 0;
            size_t rn = 0;
            if (cur_base >= 0)
                base_free(&b);
            cur_base = k / ROUND;
            if (!make_base((uint32_t)cur_base, &b))
                break;
            /* the base itself, put back together with every checksum recomputed, decodes */
            {
                uint8_t *f = put_together(&b.p, 1, 1, 1, 0, &rn);
                long before = n_fail;
                ok = check_forged(&b, (uint64_t)k, f, rn, b.orig, b.orig_n) == 1 && n_fail == before && b.p.count >= (b.orig_n > 0);
                free(f);
                /* and so does the base file twice, back to back (two frames) */
                if (ok) {
                    uint8_t *two = malloc(2 * b.n), *want = malloc(2 * b.orig_n + 1);
                    memcpy(two, b.file, b.n);
                    memcpy(two + b.n, b.file, b.n);
                    memcpy(want, b.orig, b.orig_n);
                    memcpy(want + b.orig_n, b.orig, b.orig_n);
                    ok = check_forged(&b, (uint64_t)k, two, 2 * b.n, want, 2 * b.orig_n) == 1 && n_fail == before;
                    free(two);
                    free(want);
                }
            }
            if (!ok) {
                t_result(0, "fuzz: a base file, rebuilt unchanged, decodes", "%s", b.what);
                break;
            }
            printf("# base %ld: %s\n", cur_base, b.what);
        }
        forge_case(&b, (uint64_t)k);
        n_cases++;
    }
    if (cur_base >= 0)
        base_free(&b);
    if (cases) {
        printf("# forged files: %ld, in %ld bases; calls %ld: %ld OK, %ld errors\n", n_cases, cur_base + 1,
               n_calls, n_ok, n_err);
        printf("#   by class:");
        for (k = 0; k < (long)NCLASS; k++)
            printf(" %s %ld%s", class_name[k], class_count[k], k + 1 < (long)NCLASS ? "," : "\n");
        printf("#   model files: %ld, %ld of them usable (a file made with each decoded on every engine)\n",
               class_count[8], mf_used);
        printf("#   forged frames among intact ones (2 or 3 frames): %ld, %ld of them decoded\n", frame_cases,
               frames_ok);
        printf("#   statuses:");
        for (k = 0; k <= OZIP_ERR_INTERNAL; k++)
            if (status_count[k])
                printf(" %ld x %ld", k, status_count[k]);
        printf("\n");
        t_result(n_fail == 0 && n_ok > 0 && n_err > 0,
                 "fuzz: forged files give an error with a message or the original bytes, the same on every engine",
                 "%ld failures, first %s", n_fail, fail_first);
    }

    /* random shapes */
    if (shapes) {
        long before = n_fail;
        for (k = 0; (shapes < 0 || k < shapes) && (seconds <= 0 || now() - t0 < seconds) && n_fail < 20; k++)
            shape_case((uint64_t)k);
        printf("# random shapes: %ld, the card refused %ld\n", shape_cases, shape_refusals);
        /* (the card decoding none of them would prove nothing about it) */
        t_result(n_fail == before && shape_cases > 0 &&
                     (!eng_on[E_EMU] || shape_cases < 2 || shape_refusals < shape_cases),
                 "fuzz: random shapes encode to the same bytes on every engine and decode on every engine",
                 "%ld failures, first %s", n_fail - before, fail_first);
    }
    printf("# decodes (those that gave the original bytes):");
    for (e = 0; e < NENG; e++)
        if (eng_on[e])
            printf(" %s %ld (%ld)%s", eng_name[e], eng_calls[e], eng_ok[e], e + 1 < NENG ? "," : "");
    printf("\n# %.0f s\n", now() - t0);
    if (!n_fail)
        rmdir(out_dir);
    return t_done();
}
