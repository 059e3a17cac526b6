/* engine_bench.c - speed of the integer model on this CPU, per engine:
 * encode (one stream, blocks of 256 positions) and decode (streams in lock
 * step, in batches of the size ozip uses: ozf_batch_max), in bytes/s and int8 multiply-accumulates/s, beside the
 * reference (core/) and beside a measured peak per ISA.
 *
 *   build/engine_bench [--arch SPEC | --level L] [--data FILE] [--bytes N] [--streams S] [--threads T]
 *                      [--repeat R] [--repeat-ref R] [--only ENGINE:MODE] [--model FILE | --save-model FILE]
 *                      [--decode-loops K] [--csv]
 *
 * --save-model FILE writes the trained model's image (the raw image core
 * binds, magic OZMI; not an ozip .ozm file, which ozip's --model takes);
 * --model FILE uses such an image instead of training one (its shape replaces
 * --arch/--level), so that two builds can be timed on the same model without
 * the training time.
 *
 * --level L benchmarks the shape ozip picks at level L for the whole of FILE
 * (instead of --arch). With one thread the time is that thread's CPU time
 * (robust to other load on the machine); with T > 1 threads, each with its
 * own copy of the work, it is the wall time from the moment every thread has
 * its input ready until the last one finishes, and the rate is T x bytes over
 * that time. --repeat R times each fast engine R times and keeps the fastest
 * run; the reference runs once, or --repeat-ref R times (its fastest run
 * counts, so that the speed-up compares the best of each). --decode-loops K
 * (for profiling a fast engine's decode, with --only) decodes the same
 * streams K times in each run, so that their untimed encoding is a small
 * part of the profile; the rate is per decode. MACs per byte are oz_model_macs(): weights plus attention at a
 * full window. --csv adds a line per measurement:
 *   csv,ENGINE,MODE,THREADS,BYTES_PER_S,MACS_PER_S,VS_REFERENCE */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/oz_codec.h"
#include "../host/fast/ozf.h"
#include "../host/internal.h"
#include "../gpu_train/trainer.h"

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

/* Peak int8 MAC rate of one core: independent accumulator chains in inline
 * assembly, so that the compiler can neither hoist the loop-invariant
 * products nor add moves (written with intrinsics, gcc 12 hoisted the AVX2
 * vpmaddubsw+vpmaddwd out of the loop and the figure was that of vpaddd). */

/* 12 chains of vpdpbusd: 12 x 64 MACs per iteration */
static void loop_avx512(long n)
{
    long it;
    for (it = 0; it < n; it++)
        __asm__ volatile("vpdpbusd %%zmm30, %%zmm31, %%zmm0\n\tvpdpbusd %%zmm30, %%zmm31, %%zmm1\n\t"
                         "vpdpbusd %%zmm30, %%zmm31, %%zmm2\n\tvpdpbusd %%zmm30, %%zmm31, %%zmm3\n\t"
                         "vpdpbusd %%zmm30, %%zmm31, %%zmm4\n\tvpdpbusd %%zmm30, %%zmm31, %%zmm5\n\t"
                         "vpdpbusd %%zmm30, %%zmm31, %%zmm6\n\tvpdpbusd %%zmm30, %%zmm31, %%zmm7\n\t"
                         "vpdpbusd %%zmm30, %%zmm31, %%zmm8\n\tvpdpbusd %%zmm30, %%zmm31, %%zmm9\n\t"
                         "vpdpbusd %%zmm30, %%zmm31, %%zmm10\n\tvpdpbusd %%zmm30, %%zmm31, %%zmm11"
                         :
                         :
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
                           "xmm11");
}

/* 6 chains of vpmaddubsw (32 products into 16 pairs), vpmaddwd by ones and
 * vpaddd, the sequence the AVX2 kernels use: 6 x 32 MACs per iteration */
static void loop_avx2(long n)
{
    long it;
    for (it = 0; it < n; it++)
        __asm__ volatile("vpmaddubsw %%ymm14, %%ymm15, %%ymm0\n\tvpmaddwd %%ymm13, %%ymm0, %%ymm0\n\t"
                         "vpaddd %%ymm0, %%ymm1, %%ymm1\n\t"
                         "vpmaddubsw %%ymm14, %%ymm15, %%ymm2\n\tvpmaddwd %%ymm13, %%ymm2, %%ymm2\n\t"
                         "vpaddd %%ymm2, %%ymm3, %%ymm3\n\t"
                         "vpmaddubsw %%ymm14, %%ymm15, %%ymm4\n\tvpmaddwd %%ymm13, %%ymm4, %%ymm4\n\t"
                         "vpaddd %%ymm4, %%ymm5, %%ymm5\n\t"
                         "vpmaddubsw %%ymm14, %%ymm15, %%ymm6\n\tvpmaddwd %%ymm13, %%ymm6, %%ymm6\n\t"
                         "vpaddd %%ymm6, %%ymm7, %%ymm7\n\t"
                         "vpmaddubsw %%ymm14, %%ymm15, %%ymm8\n\tvpmaddwd %%ymm13, %%ymm8, %%ymm8\n\t"
                         "vpaddd %%ymm8, %%ymm9, %%ymm9\n\t"
                         "vpmaddubsw %%ymm14, %%ymm15, %%ymm10\n\tvpmaddwd %%ymm13, %%ymm10, %%ymm10\n\t"
                         "vpaddd %%ymm10, %%ymm11, %%ymm11"
                         :
                         :
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
                           "xmm11");
}

/* MACs per second of loop(n): the fastest of 10 short runs */
static double peak_rate(void (*loop)(long), double macs_per_iteration)
{
    const long n = 4000000;
    double best = 0, t0, r;
    int rep;
    for (rep = 0; rep < 10; rep++) {
        t0 = cpu_now();
        loop(n);
        r = (double)n * macs_per_iteration / (cpu_now() - t0);
        best = r > best ? r : best;
    }
    return best;
}

typedef struct job {
    const ozf_model *fm;
    const ozf_model *prep; /* the fastest engine: encodes the streams a decode run decodes (untimed) */
    const oz_model *m;
    const uint8_t *data;
    uint64_t n;
    uint32_t streams;
    int encode;
    uint32_t loops; /* decode: times the timed part runs on the same streams (profiling) */
    pthread_barrier_t *ready; /* all threads and main: inputs prepared */
    double cpu;
} job;

static void *run(void *arg)
{
    job *j = (job *)arg;
    uint64_t per = j->n / j->streams, k;
    double t0;
    if (j->encode) {
        uint8_t *out = malloc(oz_encode_bound(j->n));
        uint64_t olen;
        pthread_barrier_wait(j->ready);
        t0 = cpu_now();
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
        j->cpu = cpu_now() - t0;
        free(out);
    } else {
        /* encode the streams first (not timed), then decode them */
        ozf_job *jobs = calloc(j->streams, sizeof *jobs);
        uint8_t **enc = calloc(j->streams, sizeof *enc);
        const oz_config *c = &j->m->cfg;
        for (k = 0; k < j->streams; k++) {
            enc[k] = malloc(oz_encode_bound(per));
            if (j->prep) {
                ozf_encode_stream(j->prep, j->data + k * per, per, enc[k], &jobs[k].in_len);
            } else {
                oz_state st;
                void *mem = oz_aligned_alloc(oz_state_bytes(c, OZ_ENC_CAP(c->ctx)));
                void *sc = oz_aligned_alloc(oz_encode_scratch_bytes(c, per));
                oz_state_init(&st, c, mem, OZ_ENC_CAP(c->ctx));
                oz_encode_stream(j->m, &st, sc, j->data + k * per, per, enc[k], &jobs[k].in_len);
                free(mem);
                free(sc);
            }
            jobs[k].in = enc[k];
            jobs[k].out = malloc(per);
            jobs[k].out_len = per;
        }
        pthread_barrier_wait(j->ready);
        t0 = cpu_now();
        if (j->fm) {
            /* in batches as ozip makes them (host/backend_cpu.c): as many as
             * ozf_batch_max allows, their sizes differing by at most one */
            uint32_t bmax = ozf_batch_max(c), groups = (j->streams + bmax - 1) / bmax, g, lp;
            for (lp = 0; lp < j->loops; lp++)
                for (g = 0; g < groups; g++) {
                    uint64_t first = j->streams * g / groups, last = j->streams * (g + 1) / groups;
                    ozf_decode_batch(j->fm, jobs + first, (uint32_t)(last - first), NULL, NULL);
                }
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
    return NULL;
}

int main(int argc, char **argv)
{
    const char *arch = NULL, *path = "data/demo.json", *only = NULL, *model_in = NULL, *model_out = NULL;
    uint64_t n = 200000, fsize;
    uint32_t streams = 16, threads = 1, repeat = 1, repeat_ref = 1, decode_loops = 1;
    int i, e, level = 0, csv = 0, have_prep = 0;
    ozf_model prep;
    oz_config cfg;
    oz_train_result tr;
    oz_model m;
    ozip_params p;
    size_t dn = 0;
    uint8_t *data;
    FILE *f;
    char shape[96];
    double peak[OZF_NISA] = {0, 0, 0};

    tr_blas_env(); /* as ozip does: OpenBLAS, loaded if this run trains, starts no spinning thread pool */
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--arch") && i + 1 < argc)
            arch = argv[++i];
        else if (!strcmp(argv[i], "--level") && i + 1 < argc)
            level = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--data") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--bytes") && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--streams") && i + 1 < argc)
            streams = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat-ref") && i + 1 < argc)
            repeat_ref = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) /* e.g. avx512:decode (profiling) */
            only = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) /* a model image saved by --save-model */
            model_in = argv[++i];
        else if (!strcmp(argv[i], "--save-model") && i + 1 < argc)
            model_out = argv[++i];
        else if (!strcmp(argv[i], "--decode-loops") && i + 1 < argc) /* profiling: decode K times per run */
            decode_loops = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--csv"))
            csv = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--arch SPEC | --level L] [--data FILE] [--bytes N] [--streams S] [--threads T] "
                    "[--repeat R] [--repeat-ref R] [--only ENGINE:MODE] [--model FILE | --save-model FILE] [--decode-loops K] [--csv]\n",
                    argv[0]);
            return 2;
        }
    }
    if (threads < 1 || threads > 64 || streams < 1 || n < 1 || (level && (level < 1 || level > 9)) || (arch && level) ||
        repeat < 1 || repeat > 100 || repeat_ref < 1 || repeat_ref > 100 || decode_loops < 1 || decode_loops > 10000) {
        fprintf(stderr, "engine_bench: --threads 1..64, --streams >= 1, --bytes >= 1, --level 1..9, --repeat and --repeat-ref 1..100, "
                        "not both --arch and --level\n");
        return 2;
    }
    f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    fsize = (uint64_t)ftell(f);
    rewind(f);
    data = malloc(n);
    dn = fread(data, 1, n, f);
    fclose(f);
    n = dn;
    if (n < 2 * streams) {
        fprintf(stderr, "engine_bench: %s: too little data for %u streams\n", path, streams);
        return 1;
    }
    ozip_params_init(&p);
    p.epochs = 0.3;
    p.threads = 2;
    if (level) {
        oz_arch_candidates(fsize, level, &cfg, 1);
        oz_arch_string(&cfg, shape, sizeof shape);
    } else {
        snprintf(shape, sizeof shape, "%s", arch ? arch : "L=3,D=96,H=6,F=192,W=512,wbits=5");
        if (oz_parse_arch(shape, &cfg, &p) != OZIP_OK)
            return 1;
    }
    if (model_in) { /* a saved image instead of training: repeatable runs, no training time */
        long sz;
        f = fopen(model_in, "rb");
        if (!f || fseek(f, 0, SEEK_END) || (sz = ftell(f)) <= 0) {
            fprintf(stderr, "engine_bench: cannot read %s\n", model_in);
            return 1;
        }
        rewind(f);
        tr.image = aligned_alloc(64, ((size_t)sz + 63) & ~(size_t)63);
        tr.size = (uint32_t)sz;
        if (!tr.image || fread(tr.image, 1, (size_t)sz, f) != (size_t)sz) {
            fprintf(stderr, "engine_bench: cannot read %s\n", model_in);
            return 1;
        }
        fclose(f);
        if (oz_model_bind(&m, tr.image, tr.size) != OZ_CORE_OK) {
            fprintf(stderr, "engine_bench: %s is not a model image\n", model_in);
            return 1;
        }
        cfg = m.cfg;
        oz_arch_string(&cfg, shape, sizeof shape);
    } else if (oz_train(data, n, &cfg, 1, &p, &tr) != OZIP_OK || oz_model_bind(&m, tr.image, tr.size) != OZ_CORE_OK) {
        fprintf(stderr, "engine_bench: cannot make the model\n");
        return 1;
    }
    if (model_out) {
        f = fopen(model_out, "wb");
        if (!f || fwrite(tr.image, 1, tr.size, f) != tr.size || fclose(f)) {
            fprintf(stderr, "engine_bench: cannot write %s\n", model_out);
            return 1;
        }
    }
    /* the streams that decode runs decode are encoded by the fastest engine
     * (bit-exact with the reference, so the bytes are the same) */
    for (i = OZF_NISA - 1; i >= 0 && !have_prep; i--)
        have_prep = ozf_cpu_has(i) && !ozf_model_init(&prep, &m, i);
    if (ozf_cpu_has(OZF_AVX2) && !only)
        peak[OZF_AVX2] = peak_rate(loop_avx2, 6 * 32);
    if (ozf_cpu_has(OZF_AVX512) && !only)
        peak[OZF_AVX512] = peak_rate(loop_avx512, 12 * 64);
    printf("model %s: %llu params, %llu MACs per byte at full window; %llu bytes of %s; %u streams; %u thread(s)\n",
           shape, (unsigned long long)oz_model_params(&cfg), (unsigned long long)oz_model_macs(&cfg),
           (unsigned long long)n, path, streams, threads);
    printf("measured peak per core: avx2 %.1f GMAC/s (vpmaddubsw+vpmaddwd), avx512 %.1f GMAC/s (vpdpbusd)\n",
           peak[OZF_AVX2] / 1e9, peak[OZF_AVX512] / 1e9);
    if (csv)
        printf("csv,peak,avx2,1,0,%.0f,0\ncsv,peak,avx512,1,0,%.0f,0\n", peak[OZF_AVX2], peak[OZF_AVX512]);
    printf("%-10s %-7s %12s %12s %10s\n", "engine", "mode", "KB/s", "GMAC/s", "vs ref");
    for (e = 0; e < 2; e++) {
        double ref_rate = 0;
        int isa;
        for (isa = -1; isa < OZF_NISA; isa++) {
            ozf_model fm;
            job jobs[64];
            pthread_t th[64];
            pthread_barrier_t ready;
            uint32_t t, rep, reps = isa < 0 ? repeat_ref : repeat;
            double w0, wall, rate = 0;
            const char *name = isa < 0 ? "reference" : ozf_isa_name(isa);
            if (isa >= 0 && (!ozf_cpu_has(isa) || ozf_model_init(&fm, &m, isa)))
                continue;
            if (only) {
                char want[64];
                snprintf(want, sizeof want, "%s:%s", name, e ? "decode" : "encode");
                if (strcmp(only, want)) {
                    if (isa >= 0)
                        ozf_model_free(&fm);
                    continue;
                }
            }
            /* the fast engines run `repeat` times, the reference `repeat_ref`
             * times, and the fastest run counts (other tenants of a shared
             * machine slow single runs down) */
            for (rep = 0; rep < reps; rep++) {
                double r;
                pthread_barrier_init(&ready, NULL, threads + 1);
                for (t = 0; t < threads; t++) {
                    jobs[t].fm = isa >= 0 ? &fm : NULL;
                    jobs[t].m = &m;
                    jobs[t].prep = have_prep ? &prep : NULL;
                    jobs[t].data = data;
                    jobs[t].n = n;
                    jobs[t].streams = streams;
                    jobs[t].encode = e == 0;
                    jobs[t].loops = isa >= 0 && e ? decode_loops : 1;
                    jobs[t].ready = &ready;
                    pthread_create(&th[t], NULL, run, &jobs[t]);
                }
                pthread_barrier_wait(&ready);
                w0 = wall_now();
                for (t = 0; t < threads; t++)
                    pthread_join(th[t], NULL);
                wall = wall_now() - w0;
                pthread_barrier_destroy(&ready);
                r = threads == 1 ? (double)n * jobs[0].loops / jobs[0].cpu : (double)n * threads * jobs[0].loops / wall;
                rate = r > rate ? r : rate;
            }
            if (isa < 0 || ref_rate == 0)
                ref_rate = rate;
            printf("%-10s %-7s %12.1f %12.2f %9.1fx\n", name, e ? "decode" : "encode", rate / 1000.0,
                   rate * (double)oz_model_macs(&cfg) / 1e9, rate / ref_rate);
            if (csv)
                printf("csv,%s,%s,%u,%.0f,%.0f,%.2f\n", name, e ? "decode" : "encode", threads, rate,
                       rate * (double)oz_model_macs(&cfg), rate / ref_rate);
            if (isa >= 0)
                ozf_model_free(&fm);
        }
    }
    if (have_prep)
        ozf_model_free(&prep);
    free(tr.image);
    free(data);
    return 0;
}
