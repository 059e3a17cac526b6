/* harness.h - minimal test harness shared by the C tests.
 * Every check prints one line: "ok - NAME", "not ok - NAME: DETAIL" or
 * "skip - NAME: REASON"; tests/run.sh counts them. A test program exits
 * non-zero when any check failed. */
#ifndef OZ_TEST_HARNESS_H
#define OZ_TEST_HARNESS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failed, t_passed;

static void t_result(int ok, const char *name, const char *fmt, ...)
{
    if (ok) {
        printf("ok - %s\n", name);
        t_passed++;
    } else {
        va_list ap;
        printf("not ok - %s", name);
        if (fmt) {
            printf(": ");
            va_start(ap, fmt);
            vprintf(fmt, ap);
            va_end(ap);
        }
        printf("\n");
        t_failed++;
    }
    fflush(stdout);
}

__attribute__((unused)) static void t_skip(const char *name, const char *why)
{
    printf("skip - %s: %s\n", name, why);
    fflush(stdout);
}

static int t_done(void)
{
    printf("# %d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}

/* deterministic PRNG for tests */
static unsigned long long t_rng = 88172645463325252ull;
static unsigned long long t_rand(void)
{
    t_rng ^= t_rng << 13;
    t_rng ^= t_rng >> 7;
    t_rng ^= t_rng << 17;
    return t_rng;
}

/* Reads a whole file; NULL if missing. */
__attribute__((unused)) static unsigned char *t_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    long sz;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc(sz > 0 ? (size_t)sz : 1);
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)sz;
    return b;
}

/* The corpus folder, or NULL (tests then skip with a message). */
__attribute__((unused)) static const char *t_corpus(void)
{
    static const char *dirs[] = {"../shared/corpus", NULL};
    const char *env = getenv("OZIP_CORPUS");
    FILE *f;
    char p[512];
    int i;
    if (env)
        return env;
    for (i = 0; dirs[i]; i++) {
        snprintf(p, sizeof p, "%s/README.md", dirs[i]);
        if ((f = fopen(p, "r"))) {
            fclose(f);
            return dirs[i];
        }
    }
    return NULL;
}

#endif
