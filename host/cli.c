/* cli.c - the ozip command line (conventions of gzip/xz/zstd). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../include/ozip.h"
#include "fileio.h"
#include "fast/ozf.h"
#include "../gpu_train/trainer.h"

const char *classic_versions(void);
void oz_cuda_describe(char *buf, size_t n);

enum { OP_COMPRESS, OP_DECOMPRESS, OP_TEST, OP_LIST };

typedef struct cli {
    int op, to_stdout, force, rm, verbose, quiet, external_model;
    const char *out_path, *save_model, *model_path;
    ozip_params p;
    oz_input model;
    int progress_tty;
    uint64_t list_comp, list_orig, list_model; /* -l: totals over the files listed */
    uint32_t list_streams, list_files;
    double last_progress, phase_start;
    int progress_shown, phase;
} cli;

static const char *prog = "ozip";

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s [OPTION]... [FILE]...\n"
            "Compress or decompress FILEs in the .oz format: a small Transformer is trained on\n"
            "each file and the file is arithmetic-coded with it (integer model, bit-exact on\n"
            "every device). With no FILE, or when FILE is -, read standard input and write\n"
            "standard output.\n"
            "\n"
            "Operation:\n"
            "  -z, --compress        compress (default)\n"
            "  -d, --decompress      decompress\n"
            "  -t, --test            test the integrity of compressed files\n"
            "  -l, --list            list information about .oz files\n"
            "\n"
            "Output:\n"
            "  -c, --stdout          write to standard output and keep the input files\n"
            "  -o, --output=FILE     write to FILE (a single input only; - is standard output)\n"
            "  -f, --force           overwrite existing outputs; allow a terminal as output\n"
            "  -k, --keep            keep input files (default)\n"
            "      --rm              remove input files after success (not a symbolic link or\n"
            "                        a file with other hard links, unless -f)\n"
            "\n"
            "Compression:\n"
            "  -1 .. -9              level: more time, better ratio (default 6)\n"
            "  -T, --threads=N       threads (default: all cores)\n"
            "      --device=DEV      auto, cpu, cuda, opencl, fpga, emu or xrt (default auto);\n"
            "                        decoding on the FPGA kernel: fpga (a card, through xrt or\n"
            "                        opencl), xrt, opencl, emu (the kernel emulated; with -v it\n"
            "                        reports the kernel's modelled cycles)\n"
            "      --train-time=SEC  stop training after SEC seconds (the output then depends\n"
            "                        on the machine's speed; levels and --epochs do not)\n"
            "      --epochs=E        passes over the input while training (overrides the level)\n"
            "      --sample=N        train on N bytes of the input (evenly spaced 1M pieces;\n"
            "                        K, M, G suffixes), then code the whole input\n"
            "      --stream-size=N   bytes per independent stream (default 256K; K, M suffixes)\n"
            "      --frame-size=N    compressing: a frame of its own for every N bytes of input,\n"
            "                        each read, compressed and written before the next\n"
            "                        (default 1G; K, M, G suffixes); the first frame's model\n"
            "                        codes the later frames too\n"
            "      --train-each-frame  train a model for every frame instead (slower)\n"
            "      --buffer=N        decompressing: hold at most N bytes of output in memory\n"
            "                        (default 256M; K, M, G suffixes; a stream is never split)\n"
            "      --model=FILE      compress with this model (.ozm) instead of training one;\n"
            "                        when decompressing: the model a file refers to\n"
            "      --external-model  with --model: store only the model's checksum in the file\n"
            "      --save-model=FILE write the model that was used to FILE (.ozm)\n"
            "      --no-model        use the classic methods only (xz, zstd, bzip2, brotli, stored)\n"
            "      --force-model     code every stream with the model, even where it does not pay\n"
            "                        (and skip the classic methods' run over the whole input)\n"
            "      --arch=SPEC       model shape, e.g. L=2,D=64,H=4,F=128,W=64,wbits=8,tied=1\n"
            "      --seed=N          training seed (default 1)\n"
            "\n"
            "Other:\n"
            "  -v, --verbose         more messages (repeat for more)\n"
            "  -q, --quiet           no messages except errors\n"
            "  -V, --version         print the version and the compiled-in backends\n"
            "  -h, --help            print this help\n"
            "\n"
            "Exit status: 0 success, 1 error, 2 usage error.\n"
            "Report bugs with the output of '%s -V -v'.\n",
            prog, prog);
}

static void cleanup_on_signal(int sig)
{
    oz_output_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int progress_cb(void *user, const ozip_progress *pr)
{
    cli *c = (cli *)user;
    double t = now_s();
    if (pr->done != pr->total && t - c->last_progress < 0.25)
        return 0;
    c->last_progress = t;
    if (pr->phase != c->phase) {
        c->phase = pr->phase;
        c->phase_start = t;
    }
    fprintf(stderr, "\r\033[K");
    if (pr->frame) /* input of several frames: which one these units count in */
        fprintf(stderr, "frame %u ", pr->frame);
    switch (pr->phase) {
    case OZIP_PHASE_CLASSIC:
        fprintf(stderr, "[classic] compressing with xz, zstd, bzip2, brotli");
        break;
    case OZIP_PHASE_TRAIN:
        fprintf(stderr, "[train] step %llu/%llu  epoch %.2f  %.3f bits/byte  %s",
                (unsigned long long)pr->done, (unsigned long long)pr->total, pr->epochs, pr->bpb,
                pr->what ? pr->what : "");
        break;
    case OZIP_PHASE_ENCODE:
    case OZIP_PHASE_DECODE:
        fprintf(stderr, "[%s] %llu/%llu bytes (%.0f%%)  %.1f KB/s",
                pr->phase == OZIP_PHASE_ENCODE ? "encode" : "decode", (unsigned long long)pr->done,
                (unsigned long long)pr->total, pr->total ? 100.0 * pr->done / pr->total : 100.0,
                pr->done / 1000.0 / (t - c->phase_start + 1e-9));
        break;
    default:
        break;
    }
    c->progress_shown = 1;
    return 0;
}

static void progress_clear(cli *c)
{
    if (c->progress_shown) {
        fprintf(stderr, "\r\033[K");
        c->progress_shown = 0;
    }
}

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a > b && strcmp(s + a - b, suf) == 0;
}

static int fail(cli *c, const char *name, ozip_status s)
{
    progress_clear(c);
    if (c->p.errbuf[0])
        fprintf(stderr, "%s: %s: %s\n", prog, name, c->p.errbuf);
    else
        fprintf(stderr, "%s: %s: %s\n", prog, name, ozip_strerror(s));
    c->p.errbuf[0] = 0;
    return 1;
}

static void human(double v, char *buf, size_t n)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    snprintf(buf, n, i ? "%.2f %s" : "%.0f %s", v, u[i]);
}

static void print_summary(cli *c, const char *name, const ozip_report *r, double secs, uint32_t frames)
{
    double bpb = r->original_size ? 8.0 * r->compressed_size / r->original_size : 0;
    fprintf(stderr, "%s: %llu -> %llu bytes (model %llu + streams %llu + header %llu), %.3f bits/byte",
            name, (unsigned long long)r->original_size, (unsigned long long)r->compressed_size,
            (unsigned long long)r->model_bytes, (unsigned long long)r->stream_bytes,
            (unsigned long long)r->header_bytes, bpb);
    if (frames > 1)
        fprintf(stderr, "; %u frames", frames);
    if (r->xz_size)
        fprintf(stderr, "; xz -9 core %llu", (unsigned long long)r->xz_size);
    fprintf(stderr, "; %.1f s\n", secs);
    if (c->verbose >= 1)
        fprintf(stderr, "  model%s: %s; %u of %u streams model-coded; trained on %s in %.1f s (%.3f bits/byte), "
                        "encoded in %.1f s\n",
                frames > 1 ? " (frame 1's; sums over the frames)" : "", r->model_desc, r->model_streams,
                r->streams, r->device[0] ? r->device : "-", r->train_seconds, r->train_bpb, r->encode_seconds);
}

/* The decode device and, for the emulated kernel, its modelled cycles. */
static void print_device(const ozip_report *r)
{
    if (!r->decode_device[0])
        return;
    fprintf(stderr, "  decoded on %s\n", r->decode_device);
    if (r->device_cycles && r->device_mhz)
        fprintf(stderr, "  kernel: %llu modelled cycles = %.3f ms at %u MHz: %.2f MB/s of model-coded output "
                        "(docs/fpga.md)\n",
                (unsigned long long)r->device_cycles, r->device_cycles / (r->device_mhz * 1e3), r->device_mhz,
                r->device_bytes / (r->device_cycles / (r->device_mhz * 1e6)) / 1e6);
}

/* an output that could not be written (errno value err): 1 */
static int io_fail(cli *c, const char *dst, int err)
{
    progress_clear(c);
    fprintf(stderr, "%s: %s: %s\n", prog, dst ? dst : "(stdout)", strerror(err));
    return 1;
}

static int write_output(cli *c, const char *dst, const void *data, size_t n, const oz_input *from)
{
    int err = dst ? oz_output_write(dst, data, n, from) : oz_write_stdout(data, n);
    return err ? io_fail(c, dst, err) : 0;
}

/* where decompressed bytes go: fd (-1: nowhere, for -t), counted */
typedef struct sink {
    int fd;
    uint64_t bytes;
} sink;

static int sink_write(void *user, const void *data, size_t n)
{
    sink *sk = (sink *)user;
    sk->bytes += n;
    return sk->fd < 0 ? 0 : oz_output_fd_write(&sk->fd, data, n);
}

/* one row of -l's table */
static void list_row(uint32_t streams, uint64_t model, uint64_t comp, uint64_t orig, const char *hash, const char *name)
{
    char a[32], b[32];
    human((double)comp, a, sizeof a);
    human((double)orig, b, sizeof b);
    printf("%8u %11llu %13s %13s %7.3f %9.3f  %-16s %s\n", streams, (unsigned long long)model, a, b,
           orig ? (double)comp / orig : 0.0, orig ? 8.0 * comp / orig : 0.0, hash, name);
}

static int do_list(cli *c, const char *name, const oz_input *in, int *header_done)
{
    ozip_info info;
    ozip_status s = ozip_get_info(in->data, in->size, &info, &c->p);
    char h[32];
    if (s != OZIP_OK)
        return fail(c, name, s);
    if (!*header_done) {
        printf("%8s %11s %13s %13s %7s %9s  %-16s %s\n", "Streams", "Model", "Compressed", "Uncompressed",
               "Ratio", "Bits/byte", "XXH64", "Filename");
        *header_done = 1;
    }
    /* several frames (concatenated files): no one content checksum to show */
    if (info.frames > 1)
        snprintf(h, sizeof h, "(%u frames)", info.frames);
    else
        snprintf(h, sizeof h, "%016llx", (unsigned long long)info.content_xxh64);
    list_row(info.streams, info.model_bytes, info.compressed_size, info.original_size, h, name);
    c->list_streams += info.streams;
    c->list_model += info.model_bytes;
    c->list_comp += info.compressed_size;
    c->list_orig += info.original_size;
    c->list_files++;
    if (c->verbose) {
        if (info.frames > 1)
            printf("  %u frames (concatenated .oz files): sizes and counts are their totals; the stream size "
                   "is the first frame's, the model line the first model's\n", info.frames);
        printf("  format %u.%u, %llu bytes, stream size %u, streams: %u model, %u xz, %u zstd, %u bzip2, %u brotli, "
               "%u stored\n",
               info.format_major, info.format_minor, (unsigned long long)info.compressed_size, info.stream_block,
               info.method_count[1], info.method_count[2], info.method_count[3], info.method_count[4],
               info.method_count[5], info.method_count[0]);
        if (info.has_model && !info.model_external)
            printf("  model: L=%u D=%u H=%u F=%u W=%u wbits=%u tied=%u, %llu params, %llu bytes stored "
                   "(%llu decoded), XXH64 %016llx\n",
                   info.n_layer, info.d_model, info.n_head, info.d_ff, info.ctx, info.wbits, info.tied,
                   (unsigned long long)info.model_params, (unsigned long long)info.model_bytes,
                   (unsigned long long)info.model_image_bytes, (unsigned long long)info.model_xxh64);
        else if (info.model_external)
            printf("  model: external, XXH64 %016llx (%llu bytes decoded)\n", (unsigned long long)info.model_xxh64,
                   (unsigned long long)info.model_image_bytes);
        else
            printf("  model: none\n");
        printf("  streams %llu bytes, header %llu bytes\n", (unsigned long long)info.stream_bytes,
               (unsigned long long)(info.compressed_size - info.stream_bytes - info.model_bytes));
    }
    return 0;
}

/* compress_input's writer: each frame (one call) to fd; the first one's
 * model to --save-model's file */
typedef struct frame_sink {
    cli *c;
    int fd;
    uint32_t frames;
    int werr;     /* the output's errno value, once writing it failed */
    int model_rc; /* --save-model: 0, or 1 once it failed (reported) */
} frame_sink;

static int frame_write(void *user, const void *data, size_t n)
{
    frame_sink *fk = (frame_sink *)user;
    int err = oz_output_fd_write(&fk->fd, data, n);
    if (err)
        fk->werr = err;
    if (!err && fk->frames++ == 0 && fk->c->save_model) {
        void *m = NULL;
        size_t mn = 0;
        ozip_status s = ozip_extract_model(data, n, &m, &mn, &fk->c->p);
        fk->model_rc = s != OZIP_OK ? fail(fk->c, fk->c->save_model, s)
                                    : write_output(fk->c, fk->c->save_model, m, mn, NULL);
        free(m);
        if (fk->model_rc)
            err = -1; /* stop; the message is out */
    }
    return err;
}

/* Compresses `in` (oz_input_open) to dst (NULL: standard output), a frame
 * per --frame-size (default 1 GiB) of input, each written as soon as it is
 * made (ozip_compress_to on a mapped file, ozip_compress_stream on a pipe),
 * so that a pipe is never held whole. A file output is a temporary file
 * renamed only once every frame is in. */
static int compress_input(cli *c, const char *name, const char *dst, oz_input *in, double t0)
{
    frame_sink fk = {c, 1, 0, 0, 0};
    ozip_report rep;
    ozip_status s;
    oz_output o;
    int rc = 0, err = dst ? oz_output_begin(dst, &o) : 0;
    if (err)
        return io_fail(c, dst, err);
    if (dst)
        fk.fd = o.fd;
    memset(&rep, 0, sizeof rep);
    c->p.report = &rep;
    s = in->mapped ? ozip_compress_to(in->data, in->size, frame_write, &fk, &c->p)
                   : ozip_compress_stream(oz_fd_read, &in->fd, frame_write, &fk, &c->p);
    c->p.report = NULL;
    if (s != OZIP_OK && (fk.werr || fk.model_rc)) { /* reported here, not as the library words it */
        c->p.errbuf[0] = 0;
        rc = fk.werr ? io_fail(c, dst, fk.werr) : 1;
    } else if (s != OZIP_OK) {
        rc = fail(c, name, s);
    }
    if (dst) {
        err = oz_output_end(&o, dst, in, rc != 0);
        if (!rc && err)
            rc = io_fail(c, dst, err);
    }
    progress_clear(c);
    if (!rc && !c->quiet && (c->verbose || isatty(2)))
        print_summary(c, name, &rep, now_s() - t0, rep.frames);
    return rc;
}

static int process(cli *c, const char *path, int *list_header)
{
    int from_stdin = !path || !strcmp(path, "-");
    const char *name = from_stdin ? "(stdin)" : path;
    char *dst = NULL;
    oz_input in;
    void *out = NULL;
    size_t out_n = 0;
    ozip_status s;
    ozip_report rep;
    int err, rc = 0, to_stdout = c->to_stdout || (from_stdin && !c->out_path);
    double t0 = now_s();
    struct stat st;

    if (c->op == OP_COMPRESS && !from_stdin && has_suffix(path, ".oz") && !c->force) {
        fprintf(stderr, "%s: %s: already has the .oz suffix, skipped (use -f to compress it anyway)\n", prog, path);
        return 1;
    }
    if (!from_stdin && stat(path, &st) == 0 && !S_ISREG(st.st_mode) && c->op != OP_LIST && c->op != OP_TEST &&
        !to_stdout) {
        fprintf(stderr, "%s: %s: not a regular file, skipped\n", prog, path);
        return 1;
    }
    if (c->op == OP_COMPRESS || c->op == OP_DECOMPRESS) {
        if (c->out_path) {
            dst = strdup(c->out_path);
        } else if (!to_stdout) {
            if (c->op == OP_COMPRESS) {
                if (asprintf(&dst, "%s.oz", path) < 0)
                    dst = NULL;
            } else {
                if (!has_suffix(path, ".oz")) {
                    fprintf(stderr, "%s: %s: unknown suffix (expected .oz), skipped; use -c or -o\n", prog, path);
                    return 1;
                }
                dst = strndup(path, strlen(path) - 3);
            }
            if (!dst) {
                fprintf(stderr, "%s: out of memory\n", prog);
                return 1;
            }
        }
        /* what --rm would lose or not free, refused as xz does (-f: go on) */
        if (dst && c->rm && !c->force && !from_stdin) {
            struct stat ls;
            const char *why = NULL;
            if (lstat(path, &ls) != 0)
                ; /* reading it will say why */
            else if (S_ISLNK(ls.st_mode))
                why = "is a symbolic link (--rm would remove the link, not the file)";
            else if (ls.st_nlink > 1)
                why = "has other hard links (--rm would not free its space)";
            if (why) {
                fprintf(stderr, "%s: %s: %s, skipped; use -f to go on\n", prog, path, why);
                free(dst);
                return 1;
            }
        }
        if (dst && !c->force && access(dst, F_OK) == 0) {
            fprintf(stderr, "%s: %s: already exists; use -f to overwrite\n", prog, dst);
            free(dst);
            return 1;
        }
        if (!dst && c->op == OP_COMPRESS && isatty(1) && !c->force) {
            fprintf(stderr, "%s: refusing to write compressed data to a terminal (use -f to force)\n", prog);
            return 1;
        }
    }
    if (from_stdin && isatty(0) && c->op != OP_COMPRESS && !c->force) {
        fprintf(stderr, "%s: refusing to read compressed data from a terminal (use -f to force)\n", prog);
        free(dst);
        return 1;
    }
    /* compressing, decompressing, testing: the input in pieces
     * (compress_input, ozip_decompress_stream) unless it is mapped whole;
     * listing: whole */
    err = c->op != OP_LIST ? oz_input_open(from_stdin ? NULL : path, &in)
                           : oz_input_read(from_stdin ? NULL : path, &in);
    if (err) {
        fprintf(stderr, "%s: %s: %s\n", prog, name, strerror(err));
        free(dst);
        return 1;
    }
    memset(&rep, 0, sizeof rep);
    c->p.report = &rep;
    switch (c->op) {
    case OP_COMPRESS:
        rc = compress_input(c, name, dst, &in, t0);
        break;
    case OP_DECOMPRESS:
    case OP_TEST: {
        /* piece by piece (the library holds at most decode_buffer bytes of
         * output), into a temporary file renamed at the end, to stdout, or
         * (-t) nowhere */
        sink sk = {c->op == OP_TEST ? -1 : 1, 0};
        oz_output o;
        err = dst ? oz_output_begin(dst, &o) : 0;
        if (err) {
            rc = io_fail(c, dst, err);
            break;
        }
        if (dst)
            sk.fd = o.fd;
        if (in.mapped)
            s = ozip_decompress_to(in.data, in.size, sink_write, &sk, &c->p);
        else /* a pipe (or a file that could not be mapped): a frame at a time */
            s = ozip_decompress_stream(oz_fd_read, &in.fd, sink_write, &sk, &c->p);
        if (dst) {
            err = oz_output_end(&o, dst, &in, s != OZIP_OK);
            if (s == OZIP_OK && err) {
                rc = io_fail(c, dst, err);
                break;
            }
        }
        if (s != OZIP_OK) {
            rc = fail(c, name, s);
            break;
        }
        progress_clear(c);
        out_n = (size_t)sk.bytes;
        if (c->verbose) {
            fprintf(stderr, "%s: %s: %llu bytes, %.1f s (%.1f KB/s)\n", name, c->op == OP_TEST ? "OK" : "decompressed",
                    (unsigned long long)out_n, now_s() - t0, out_n / 1000.0 / (now_s() - t0 + 1e-9));
            print_device(&rep);
        }
        break;
    }
    case OP_LIST:
        rc = do_list(c, name, &in, list_header);
        break;
    }
    c->p.report = NULL;
    free(out);
    oz_input_free(&in);
    if (!rc && c->rm && !from_stdin && dst && (c->op == OP_COMPRESS || c->op == OP_DECOMPRESS)) {
        if (unlink(path) != 0) {
            fprintf(stderr, "%s: %s: cannot remove: %s\n", prog, path, strerror(errno));
            rc = 1;
        }
    }
    free(dst);
    return rc;
}

static int parse_size(const char *s, uint32_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return -1;
    if (*end == 'K' || *end == 'k')
        v <<= 10, end++;
    else if (*end == 'M' || *end == 'm')
        v <<= 20, end++;
    else if (*end == 'G' || *end == 'g')
        v <<= 30, end++;
    if (*end == 'i' && end[1] == 'B')
        end += 2;
    else if (*end == 'B')
        end++;
    if (*end || v < 1 || v > 0xFFFFFFFFull)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static void print_version(int verbose)
{
    printf("ozip %s (format 1.0)\n", ozip_version_string());
    printf("backends: %s\n", ozip_backends());
    if (verbose) {
        const char *ct = getenv("OPENBLAS_CORETYPE");
        char cuda[1024], blas[768];
        printf("trainer: cpu (%s%s%s)\n", tr_blas_describe(blas, sizeof blas), ct ? ", OPENBLAS_CORETYPE=" : "",
               ct ? ct : "");
        oz_cuda_describe(cuda, sizeof cuda);
        printf("cuda: %s\n", cuda);
        {
            const char *why = NULL, *force = getenv("OZIP_FORCE_ISA");
            int isa = ozf_select_isa(&why);
            if (force && !strcmp(force, "ref")) /* as oz_engine_pick() reads it */
                printf("inference: reference (OZIP_FORCE_ISA=ref: core/'s integer model, no SIMD engine)\n");
            else
                printf("inference: %s%s%s%s\n", isa >= 0 ? ozf_isa_name(isa) : "none",
                       isa == OZF_AVX512 && ozf_amx_available() ? " (encode on AMX-INT8: matrix products, attention value sums)" : "",
                       why ? " - " : "", why ? why : "");
        }
        printf("classic: %s\n", classic_versions());
        printf("threads: %ld online CPUs\n", sysconf(_SC_NPROCESSORS_ONLN));
    }
}

int main(int argc, char **argv)
{
    static char errbuf[1024];
    cli c;
    int opt, rc = 0, i, list_header = 0, nfiles;
    enum {
        O_RM = 256, O_DEVICE, O_TRAIN_TIME, O_EPOCHS, O_STREAM_SIZE, O_MODEL, O_SAVE_MODEL, O_NO_MODEL,
        O_FORCE_MODEL, O_ARCH, O_SEED, O_EXTERNAL, O_SAMPLE, O_BUFFER, O_FRAME_SIZE, O_TRAIN_EACH
    };
    static const struct option longopts[] = {
        {"compress", no_argument, 0, 'z'},
        {"decompress", no_argument, 0, 'd'},
        {"uncompress", no_argument, 0, 'd'},
        {"test", no_argument, 0, 't'},
        {"list", no_argument, 0, 'l'},
        {"stdout", no_argument, 0, 'c'},
        {"to-stdout", no_argument, 0, 'c'},
        {"output", required_argument, 0, 'o'},
        {"force", no_argument, 0, 'f'},
        {"keep", no_argument, 0, 'k'},
        {"rm", no_argument, 0, O_RM},
        {"threads", required_argument, 0, 'T'},
        {"device", required_argument, 0, O_DEVICE},
        {"train-time", required_argument, 0, O_TRAIN_TIME},
        {"epochs", required_argument, 0, O_EPOCHS},
        {"stream-size", required_argument, 0, O_STREAM_SIZE},
        {"sample", required_argument, 0, O_SAMPLE},
        {"buffer", required_argument, 0, O_BUFFER},
        {"frame-size", required_argument, 0, O_FRAME_SIZE},
        {"train-each-frame", no_argument, 0, O_TRAIN_EACH},
        {"model", required_argument, 0, O_MODEL},
        {"external-model", no_argument, 0, O_EXTERNAL},
        {"save-model", required_argument, 0, O_SAVE_MODEL},
        {"no-model", no_argument, 0, O_NO_MODEL},
        {"force-model", no_argument, 0, O_FORCE_MODEL},
        {"arch", required_argument, 0, O_ARCH},
        {"seed", required_argument, 0, O_SEED},
        {"verbose", no_argument, 0, 'v'},
        {"quiet", no_argument, 0, 'q'},
        {"version", no_argument, 0, 'V'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int show_version = 0;

    tr_blas_env(); /* before OpenBLAS loads (gpu_train/blas.c) and before any thread */
    prog = "ozip";
    memset(&c, 0, sizeof c);
    ozip_params_init(&c.p);
    c.p.errbuf = errbuf;
    c.p.errbuf_size = sizeof errbuf;
    errbuf[0] = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "zdtlco:fkT:vqVh123456789", longopts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'z':
            c.op = OP_COMPRESS;
            break;
        case 'd':
            c.op = OP_DECOMPRESS;
            break;
        case 't':
            c.op = OP_TEST;
            break;
        case 'l':
            c.op = OP_LIST;
            break;
        case 'c':
            c.to_stdout = 1;
            break;
        case 'o':
            c.out_path = optarg;
            break;
        case 'f':
            c.force = 1;
            break;
        case 'k':
            c.rm = 0;
            break;
        case O_RM:
            c.rm = 1;
            break;
        case 'T':
            c.p.threads = (int)strtol(optarg, &end, 10);
            if (*end || c.p.threads < 0 || c.p.threads > 1024) {
                fprintf(stderr, "%s: -T: expected a thread count 0..1024, got '%s'\n", prog, optarg);
                return 2;
            }
            break;
        case O_DEVICE:
            if (strcmp(optarg, "auto") && strcmp(optarg, "cpu") && strcmp(optarg, "cuda") &&
                strcmp(optarg, "opencl") && strcmp(optarg, "fpga") && strcmp(optarg, "emu") && strcmp(optarg, "xrt")) {
                fprintf(stderr, "%s: --device: '%s' is not one of auto, cpu, cuda, opencl, fpga, emu, xrt\n", prog,
                        optarg);
                return 2;
            }
            c.p.device = optarg;
            break;
        case O_TRAIN_TIME:
            c.p.train_seconds = strtod(optarg, &end);
            if (*end || c.p.train_seconds <= 0) {
                fprintf(stderr, "%s: --train-time: expected seconds > 0, got '%s'\n", prog, optarg);
                return 2;
            }
            break;
        case O_EPOCHS:
            c.p.epochs = strtod(optarg, &end);
            if (*end || c.p.epochs <= 0 || c.p.epochs > 10000) {
                fprintf(stderr, "%s: --epochs: expected a number > 0, got '%s'\n", prog, optarg);
                return 2;
            }
            break;
        case O_STREAM_SIZE:
            if (parse_size(optarg, &c.p.stream_size) || c.p.stream_size < 1024) {
                fprintf(stderr, "%s: --stream-size: expected 1K..4G, got '%s'\n", prog, optarg);
                return 2;
            }
            break;
        case O_SAMPLE: {
            uint32_t mib;
            /* parse_size works in 32 bits; accept up to 4G here */
            if (parse_size(optarg, &mib) || mib < 4096) {
                fprintf(stderr, "%s: --sample: expected 4K..4G, got '%s'\n", prog, optarg);
                return 2;
            }
            c.p.train_sample = mib;
            break;
        }
        case O_TRAIN_EACH:
            c.p.train_each_frame = 1;
            break;
        case O_FRAME_SIZE: {
            uint32_t v;
            if (parse_size(optarg, &v) || v < 4096) {
                fprintf(stderr, "%s: --frame-size: expected 4K..4G, got '%s'\n", prog, optarg);
                return 2;
            }
            c.p.frame_size = v;
            break;
        }
        case O_BUFFER: {
            uint32_t v;
            if (parse_size(optarg, &v)) {
                fprintf(stderr, "%s: --buffer: expected 1..4G, got '%s'\n", prog, optarg);
                return 2;
            }
            c.p.decode_buffer = v;
            break;
        }
        case O_MODEL:
            c.model_path = optarg;
            break;
        case O_EXTERNAL:
            c.external_model = 1;
            break;
        case O_SAVE_MODEL:
            c.save_model = optarg;
            break;
        case O_NO_MODEL:
            c.p.no_model = 1;
            break;
        case O_FORCE_MODEL:
            c.p.force_model = 1;
            break;
        case O_ARCH:
            c.p.arch = optarg;
            break;
        case O_SEED:
            c.p.seed = strtoull(optarg, &end, 10);
            if (*end) {
                fprintf(stderr, "%s: --seed: expected a number, got '%s'\n", prog, optarg);
                return 2;
            }
            break;
        case 'v':
            c.verbose++;
            break;
        case 'q':
            c.quiet = 1;
            break;
        case 'V':
            show_version = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
            c.p.level = opt - '0';
            break;
        default:
            if (optopt && optopt < 256)
                fprintf(stderr, "%s: invalid option or missing argument: -%c\n", prog, optopt);
            else
                fprintf(stderr, "%s: invalid option or missing argument: %s\n", prog, argv[optind - 1]);
            fprintf(stderr, "Try '%s --help' for more information.\n", prog);
            return 2;
        }
    }
    if (show_version) {
        print_version(c.verbose);
        return 0;
    }
    nfiles = argc - optind;
    if (c.out_path && nfiles > 1) {
        fprintf(stderr, "%s: -o takes a single input file\n", prog);
        return 2;
    }
    if (c.out_path && c.to_stdout) {
        fprintf(stderr, "%s: -o and -c contradict each other\n", prog);
        return 2;
    }
    if (c.out_path && !strcmp(c.out_path, "-")) { /* -o -: standard output (./- names a file) */
        c.out_path = NULL;
        c.to_stdout = 1;
    }
    if (c.external_model && !c.model_path) {
        fprintf(stderr, "%s: --external-model needs --model=FILE\n", prog);
        return 2;
    }
    if (c.save_model && c.op != OP_COMPRESS) {
        fprintf(stderr, "%s: --save-model works when compressing\n", prog);
        return 2;
    }
    c.p.verbose = c.quiet ? 0 : c.verbose; /* library notes: level 1 at -v (device choice), 2 at -vv */
    c.progress_tty = !c.quiet && isatty(2);
    if (c.progress_tty) {
        c.p.progress = progress_cb;
        c.p.progress_user = &c;
    }
    if (c.model_path) {
        int err = oz_input_read(c.model_path, &c.model);
        if (err) {
            fprintf(stderr, "%s: %s: %s\n", prog, c.model_path, strerror(err));
            return 1;
        }
        c.p.model = c.model.data;
        c.p.model_size = c.model.size;
        c.p.model_external = c.external_model;
        /* once, naming the model file, before any input is read */
        ozip_status ms = ozip_check_model(c.model.data, c.model.size, &c.p);
        if (ms != OZIP_OK) {
            fprintf(stderr, "%s: %s: %s\n", prog, c.model_path, errbuf[0] ? errbuf : ozip_strerror(ms));
            oz_input_free(&c.model);
            return 1;
        }
    }
    signal(SIGINT, cleanup_on_signal);
    signal(SIGTERM, cleanup_on_signal);
    signal(SIGHUP, cleanup_on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (nfiles == 0) {
        rc |= process(&c, NULL, &list_header);
    } else {
        for (i = optind; i < argc; i++)
            rc |= process(&c, argv[i], &list_header);
    }
    if (c.op == OP_LIST && c.list_files > 1) {
        char h[32];
        snprintf(h, sizeof h, "(%u files)", c.list_files);
        list_row(c.list_streams, c.list_model, c.list_comp, c.list_orig, h, "total");
    }
    if (c.model_path)
        oz_input_free(&c.model);
    return rc ? 1 : 0;
}
