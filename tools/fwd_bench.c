/* fwd_bench.c - the fast engine's forward pass at full windows, timed in
 * TSC ticks: the fastest of many passes, which is what a build can do when
 * nothing else runs on its core. On a shared machine whole runs vary by
 * 30% and more from minute to minute; the minimum over many short passes
 * varies by a few percent, so two builds can be compared (tools/ab.sh runs
 * two builds of this program alternately).
 *
 *   build/fwd_bench MODEL DATA [ISA [PASSES [BATCH]]]
 *
 * MODEL: a model image (engine_bench --save-model); DATA: at least 1 KB of
 * bytes to feed it; ISA: 0 scalar, 1 avx2, 2 avx512 [the best one here];
 * PASSES [300]; BATCH: decode streams [ozf_batch_max].
 *
 * Encode: one stream, blocks of 64 positions; the ring is filled up to
 * position W + 64, then the block at W + 64 .. W + 127 is run PASSES times
 * (writing the same keys again each time). Decode: BATCH streams, one row
 * each, at position W + 64, run 8 x PASSES times. Output, one line each:
 *   encode TICKS_PER_BYTE
 *   decode TICKS_PER_BYTE
 * then the same as KB/s and G MAC/s per core at the TSC rate it measured. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "../host/fast/ozf.h"

static double tsc_hz(void)
{
    struct timespec a, b;
    unsigned long long t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &a);
    t0 = __rdtsc();
    do
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec) < 2e8);
    t1 = __rdtsc();
    return (double)(t1 - t0) / ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9);
}

static void *slurp(const char *path, size_t min, size_t *n)
{
    FILE *f = fopen(path, "rb");
    long sz;
    void *p;
    if (!f || fseek(f, 0, SEEK_END) || (sz = ftell(f)) < (long)min) {
        fprintf(stderr, "fwd_bench: cannot read %s (at least %zu bytes)\n", path, min);
        exit(1);
    }
    rewind(f);
    p = aligned_alloc(64, ((size_t)sz + 63) & ~(size_t)63);
    if (!p || fread(p, 1, (size_t)sz, f) != (size_t)sz) {
        fprintf(stderr, "fwd_bench: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    *n = (size_t)sz;
    return p;
}

int main(int argc, char **argv)
{
    enum { B = 64 };
    size_t isz, dsz;
    uint8_t *img, *data;
    oz_model m;
    ozf_model fm;
    ozf_ring ring, dr[32], *rings[B];
    ozf_scratch s, ds;
    int32_t *z;
    uint32_t W, p0, i, r, p, nb, passes, pos[B];
    uint8_t tok[32];
    int isa;
#ifdef OZF_HAVE_LANES
    ozf_lanes *lb = NULL;
    int lanes_g = 0;
#endif
    unsigned long long best_enc = ~0ull, best_dec = ~0ull;
    double hz, macs, enc, dec;
    const char *why;
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL DATA [ISA [PASSES [BATCH]]]\n", argv[0]);
        return 2;
    }
    img = slurp(argv[1], 64, &isz);
    if (oz_model_bind(&m, img, (uint32_t)isz) != OZ_CORE_OK) {
        fprintf(stderr, "fwd_bench: %s is not a model image\n", argv[1]);
        return 1;
    }
    W = m.cfg.ctx;
    p0 = W + B;
    data = slurp(argv[2], p0 + B + 7 * 32, &dsz);
    isa = argc > 3 ? atoi(argv[3]) : ozf_select_isa(&why);
    passes = argc > 4 ? (uint32_t)atoi(argv[4]) : 300;
    nb = argc > 5 ? (uint32_t)atoi(argv[5]) : ozf_batch_max(&m.cfg);
    if (isa < 0 || isa >= OZF_NISA || !ozf_cpu_has(isa) || passes < 1 || nb < 1 || nb > 32) {
        fprintf(stderr, "fwd_bench: ISA 0..2 that this CPU has, PASSES >= 1, BATCH 1..32\n");
        return 2;
    }
    if (ozf_model_init(&fm, &m, isa)) {
        fprintf(stderr, "fwd_bench: the engine cannot run this model (head width not a multiple of 4, or no memory)\n");
        return 1;
    }
    if (ozf_ring_init(&ring, &m.cfg, ozf_ring_cap(W, B)) ||
        ozf_scratch_init(&s, &m.cfg, B) || ozf_scratch_init(&ds, &m.cfg, nb) || !(z = malloc(4 * 256 * B))) {
        fprintf(stderr, "fwd_bench: out of memory\n");
        return 1;
    }
    /* encode */
    for (i = 0; i < B; i++)
        rings[i] = &ring;
    for (p = 0; p < p0; p += B) {
        for (i = 0; i < B; i++)
            pos[i] = p + i;
        ozf_forward(&fm, &s, B, data + p, pos, rings, z);
    }
    for (i = 0; i < B; i++)
        pos[i] = p0 + i;
    for (r = 0; r < passes; r++) {
        unsigned long long t0 = __rdtsc(), t;
        ozf_forward(&fm, &s, B, data + p0, pos, rings, z);
        t = __rdtsc() - t0;
        best_enc = t < best_enc ? t : best_enc;
    }
    /* decode: nb streams over different parts of the data */
    for (i = 0; i < nb; i++) {
        if (ozf_ring_init(&dr[i], &m.cfg, ozf_ring_cap(W, 1))) {
            fprintf(stderr, "fwd_bench: out of memory\n");
            return 1;
        }
        rings[i] = &dr[i];
    }
#ifdef OZF_HAVE_LANES
    /* as ozf_decode_batch: the side-by-side copies where the engine uses them */
    lanes_g = ozf_batch_lanes(&fm, dr, nb, &lb);
    if (lanes_g < 0) {
        fprintf(stderr, "fwd_bench: out of memory\n");
        return 1;
    }
#endif
    for (p = 0; p <= p0; p++) {
        for (i = 0; i < nb; i++) {
            pos[i] = p;
            tok[i] = data[p + 7 * i];
        }
        if (p < p0)
            ozf_forward(&fm, &ds, nb, tok, pos, rings, z);
    }
    for (r = 0; r < 8 * passes; r++) {
        unsigned long long t0 = __rdtsc(), t;
        ozf_forward(&fm, &ds, nb, tok, pos, rings, z);
        t = __rdtsc() - t0;
        best_dec = t < best_dec ? t : best_dec;
    }
    hz = tsc_hz();
    macs = (double)oz_model_macs(&m.cfg);
    enc = (double)best_enc / B;
    dec = (double)best_dec / nb;
    printf("encode %.0f\ndecode %.0f\n", enc, dec);
    printf("# %s, TSC %.2f GHz: encode %.1f KB/s, %.1f G MAC/s; decode (batch %u) %.1f KB/s, %.1f G MAC/s per core\n",
           ozf_isa_name(isa), hz / 1e9, hz / enc / 1e3, hz / enc * macs / 1e9, nb, hz / dec / 1e3, hz / dec * macs / 1e9);
    for (i = 0; i < nb; i++)
        ozf_ring_free(&dr[i]);
#ifdef OZF_HAVE_LANES
    ozf_batch_lanes_free(lb, lanes_g); /* after the rings, as ozf_decode_batch */
#endif
    ozf_ring_free(&ring);
    ozf_scratch_free(&s);
    ozf_scratch_free(&ds);
    ozf_model_free(&fm);
    free(z);
    free(data);
    free(img);
    return 0;
}
