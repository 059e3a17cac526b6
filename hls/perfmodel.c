/* perfmodel.c - the kernel's performance model for every board and every
 * model shape of ozip's ladder (docs/fpga.md is written from its output).
 *
 *   perfmodel [BOARD_DIR...]          Markdown tables (default: the four boards)
 *   perfmodel --check [BOARD_DIR...]  exits 1 unless every board's kernel
 *       build fits its budget, its PE count is the largest that fits, and the
 *       default model decodes at >= 5 MB/s on the U55C at the realistic clock
 *
 * Cycles come from perfmodel.h (checked against the kernel's own count by
 * hls/tb/); resources are estimates (perfmodel.h states the costs assumed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../host/internal.h"
#include "perfmodel.h"

#define TARGET_MBS 5.0

typedef struct board {
    char dir[256], name[128], platform[128], mem[128];
    double lut, dsp, bram36, uram, mem_gbps, mhz, mhz_real, budget;
    uint32_t pe;
} board;

static int read_board(const char *dir, board *b)
{
    char path[512], line[256], key[64], val[128];
    FILE *f;
    memset(b, 0, sizeof *b);
    snprintf(b->dir, sizeof b->dir, "%s", dir);
    snprintf(path, sizeof path, "%s/resources", dir);
    if (!(f = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, " %63[a-z_0-9] = %127[^\n]", key, val) != 2)
            continue;
        if (!strcmp(key, "name"))
            snprintf(b->name, sizeof b->name, "%s", val);
        else if (!strcmp(key, "platform"))
            snprintf(b->platform, sizeof b->platform, "%s", val);
        else if (!strcmp(key, "mem"))
            snprintf(b->mem, sizeof b->mem, "%s", val);
        else if (!strcmp(key, "lut"))
            b->lut = atof(val);
        else if (!strcmp(key, "dsp"))
            b->dsp = atof(val);
        else if (!strcmp(key, "bram36"))
            b->bram36 = atof(val);
        else if (!strcmp(key, "uram"))
            b->uram = atof(val);
        else if (!strcmp(key, "mem_gbps"))
            b->mem_gbps = atof(val);
        else if (!strcmp(key, "clock_mhz"))
            b->mhz = atof(val);
        else if (!strcmp(key, "clock_realistic_mhz"))
            b->mhz_real = atof(val);
        else if (!strcmp(key, "budget"))
            b->budget = atof(val);
        else if (!strcmp(key, "pe"))
            b->pe = (uint32_t)atoi(val);
    }
    fclose(f);
    return b->name[0] && b->dsp > 0 && b->lut > 0 && b->uram > 0 && b->bram36 > 0 && b->mhz > 0 && b->pe > 0 &&
                   b->budget > 0
               ? 0
               : -1;
}

static ozk_arch arch_for(uint32_t pe)
{
    ozk_arch a = ozkm_this_build();
    a.pe = pe;
    return a;
}

/* the largest fraction of the board a build uses, and which resource it is */
static double worst(const board *b, const ozk_res *r, const char **which)
{
    double f[4] = {r->dsp / b->dsp, r->lut / b->lut, r->bram36 / b->bram36, r->uram / b->uram}, m = 0;
    static const char *names[4] = {"DSP", "LUT", "BRAM", "URAM"};
    int i;
    for (i = 0; i < 4; i++)
        if (f[i] > m) {
            m = f[i];
            *which = names[i];
        }
    return m;
}

static int fits(const board *b, uint32_t pe)
{
    ozk_arch a = arch_for(pe);
    ozk_res r;
    const char *w;
    ozkm_resources(&a, &r);
    return worst(b, &r, &w) <= b->budget;
}

static void shape_name(const oz_config *c, char *s, size_t n)
{
    snprintf(s, n, "L%u D%u H%u F%u W%u", c->n_layer, c->d_model, c->n_head, c->d_ff, c->ctx);
}

/* cycles per step of shape c on a build with pe PEs; 0 if beyond the limits */
static uint64_t step_cycles(const oz_config *c, uint32_t pe, ozk_step_model *sm)
{
    ozk_dims dm;
    ozk_arch a = arch_for(pe);
    if (ozk_dims_init(&dm, c->n_layer, c->d_model, c->n_head, c->d_ff, c->ctx, c->flags & OZ_CFG_TIED) != OZK_L_NONE)
        return 0;
    ozkm_step(&dm, &a, sm);
    return sm->total;
}

int main(int argc, char **argv)
{
    static const char *defaults[] = {"board/u50", "board/u55c", "board/u280", "board/u250"};
    const char **dirs = defaults;
    int nb = 4, i, j, check = 0, bad = 0, nl;
    board b[16];
    const oz_config *ladder;
    oz_config def;
    char sn[64];
    if (argc > 1 && !strcmp(argv[1], "--check")) {
        check = 1;
        argv++;
        argc--;
    }
    if (argc > 1) {
        dirs = (const char **)(argv + 1);
        nb = argc - 1 < 16 ? argc - 1 : 16;
    }
    for (i = 0; i < nb; i++)
        if (read_board(dirs[i], &b[i]) != 0) {
            fprintf(stderr, "perfmodel: %s/resources: missing or incomplete\n", dirs[i]);
            return 2;
        }
    nl = oz_arch_ladder(&ladder);
    oz_arch_candidates(10000000, 6, &def, 1); /* the shape ozip picks for a 10 MB file */
    shape_name(&def, sn, sizeof sn);

    printf("Kernel build: %d lanes, %d wide lanes, %d frequency lanes per PE; limits L <= %d, D <= %d, F <= %d,\n"
           "H <= %d, W <= %d, key/value ring <= %d words, weights <= %d words of %d bytes.\n\n",
           OZK_LANES, OZK_WIDE, OZK_FLANES, OZK_MAX_LAYERS, OZK_MAX_D, OZK_MAX_F, OZK_MAX_H, OZK_MAX_W,
           OZK_KV_WORDS, OZK_W_WORDS, OZK_LANES);
    printf("| board | PEs | DSP | LUT | BRAM36 | URAM | limited by |\n|---|---:|---:|---:|---:|---:|---|\n");
    for (i = 0; i < nb; i++) {
        ozk_arch a = arch_for(b[i].pe);
        ozk_res r;
        const char *w = "";
        double u;
        ozkm_resources(&a, &r);
        u = worst(&b[i], &r, &w);
        printf("| %s | %u | %.0f (%.0f%%) | %.0fk (%.0f%%) | %.0f (%.0f%%) | %.0f (%.0f%%) | %s (%.0f%% of %.0f%% budget) |\n",
               b[i].name, b[i].pe, r.dsp, 100 * r.dsp / b[i].dsp, r.lut / 1000, 100 * r.lut / b[i].lut, r.bram36,
               100 * r.bram36 / b[i].bram36, r.uram, 100 * r.uram / b[i].uram, w, 100 * u, 100 * b[i].budget);
        if (u > b[i].budget) {
            printf("\n**%s: the build exceeds the budget**\n", b[i].name);
            bad = 1;
        }
        if (fits(&b[i], b[i].pe + 8)) {
            printf("\n**%s: %u PEs fit too; raise pe in %s/resources**\n", b[i].name, b[i].pe + 8, b[i].dir);
            bad = 1;
        }
    }

    printf("\nDecode throughput with every PE busy (MB/s of decoded output at the target clock / at the realistic "
           "clock); cycles per step / per byte:\n\n| model | params |");
    for (i = 0; i < nb; i++)
        printf(" %s |", b[i].name);
    printf("\n|---|---:|");
    for (i = 0; i < nb; i++)
        printf("---:|");
    printf("\n");
    for (j = 0; j < nl; j++) {
        shape_name(&ladder[j], sn, sizeof sn);
        printf("| %s%s | %.0fk |", sn,
               (ladder[j].n_layer == def.n_layer && ladder[j].d_model == def.d_model && ladder[j].ctx == def.ctx)
                   ? " (default, 10 MB)" : "",
               oz_model_params(&ladder[j]) / 1000.0);
        for (i = 0; i < nb; i++) {
            ozk_step_model sm;
            uint64_t cyc = step_cycles(&ladder[j], b[i].pe, &sm);
            double cpb = (double)cyc / b[i].pe;
            if (!cyc)
                printf(" beyond the limits |");
            else
                printf(" %.2f / %.2f (%llu, %.1f) |", b[i].mhz / cpb, b[i].mhz_real / cpb, (unsigned long long)cyc,
                       cpb);
        }
        printf("\n");
    }

    for (i = 0; i < nb; i++) {
        ozk_step_model sm;
        uint64_t cyc;
        double mbs, mbs_real, macs;
        if (strcmp(b[i].name, "Alveo U55C") != 0)
            continue;
        cyc = step_cycles(&def, b[i].pe, &sm);
        mbs = b[i].mhz / ((double)cyc / b[i].pe);
        mbs_real = b[i].mhz_real / ((double)cyc / b[i].pe);
        macs = (double)oz_model_macs(&def);
        shape_name(&def, sn, sizeof sn);
        printf("\nOne step of the default model (%s) on the %s build (%u PEs), by phase:\n\n"
               "| phase | cycles | share |\n|---|---:|---:|\n", sn, b[i].name, b[i].pe);
#define PH(n, v) printf("| %s | %llu | %.1f%% |\n", n, (unsigned long long)(v), 100.0 * (double)(v) / (double)cyc)
        PH("embedding (PEs in turn)", sm.embed);
        PH("RMS norms (2L+1)", sm.norm);
        PH("q, k, v", sm.qkv);
        PH("key/value into the ring", sm.kv_write);
        PH("attention logits", sm.att_scores);
        PH("attention weights x values", sm.att_values);
        PH("attention reciprocals", sm.att_recip);
        PH("attention outputs", sm.att_out);
        PH("output projection", sm.wo);
        PH("MLP in", sm.w1);
        PH("MLP out", sm.w2);
        PH("output head", sm.head);
        PH("frequencies + rANS", sm.freq);
        PH("total", cyc);
        printf("\n%.1f cycles per decoded byte; %.0f int8 MACs per byte (oz_model_macs) = %.0f%% of the %u x %d "
               "MAC lanes' peak.\n",
               (double)cyc / b[i].pe, macs, 100.0 * macs / ((double)cyc / b[i].pe) / ((double)b[i].pe * OZK_LANES),
               b[i].pe, OZK_LANES);
        printf("%.2f MB/s at %.0f MHz, %.2f MB/s at %.0f MHz; memory traffic about %.1f MB/s of %.0f GB/s.\n", mbs,
               b[i].mhz, mbs_real, b[i].mhz_real, 2 * mbs, b[i].mem_gbps);
        if (mbs_real < TARGET_MBS) {
            printf("\n**below the %.0f MB/s target**\n", TARGET_MBS);
            bad = 1;
        }
    }
    if (check)
        printf("\n%s\n", bad ? "perfmodel --check: FAILED" : "perfmodel --check: ok");
    return check && bad ? 1 : 0;
}
