/* engine_bench.c - speed of the integer model on this CPU, per engine:
 * encode (one stream, blocks of 256 positions) and decode (a batch of streams
 * in lock step), in bytes/s and int8 multiply-accumulates/s, beside the
 * reference (core/) and beside a measured peak per ISA.
 *
 *   build/engine_bench [--arch SPEC] [--data FILE] [--bytes N] [--streams S] [--threads T]
 *
 * Times are thread CPU time for one thread (robust to other load on the
 * machine), and wall time when --threads > 1. MACs per byte are
 * oz_model_macs(): weights plus attention at a full window. */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/oz_codec.h"
#include "../host/fast/ozf.h"
#include "../host/internal.h"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Peak int8 MAC rate of one core: 12 independent accumulator chains. */
__attribute__((target("avx512f,avx512vnni"))) static double peak_avx512(void)
{
    __m512i acc[12], a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(5);
    long it, n = 20000000;
    double t0 = cpu_now(), t;
    int i;
    for (i = 0; i < 12; i++)
        acc[i] = _mm512_set1_epi32(i);
    for (it = 0; it < n; it++)
        for (i = 0; i < 12; i++) {
            acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
            __asm__ volatile("" : "+v"(acc[i]));
        }
    t = cpu_now() - t0;
    for (i = 1; i < 12; i++)
        acc[0] = _mm512_add_epi32(acc[0], acc[i]);
    if (_mm512_reduce_add_epi32(acc[0]) == 42)
        printf(" ");
    return (double)n * 12 * 64 / t;
}

__attribute__((target("avx2"))) static double peak_avx2(void)
{
    __m256i acc[12], a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(5), ones = _mm256_set1_epi16(1);
    long it, n = 20000000;
    double t0 = cpu_now(), t;
    int i;
    for (i = 0; i < 12; i++)
        acc[i] = _mm256_set1_epi32(i);
    for (it = 0; it < n; it++)
        for (i = 0; i < 12; i++) {
            acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
            __asm__ volatile("" : "+v"(acc[i]));
        }
    t = cpu_now() - t0;
    for (i = 1; i < 12; i++)
        acc[0] = _mm256_add_epi32(acc[0], acc[i]);
    if (_mm256_extract_epi32(acc[0], 0) == 42)
        printf(" ");
    return (double)n * 12 * 32 / t;
}

typedef struct job {
    const ozf_model *fm;
    const oz_model *m;
    const uint8_t *data;
    uint64_t n;
    uint32_t streams;
    int encode;
    double cpu;
} job;

static void *run(void *arg)
{
    job *j = (job *)arg;
    uint64_t per = j->n / j->streams, k;
    double t0 = cpu_now();
    if (j->encode) {
        uint8_t *out = malloc(oz_encode_bound(j->n));
        uint64_t olen;
        if (j->fm) {
            ozf_encode_stream(j->fm, j->data, j->n, out, &olen);
        } else {
            const oz_config *c = &j->m->cfg;
            oz_state st;
            void *mem = oz_aligned_alloc(oz_state_bytes(c, OZ_ENC_CAP(c->ctx)));
            void *sc = oz_aligned_alloc(oz_encode_scratch_bytes(c, j->n));
            oz_state_init(&st, c, mem, OZ_ENC_CAP(c->ctx));
            oz_encode_stream(j->m, &st, sc, j->data, j->n, out, &olen);
            free(mem);
            free(sc);
        }
        free(out);
    } else {
        /* encode the streams first (not timed), then decode them */
        ozf_job *jobs = calloc(j->streams, sizeof *jobs);
        uint8_t **enc = calloc(j->streams, sizeof *enc);
        const oz_config *c = &j->m->cfg;
        for (k = 0; k < j->streams; k++) {
            oz_state st;
            void *mem = oz_aligned_alloc(oz_state_bytes(c, OZ_ENC_CAP(c->ctx)));
            void *sc = oz_aligned_alloc(oz_encode_scratch_bytes(c, per));
            enc[k] = malloc(oz_encode_bound(per));
            oz_state_init(&st, c, mem, OZ_ENC_CAP(c->ctx));
            oz_encode_stream(j->m, &st, sc, j->data + k * per, per, enc[k], &jobs[k].in_len);
            jobs[k].in = enc[k];
            jobs[k].out = malloc(per);
            jobs[k].out_len = per;
            free(mem);
            free(sc);
        }
        t0 = cpu_now();
        if (j->fm) {
            ozf_decode_batch(j->fm, jobs, j->streams, NULL, NULL);
        } else {
            oz_state st;
            void *mem = oz_aligned_alloc(oz_state_bytes(c, c->ctx)), *ws = oz_aligned_alloc(oz_step_ws_bytes(c));
            oz_state_init(&st, c, mem, c->ctx);
            for (k = 0; k < j->streams; k++)
                jobs[k].rc = oz_decode_stream(j->m, &st, ws, jobs[k].in, jobs[k].in_len, jobs[k].out, per);
            free(mem);
            free(ws);
        }
        j->cpu = cpu_now() - t0;
        for (k = 0; k < j->streams; k++) {
            if (jobs[k].rc != 0 || memcmp(jobs[k].out, j->data + k * per, per)) {
                fprintf(stderr, "engine_bench: decode mismatch\n");
                exit(1);
            }
            free(enc[k]);
            free((void *)jobs[k].out);
        }
        free(enc);
        free(jobs);
        return NULL;
    }
    j->cpu = cpu_now() - t0;
    return NULL;
}

int main(int argc, char **argv)
{
    const char *arch = "L=3,D=96,H=6,F=192,W=512,wbits=5", *path = "data/demo.json", *only = NULL;
    uint64_t n = 200000;
    uint32_t streams = 16, threads = 1;
    int i, e;
    oz_config cfg;
    oz_train_result tr;
    oz_model m;
    ozip_params p;
    size_t dn = 0;
    uint8_t *data;
    FILE *f;
    double peak[OZF_NISA] = {0, 0, 0};
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--arch") && i + 1 < argc)
            arch = argv[++i];
        else if (!strcmp(argv[i], "--data") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--bytes") && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--streams") && i + 1 < argc)
            streams = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) /* e.g. avx512:decode (profiling) */
            only = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--arch SPEC] [--data FILE] [--bytes N] [--streams S] [--threads T]\n", argv[0]);
            return 2;
        }
    }
    f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    data = malloc(n);
    dn = fread(data, 1, n, f);
    fclose(f);
    n = dn;
    ozip_params_init(&p);
    p.epochs = 0.3;
    p.threads = 2;
    if (oz_parse_arch(arch, &cfg, &p) != OZIP_OK || oz_train(data, n, &cfg, 1, &p, &tr) != OZIP_OK ||
        oz_model_bind(&m, tr.image, tr.size) != OZ_CORE_OK) {
        fprintf(stderr, "engine_bench: cannot make the model\n");
        return 1;
    }
    if (ozf_cpu_has(OZF_AVX2) && !only)
        peak[OZF_AVX2] = peak_avx2();
    if (ozf_cpu_has(OZF_AVX512) && !only)
        peak[OZF_AVX512] = peak_avx512();
    printf("model %s: %llu params, %llu MACs per byte at full window; %llu bytes of %s; %u streams; %u thread(s)\n",
           arch, (unsigned long long)oz_model_params(&cfg), (unsigned long long)oz_model_macs(&cfg),
           (unsigned long long)n, path, streams, threads);
    printf("measured peak per core: avx2 %.1f GMAC/s (vpmaddubsw+vpmaddwd), avx512 %.1f GMAC/s (vpdpbusd)\n",
           peak[OZF_AVX2] / 1e9, peak[OZF_AVX512] / 1e9);
    printf("%-10s %-7s %12s %12s %10s\n", "engine", "mode", "KB/s", "GMAC/s", "vs ref");
    for (e = 0; e < 2; e++) {
        double ref_rate = 0;
        int isa;
        for (isa = -1; isa < OZF_NISA; isa++) {
            ozf_model fm;
            job jobs[64];
            pthread_t th[64];
            uint32_t t;
            double w0, wall, rate;
            if (isa >= 0 && (!ozf_cpu_has(isa) || ozf_model_init(&fm, &m, isa)))
                continue;
            if (only) {
                char want[64];
                snprintf(want, sizeof want, "%s:%s", isa < 0 ? "reference" : ozf_isa_name(isa), e ? "decode" : "encode");
                if (strcmp(only, want)) {
                    if (isa >= 0)
                        ozf_model_free(&fm);
                    continue;
                }
            }
            w0 = wall_now();
            for (t = 0; t < threads; t++) {
                jobs[t].fm = isa >= 0 ? &fm : NULL;
                jobs[t].m = &m;
                jobs[t].data = data;
                jobs[t].n = n;
                jobs[t].streams = streams;
                jobs[t].encode = e == 0;
                pthread_create(&th[t], NULL, run, &jobs[t]);
            }
            for (t = 0; t < threads; t++)
                pthread_join(th[t], NULL);
            wall = wall_now() - w0;
            /* one thread: its CPU time; several: the wall time of all of them
             * (decode wall time includes the untimed encoding, so use CPU time) */
            rate = threads == 1 || e == 1 ? (double)n * threads / jobs[0].cpu : (double)n * threads / wall;
            if (isa < 0)
                ref_rate = rate;
            if (ref_rate == 0)
                ref_rate = rate;
            printf("%-10s %-7s %12.1f %12.2f %9.1fx\n", isa < 0 ? "reference" : ozf_isa_name(isa), e ? "decode" : "encode",
                   rate / 1000.0, rate * (double)oz_model_macs(&cfg) / 1e9, rate / ref_rate);
            if (isa >= 0)
                ozf_model_free(&fm);
        }
    }
    return 0;
}
