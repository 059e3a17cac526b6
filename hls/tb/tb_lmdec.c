/* tb_lmdec.c - C simulation testbench of the decode kernel (what Vitis csim
 * runs with `tb.file`; here built with gcc and g++ by `make hls-tb`).
 *
 *   tb_lmdec [FILE.oz ORIGINAL]...     (default: the vectors in hls/tb/data/)
 *
 * For every .oz file (made by the CPU encoder, ./ozip): parses it with core/,
 * decodes its model, launches lmdec() on all its model-coded streams and
 * checks, failing (exit 1) on any difference:
 *   - every stream's result is OZ_CORE_OK and every byte equals ORIGINAL;
 *   - the kernel's counted cycles equal the closed-form model (perfmodel.h);
 *   - corrupted copies (a byte flipped at fixed-seed positions, a payload cut
 *     short) give each stream the same result as core's oz_decode_stream;
 *   - a model beyond the kernel's limits is refused with OZK_E_LIMIT.
 * Self-contained: core/ sources, no libxxhash (the stream bytes are compared
 * with the original instead of checksummed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/oz_codec.h"
#include "../../core/oz_format.h"
#include "../lmdec_host.h"
#include "../perfmodel.h"

static int failed, passed;

static void check(int ok, const char *what, const char *file)
{
    printf("%s - tb: %s (%s)\n", ok ? "ok" : "not ok", what, file);
    if (ok)
        passed++;
    else
        failed++;
}

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b = NULL;
    long sz;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        b = (uint8_t *)malloc((size_t)sz + 1);
        if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
            free(b);
            b = NULL;
        }
        *n = (size_t)sz;
    }
    fclose(f);
    return b;
}

/* A parsed .oz file: model bound, the model streams as kernel jobs. */
typedef struct tb_file {
    oz_frame f;
    uint8_t *image;
    oz_model m;
    ozk_job *jobs;
    uint32_t *sidx; /* stream index of each job */
    uint32_t njobs;
} tb_file;

static int parse(const uint8_t *b, size_t n, tb_file *t)
{
    uint64_t pos, i;
    memset(t, 0, sizeof *t);
    if (oz_frame_read(b, n, &t->f) != OZ_CORE_OK || !(t->f.flags & OZ_F_MODEL) ||
        (t->f.flags & OZ_F_MODEL_EXTERNAL))
        return -1;
    pos = oz_header_bytes(&t->f); /* includes the header checksum */
    void *img = NULL;
    if (posix_memalign(&img, 64, t->f.model_size + 64u))
        return -1;
    t->image = (uint8_t *)img;
    if (t->f.model_coding == OZ_MC_RAW) {
        if (t->f.model_stored != t->f.model_size || pos + t->f.model_stored > n)
            return -1;
        memcpy(t->image, b + pos, t->f.model_size);
    } else if (pos + t->f.model_stored > n ||
               oz_wcode_decode(b + pos, t->f.model_stored, t->image, t->f.model_size) != OZ_CORE_OK) {
        return -1;
    }
    if (oz_model_bind(&t->m, t->image, t->f.model_size) != OZ_CORE_OK)
        return -1;
    pos += t->f.model_stored;
    t->jobs = (ozk_job *)calloc(t->f.stream_count + 1, sizeof *t->jobs);
    t->sidx = (uint32_t *)calloc(t->f.stream_count + 1, sizeof *t->sidx);
    for (i = 0; i < t->f.stream_count; i++) {
        oz_index_entry e;
        if (oz_index_read(b, &t->f, (uint32_t)i, &e) != OZ_CORE_OK || pos + e.stored_size > n)
            return -1;
        if (e.method == OZ_M_MODEL) {
            t->jobs[t->njobs].in = b + pos;
            t->jobs[t->njobs].in_len = e.stored_size;
            t->jobs[t->njobs].out_len = oz_stream_len(&t->f, (uint32_t)i);
            t->sidx[t->njobs++] = (uint32_t)i;
        }
        pos += e.stored_size;
    }
    return 0;
}

static void tb_free(tb_file *t)
{
    free(t->image);
    free(t->jobs);
    free(t->sidx);
}

/* Runs the kernel on jobs; returns the status buffer (caller frees) and the output. */
static uint32_t *launch(const tb_file *t, const ozk_job *jobs, uint32_t n, uint8_t **out, ozk_bufs *b,
                        uint32_t *desc_override)
{
    uint32_t *st;
    if (ozk_pack(&t->m, t->image, t->f.model_size, jobs, n, b))
        return NULL;
    if (desc_override)
        memcpy(b->desc, desc_override, 4 * OZK_D_STREAMS);
    *out = (uint8_t *)calloc(b->out_bytes, 1);
    lmdec(t->image, b->desc, b->in, *out, b->status, n);
    st = b->status;
    return st;
}

/* core's result for one stream */
static int reference(const tb_file *t, const ozk_job *j, uint8_t *out)
{
    const oz_config *c = &t->m.cfg;
    void *st_mem = malloc(oz_state_bytes(c, c->ctx) + 64), *ws = NULL;
    oz_state st;
    int rc;
    if (posix_memalign(&ws, 64, oz_step_ws_bytes(c) + 64))
        ws = NULL;
    oz_state_init(&st, c, st_mem, c->ctx);
    rc = oz_decode_stream(&t->m, &st, ws, j->in, j->in_len, out, j->out_len);
    free(st_mem);
    free(ws);
    return rc;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull; /* fixed seed */
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_file(const char *ozp, const char *origp)
{
    size_t n = 0, on = 0;
    uint8_t *b = read_file(ozp, &n), *orig = read_file(origp, &on), *out = NULL;
    tb_file t;
    ozk_bufs bufs;
    uint32_t *st, i, bad = 0;
    char what[256];
    if (!b || !orig) {
        check(0, "vector files are readable", ozp);
        free(b);
        free(orig);
        return;
    }
    if (parse(b, n, &t) != 0 || t.njobs == 0) {
        check(0, "the .oz file parses and has model-coded streams", ozp);
        free(b);
        free(orig);
        return;
    }
    /* 1. every byte */
    st = launch(&t, t.jobs, t.njobs, &out, &bufs, NULL);
    if (!st || st[OZK_ST_DONE] != OZK_DONE || st[OZK_ST_RC] != OZK_OK) {
        check(0, "kernel finishes with OZK_OK", ozp);
    } else {
        for (i = 0; i < t.njobs; i++) {
            uint64_t at = (uint64_t)t.sidx[i] * t.f.stream_block;
            if (st[OZK_ST_STREAMS + i] != OZ_CORE_OK || at + t.jobs[i].out_len > on ||
                memcmp(out + bufs.out_off[i], orig + at, (size_t)t.jobs[i].out_len) != 0)
                bad++;
        }
        snprintf(what, sizeof what, "%u model streams (L%u D%u H%u F%u W%u%s) decode to the original bytes",
                 t.njobs, t.m.cfg.n_layer, t.m.cfg.d_model, t.m.cfg.n_head, t.m.cfg.d_ff, t.m.cfg.ctx,
                 (t.m.cfg.flags & OZ_CFG_TIED) ? "" : ", untied");
        check(bad == 0, what, ozp);
        {
            ozk_dims dm;
            ozk_step_model sm;
            ozk_arch a = ozkm_this_build();
            uint64_t steps = ozk_status64(st, OZK_ST_STEPS), cyc = ozk_status64(st, OZK_ST_CYC_STEP);
            ozk_dims_init(&dm, t.m.cfg.n_layer, t.m.cfg.d_model, t.m.cfg.n_head, t.m.cfg.d_ff, t.m.cfg.ctx,
                          t.m.cfg.flags & OZ_CFG_TIED);
            ozkm_step(&dm, &a, &sm);
            snprintf(what, sizeof what, "counted cycles = steps x closed-form step cycles (%llu x %llu)",
                     (unsigned long long)steps, (unsigned long long)sm.total);
            check(steps > 0 && cyc == steps * sm.total, what, ozp);
        }
    }
    free(out);
    ozk_bufs_free(&bufs);

    /* 2. corruption: flipped bytes and cut payloads give core's results */
    {
        ozk_job *cj = (ozk_job *)calloc(t.njobs, sizeof *cj);
        uint8_t **copies = (uint8_t **)calloc(t.njobs, sizeof *copies);
        uint8_t *ref = NULL;
        uint64_t maxn = 0;
        uint32_t differ = 0, nonok = 0;
        for (i = 0; i < t.njobs; i++)
            if (t.jobs[i].out_len > maxn)
                maxn = t.jobs[i].out_len;
        ref = (uint8_t *)malloc((size_t)maxn + 1);
        for (i = 0; i < t.njobs; i++) {
            uint64_t len = t.jobs[i].in_len;
            copies[i] = (uint8_t *)malloc((size_t)len + 1);
            memcpy(copies[i], t.jobs[i].in, (size_t)len);
            cj[i] = t.jobs[i];
            cj[i].in = copies[i];
            switch (i % 4) {
            case 0: /* a byte of the state or the words */
                copies[i][next_rand() % len] ^= (uint8_t)(1 + next_rand() % 255);
                break;
            case 1: /* cut: the last word missing */
                cj[i].in_len = len >= 4 ? len - 4 : 0;
                break;
            case 2: /* cut below the 8-byte initial state */
                cj[i].in_len = next_rand() % 8;
                break;
            default: /* a byte near the end */
                copies[i][len - 1 - next_rand() % (len < 16 ? len : 16)] ^= 0x5A;
                break;
            }
        }
        st = launch(&t, cj, t.njobs, &out, &bufs, NULL);
        if (!st || st[OZK_ST_DONE] != OZK_DONE || st[OZK_ST_RC] != OZK_OK) {
            check(0, "kernel finishes on corrupted streams", ozp);
        } else {
            for (i = 0; i < t.njobs; i++) {
                int rc = reference(&t, &cj[i], ref);
                if ((int)st[OZK_ST_STREAMS + i] != rc)
                    differ++;
                else if (rc == OZ_CORE_OK && memcmp(ref, out + bufs.out_off[i], (size_t)cj[i].out_len) != 0)
                    differ++; /* undetected here, caught by the host's checksum: bytes must still agree */
                nonok += rc != OZ_CORE_OK;
            }
            snprintf(what, sizeof what,
                     "%u corrupted or cut streams: each result (and output) equals oz_decode_stream's (%u errors)",
                     t.njobs, nonok);
            check(differ == 0 && nonok > 0, what, ozp);
        }
        free(out);
        ozk_bufs_free(&bufs);
        for (i = 0; i < t.njobs; i++)
            free(copies[i]);
        free(copies);
        free(cj);
        free(ref);
    }

    /* 3. a model beyond the limits is refused, not decoded */
    {
        ozk_bufs tmp;
        uint32_t d[OZK_D_STREAMS];
        if (ozk_pack(&t.m, t.image, t.f.model_size, t.jobs, 1, &tmp) == 0) {
            memcpy(d, tmp.desc, sizeof d);
            ozk_bufs_free(&tmp);
            d[OZK_D_L] = OZK_MAX_LAYERS + 1;
            st = launch(&t, t.jobs, 1, &out, &bufs, d);
            check(st && st[OZK_ST_DONE] == OZK_DONE && st[OZK_ST_RC] == OZK_E_LIMIT &&
                      st[OZK_ST_DETAIL] == OZK_L_LAYERS && st[OZK_ST_STREAMS] == OZK_NOT_RUN,
                  "a model with more layers than the build allows: OZK_E_LIMIT, no stream decoded", ozp);
            free(out);
            ozk_bufs_free(&bufs);
        }
    }
    tb_free(&t);
    free(b);
    free(orig);
}

int main(int argc, char **argv)
{
    static const char *defaults[] = {
        "hls/tb/data/taxi-l1d16.oz", "data/taxi-yellow_tripdata_2015-01.csv",
        "hls/tb/data/taxi-l2d48-untied.oz", "data/taxi-yellow_tripdata_2015-01.csv",
        "hls/tb/data/taxi-l2d64h2f80.oz", "data/taxi-yellow_tripdata_2015-01.csv",
    };
    int i;
    printf("# tb_lmdec: %d PEs, %d lanes, segment %d steps (%s)\n", OZK_PE, OZK_LANES, OZK_SEG,
#ifdef __cplusplus
           "C++"
#else
           "C"
#endif
    );
    if (argc > 1 && (argc - 1) % 2 == 0) {
        for (i = 1; i + 1 < argc; i += 2)
            test_file(argv[i], argv[i + 1]);
    } else if (argc == 1) {
        for (i = 0; i < (int)(sizeof defaults / sizeof defaults[0]); i += 2)
            test_file(defaults[i], defaults[i + 1]);
    } else {
        fprintf(stderr, "usage: tb_lmdec [FILE.oz ORIGINAL]...\n");
        return 2;
    }
    printf("# tb_lmdec: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
