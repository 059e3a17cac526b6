/* backend_fpga.c - decoding model streams with the FPGA kernel (hls/) on any
 * device that runs it: the emulated card, an OpenCL runtime, XRT.
 *
 * The same sequence for every device, as a card needs it: check the model
 * against the kernel's limits; open the device (load the .xclbin, the native
 * kernel or the OpenCL program); put the model, the descriptor and the
 * payloads in device buffers; launch; read back the status (kernel result,
 * one result per stream, the cycle counters) and the decoded bytes. Streams
 * go in batches of at most OZ_KBATCH bytes each way. Each job's rc is the
 * kernel's OZ_CORE_* result for its stream, so a corrupt stream gives the
 * same message as on the CPU; a kernel that did not run, or wrote no result
 * for a stream, is a device error, never a decoded stream. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../hls/lmdec_host.h"
#include "internal.h"

#define OZ_KBATCH ((uint64_t)256 << 20)

const char *oz_exe_dir(void)
{
    static char dir[PATH_MAX];
    ssize_t n;
    if (dir[0])
        return dir;
    n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0) {
        strcpy(dir, ".");
        return dir;
    }
    dir[n] = 0;
    if (strrchr(dir, '/'))
        *strrchr(dir, '/') = 0;
    return dir;
}

typedef struct kd_run {
    const oz_kdev_ops *ops;
    oz_kdev *d;
    oz_kbuf *model;
    uint64_t cycles;
    uint32_t mhz, pe, lanes;
    int counted;
} kd_run;

/* One batch: jobs[0..n). */
static ozip_status kd_batch(kd_run *r, const oz_loaded_model *lm, oz_stream_job *jobs, uint32_t n,
                            const ozip_params *p)
{
    ozk_job *kj = calloc(n, sizeof *kj);
    oz_kbuf *b[OZ_KARG_NBUF] = {0};
    uint8_t *out = NULL;
    ozk_bufs kb;
    ozip_status s = OZIP_OK;
    uint32_t i, *st;
    memset(&kb, 0, sizeof kb);
    if (!kj)
        return oz_fail(p, OZIP_ERR_NOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        kj[i].in = jobs[i].in;
        kj[i].in_len = jobs[i].in_len;
        kj[i].out_len = jobs[i].out_len;
    }
    if (ozk_pack(&lm->m, lm->image, lm->size, kj, n, &kb) != 0 || !(out = malloc(kb.out_bytes))) {
        s = oz_fail(p, OZIP_ERR_NOMEM, "out of memory for the device buffers");
        goto done;
    }
    b[OZ_KARG_MODEL] = r->model;
    if ((s = r->ops->alloc(r->d, OZ_KARG_DESC, kb.desc_bytes, &b[OZ_KARG_DESC], p)) != OZIP_OK ||
        (s = r->ops->alloc(r->d, OZ_KARG_IN, kb.in_bytes, &b[OZ_KARG_IN], p)) != OZIP_OK ||
        (s = r->ops->alloc(r->d, OZ_KARG_OUT, kb.out_bytes, &b[OZ_KARG_OUT], p)) != OZIP_OK ||
        (s = r->ops->alloc(r->d, OZ_KARG_STATUS, kb.status_bytes, &b[OZ_KARG_STATUS], p)) != OZIP_OK)
        goto done;
    if ((s = r->ops->write(r->d, b[OZ_KARG_DESC], kb.desc, kb.desc_bytes, p)) != OZIP_OK ||
        (s = r->ops->write(r->d, b[OZ_KARG_IN], kb.in, kb.in_bytes, p)) != OZIP_OK ||
        (s = r->ops->write(r->d, b[OZ_KARG_STATUS], kb.status, kb.status_bytes, p)) != OZIP_OK)
        goto done;
    if ((s = r->ops->run(r->d, b, n, p)) != OZIP_OK)
        goto done;
    st = kb.status;
    if ((s = r->ops->read(r->d, b[OZ_KARG_STATUS], st, kb.status_bytes, p)) != OZIP_OK)
        goto done;
    if (st[OZK_ST_DONE] != OZK_DONE || st[OZK_ST_RC] != OZK_OK) {
        s = oz_fail(p, OZIP_ERR_DEVICE, "%s: %s%s", r->ops->name, ozk_strerror(st),
                    st[OZK_ST_DONE] != OZK_DONE ? " (the device ran nothing: an emulation or no-op runtime?)" : "");
        goto done;
    }
    if ((s = r->ops->read(r->d, b[OZ_KARG_OUT], out, kb.out_bytes, p)) != OZIP_OK)
        goto done;
    for (i = 0; i < n; i++) {
        uint32_t rc = st[OZK_ST_STREAMS + i];
        if (rc != OZ_CORE_OK && rc != OZ_CORE_ETRUNC && rc != OZ_CORE_ECORRUPT) {
            s = oz_fail(p, OZIP_ERR_DEVICE, "%s: the kernel wrote no valid result for stream job %u (0x%x)",
                        r->ops->name, i, rc);
            goto done;
        }
        jobs[i].rc = (int)rc;
        memcpy(jobs[i].out, out + kb.out_off[i], (size_t)jobs[i].out_len);
    }
    r->pe = st[OZK_ST_PE];
    r->lanes = st[OZK_ST_LANES];
    r->mhz = st[OZK_ST_CLOCK];
    r->cycles += ozk_status64(st, OZK_ST_CYC_STEP) + ozk_status64(st, OZK_ST_CYC_IO) +
                 ozk_status64(st, OZK_ST_CYC_LOAD);
    r->counted = r->cycles != 0;
done:
    for (i = OZ_KARG_DESC; i < OZ_KARG_NBUF; i++)
        if (b[i])
            r->ops->release(r->d, b[i]);
    ozk_bufs_free(&kb);
    free(out);
    free(kj);
    return s;
}

/* Opens the first device of ops[] that opens; the error names every one tried. */
static ozip_status kd_open(const oz_kdev_ops *const *ops, int nops, const char *what, kd_run *r,
                           const ozip_params *p)
{
    char msg[1024] = "";
    ozip_status s = OZIP_ERR_DEVICE;
    int i;
    for (i = 0; i < nops; i++) {
        s = ops[i]->open(&r->d, p);
        if (s == OZIP_OK) {
            r->ops = ops[i];
            return OZIP_OK;
        }
        if (p->errbuf)
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s%s", i ? "; " : "", p->errbuf);
    }
    return nops == 1 ? s : oz_fail(p, s, "%s: no device could run the kernel (%s)", what, msg);
}

ozip_status oz_kernel_decode(const oz_kdev_ops *const *ops, int nops, const char *what, const oz_loaded_model *lm,
                             oz_stream_job *jobs, uint32_t njobs, const ozip_params *p)
{
    kd_run r;
    char why[512];
    uint8_t *img = NULL;
    size_t isz = ((size_t)lm->size + 63) & ~(size_t)63;
    uint64_t done = 0, total = 0;
    uint32_t i, first = 0;
    ozip_status s;
    memset(&r, 0, sizeof r);
    if (ozk_model_fits(&lm->m.cfg, why, sizeof why) != OZK_L_NONE)
        return oz_fail(p, OZIP_ERR_DEVICE, "%s: %s; decode this file with --device cpu", what, why);
    for (i = 0; i < njobs; i++)
        total += jobs[i].out_len;
    s = kd_open(ops, nops, what, &r, p);
    if (s != OZIP_OK)
        return s;
    img = calloc(1, isz);
    if (!img) {
        s = oz_fail(p, OZIP_ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(img, lm->image, lm->size);
    if ((s = r.ops->alloc(r.d, OZ_KARG_MODEL, isz, &r.model, p)) != OZIP_OK ||
        (s = r.ops->write(r.d, r.model, img, isz, p)) != OZIP_OK)
        goto done;
    while (first < njobs) {
        uint64_t in_b = 0, out_b = 0;
        uint32_t n = 0;
        while (first + n < njobs && (n == 0 || (in_b + jobs[first + n].in_len <= OZ_KBATCH &&
                                                out_b + jobs[first + n].out_len <= OZ_KBATCH))) {
            in_b += jobs[first + n].in_len + 64;
            out_b += jobs[first + n].out_len;
            n++;
        }
        s = kd_batch(&r, lm, jobs + first, n, p);
        if (s != OZIP_OK)
            goto done;
        first += n;
        done += out_b;
        if (p->progress) {
            ozip_progress pr;
            memset(&pr, 0, sizeof pr);
            pr.phase = OZIP_PHASE_DECODE;
            pr.done = done;
            pr.total = total;
            p->progress(p->progress_user, &pr);
        }
    }
    if (p->report) {
        snprintf(p->report->decode_device, sizeof p->report->decode_device, "%s: %s", r.ops->name,
                 r.ops->describe(r.d));
        /* added up over the frames of a file (ozip_decompress resets them) */
        p->report->device_cycles += r.counted ? r.cycles : 0;
        p->report->device_mhz = r.mhz;
        p->report->device_bytes += total;
    }
    oz_log(p, 2, "%s: %u streams on %s, kernel %u PEs x %u lanes%s", r.ops->name, njobs, r.ops->describe(r.d),
           r.pe, r.lanes, r.counted ? "" : " (cycles not modelled on this device)");
done:
    if (r.model)
        r.ops->release(r.d, r.model);
    r.ops->close(r.d);
    free(img);
    return s;
}

/* ---- the backends ---- */

static ozip_status emu_decode(const oz_loaded_model *lm, oz_stream_job *jobs, uint32_t n, int threads,
                              const ozip_params *p)
{
    static const oz_kdev_ops *const ops[] = {&oz_kdev_emu};
    (void)threads;
    return oz_kernel_decode(ops, 1, "emu", lm, jobs, n, p);
}
const oz_backend oz_backend_emu = {"emu", emu_decode};

#ifdef OZ_HAVE_OPENCL
static ozip_status opencl_decode(const oz_loaded_model *lm, oz_stream_job *jobs, uint32_t n, int threads,
                                 const ozip_params *p)
{
    static const oz_kdev_ops *const ops[] = {&oz_kdev_opencl};
    (void)threads;
    return oz_kernel_decode(ops, 1, "opencl", lm, jobs, n, p);
}
const oz_backend oz_backend_opencl = {"opencl", opencl_decode};
#endif

#ifdef OZ_HAVE_XRT
static ozip_status xrt_decode(const oz_loaded_model *lm, oz_stream_job *jobs, uint32_t n, int threads,
                              const ozip_params *p)
{
    static const oz_kdev_ops *const ops[] = {&oz_kdev_xrt};
    (void)threads;
    return oz_kernel_decode(ops, 1, "xrt", lm, jobs, n, p);
}
const oz_backend oz_backend_xrt = {"xrt", xrt_decode};
#endif

/* fpga: a real card, through XRT if built, else through OpenCL on a Xilinx platform */
static ozip_status fpga_decode(const oz_loaded_model *lm, oz_stream_job *jobs, uint32_t n, int threads,
                               const ozip_params *p)
{
    static const oz_kdev_ops *const ops[] = {
#ifdef OZ_HAVE_XRT
        &oz_kdev_xrt,
#endif
#ifdef OZ_HAVE_OPENCL
        &oz_kdev_opencl_card,
#endif
        NULL};
    (void)threads;
    if (!ops[0])
        return oz_fail(p, OZIP_ERR_DEVICE,
                       "fpga: this ozip was built without XRT and OpenCL (see ozip -V); decode with --device cpu");
    return oz_kernel_decode(ops, (int)(sizeof ops / sizeof ops[0]) - 1, "fpga", lm, jobs, n, p);
}
const oz_backend oz_backend_fpga = {"fpga", fpga_decode};
