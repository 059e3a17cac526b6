/* backend_opencl.c - the FPGA kernel through an OpenCL runtime (the ICD
 * loader, libOpenCL), --device opencl; and, restricted to Xilinx platforms,
 * one of the ways of --device fpga.
 *
 * On a Xilinx platform (XRT's OpenCL, platform name "Xilinx") the program is
 * the card's .xclbin (clCreateProgramWithBinary), built for it with
 * `make -C bitstream`, and every buffer is placed in the memory bank of its
 * kernel argument with the Xilinx extension (cl_mem_ext_ptr_t, argidx +
 * kernel). On any other platform (PoCL in CI) the program is the kernel's
 * own source, hls/lmdec.c, built as OpenCL C, with one more argument: a
 * buffer standing in for the on-chip memories. The host code is otherwise
 * the same.
 *
 * Environment: OZIP_OPENCL_PLATFORM (a part of the platform's name to pick
 * it), OZIP_XCLBIN (the .xclbin; default: lmdec.xclbin next to ozip),
 * OZIP_KERNEL_DIR (the folder of lmdec.c; default: this source tree's hls/,
 * else ../share/ozip/hls beside the executable, where make install puts it). */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#ifdef OZ_HAVE_CL_EXT_XILINX
#include <CL/cl_ext_xilinx.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../hls/lmdec.h"
#include "fileio.h"
#include "internal.h"

#ifndef OZ_HLS_DIR
#define OZ_HLS_DIR "hls"
#endif

struct oz_kdev {
    cl_context ctx;
    cl_command_queue q;
    cl_program prog;
    cl_kernel k;
    cl_mem chip; /* source build only */
    int xilinx;
    char desc[160];
};

struct oz_kbuf {
    cl_mem m;
};

static const char *cl_err(cl_int e)
{
    static char b[32];
    switch (e) {
    case CL_DEVICE_NOT_FOUND: return "CL_DEVICE_NOT_FOUND";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_BUILD_PROGRAM_FAILURE: return "CL_BUILD_PROGRAM_FAILURE";
    case CL_INVALID_BINARY: return "CL_INVALID_BINARY";
    case CL_INVALID_KERNEL_NAME: return "CL_INVALID_KERNEL_NAME";
    case CL_INVALID_BUFFER_SIZE: return "CL_INVALID_BUFFER_SIZE";
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR (no OpenCL driver registered)";
    default: snprintf(b, sizeof b, "OpenCL error %d", (int)e); return b;
    }
}

static void cl_close(oz_kdev *d)
{
    if (!d)
        return;
    if (d->chip)
        clReleaseMemObject(d->chip);
    if (d->k)
        clReleaseKernel(d->k);
    if (d->prog)
        clReleaseProgram(d->prog);
    if (d->q)
        clReleaseCommandQueue(d->q);
    if (d->ctx)
        clReleaseContext(d->ctx);
    free(d);
}

/* The first platform with a device that card_only and OZIP_OPENCL_PLATFORM allow. */
static ozip_status pick(int card_only, cl_platform_id *pl, cl_device_id *dev, char *name, size_t nn,
                        const ozip_params *p)
{
    cl_platform_id ids[16];
    cl_uint n = 0, i, nd;
    const char *want = getenv("OZIP_OPENCL_PLATFORM");
    cl_int e = clGetPlatformIDs(16, ids, &n);
    if (e != CL_SUCCESS || n == 0)
        return oz_fail(p, OZIP_ERR_DEVICE,
                       "opencl: no OpenCL platform (%s); install pocl-opencl-icd or a vendor's driver",
                       e != CL_SUCCESS ? cl_err(e) : "none registered");
    for (i = 0; i < n && i < 16; i++) {
        name[0] = 0;
        clGetPlatformInfo(ids[i], CL_PLATFORM_NAME, nn, name, NULL);
        if (card_only && strcmp(name, "Xilinx") != 0)
            continue;
        if (want && *want && !strstr(name, want))
            continue;
        if (clGetDeviceIDs(ids[i], CL_DEVICE_TYPE_ALL, 1, dev, &nd) == CL_SUCCESS && nd > 0) {
            *pl = ids[i];
            return OZIP_OK;
        }
    }
    return oz_fail(p, OZIP_ERR_DEVICE, "opencl: no %splatform with a device%s%s", card_only ? "Xilinx " : "",
                   want && *want ? " whose name contains " : "", want && *want ? want : "");
}

static ozip_status build_binary(oz_kdev *d, cl_device_id dev, const ozip_params *p)
{
    const char *path = getenv("OZIP_XCLBIN");
    char def[4200];
    oz_input x;
    const unsigned char *bin;
    size_t len;
    cl_int e, st;
    int err;
    if (!path || !*path) {
        snprintf(def, sizeof def, "%s/lmdec.xclbin", oz_exe_dir());
        path = def;
    }
    err = oz_input_read(path, &x);
    if (err)
        return oz_fail(p, OZIP_ERR_DEVICE,
                       "opencl: the Xilinx platform needs the kernel's .xclbin: %s: %s (build it with make -C "
                       "bitstream TARGET=hw PLATFORM=..., then set OZIP_XCLBIN)", path, strerror(err));
    bin = (const unsigned char *)x.data;
    len = x.size;
    d->prog = clCreateProgramWithBinary(d->ctx, 1, &dev, &len, &bin, &st, &e);
    oz_input_free(&x);
    if (e != CL_SUCCESS || (e = clBuildProgram(d->prog, 1, &dev, "", NULL, NULL)) != CL_SUCCESS)
        return oz_fail(p, OZIP_ERR_DEVICE, "opencl: %s: cannot load the .xclbin (%s)", path, cl_err(e));
    snprintf(d->desc + strlen(d->desc), sizeof d->desc - strlen(d->desc), ", %s", path);
    return OZIP_OK;
}

static ozip_status build_source(oz_kdev *d, cl_device_id dev, const ozip_params *p)
{
    const char *dir = getenv("OZIP_KERNEL_DIR");
    char path[4300], opts[4400], inst[4200];
    oz_input x;
    const char *src;
    size_t len;
    cl_int e;
    int err;
    if (!dir || !*dir) {
        /* this source tree's hls/, else where make install put it */
        snprintf(inst, sizeof inst, "%s/../share/ozip/hls", oz_exe_dir());
        snprintf(path, sizeof path, "%s/lmdec.c", OZ_HLS_DIR);
        dir = access(path, R_OK) == 0 ? OZ_HLS_DIR : inst;
    }
    snprintf(path, sizeof path, "%s/lmdec.c", dir);
    err = oz_input_read(path, &x);
    if (err)
        return oz_fail(p, OZIP_ERR_DEVICE, "opencl: the kernel source %s: %s (set OZIP_KERNEL_DIR to the hls/ folder)",
                       path, strerror(err));
    src = (const char *)x.data;
    len = x.size;
    d->prog = clCreateProgramWithSource(d->ctx, 1, &src, &len, &e);
    oz_input_free(&x);
    if (e != CL_SUCCESS)
        return oz_fail(p, OZIP_ERR_DEVICE, "opencl: %s", cl_err(e));
    /* OZK_CHIP_BYTES: the kernel checks that its ozk_chip has this program's layout */
    snprintf(opts, sizeof opts, "-cl-std=CL1.2 -I%s -DOZK_CHIP_BYTES=%lu -w", dir, (unsigned long)sizeof(ozk_chip));
    e = clBuildProgram(d->prog, 1, &dev, opts, NULL, NULL);
    if (e != CL_SUCCESS) {
        char log[2048] = "";
        clGetProgramBuildInfo(d->prog, dev, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
        log[sizeof log - 1] = 0;
        return oz_fail(p, OZIP_ERR_DEVICE, "opencl: building %s as OpenCL C failed (%s): %.600s", path, cl_err(e), log);
    }
    d->chip = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE, sizeof(ozk_chip), NULL, &e);
    if (e != CL_SUCCESS)
        return oz_fail(p, OZIP_ERR_DEVICE, "opencl: no room for the kernel's %lu-byte on-chip memory (%s)",
                       (unsigned long)sizeof(ozk_chip), cl_err(e));
    snprintf(d->desc + strlen(d->desc), sizeof d->desc - strlen(d->desc), ", kernel built as OpenCL C");
    return OZIP_OK;
}

static ozip_status cl_open_any(oz_kdev **out, int card_only, const ozip_params *p)
{
    oz_kdev *d = calloc(1, sizeof *d);
    cl_platform_id pl;
    cl_device_id dev;
    char pname[128], dname[128] = "";
    cl_int e;
    ozip_status s;
    if (!d)
        return oz_fail(p, OZIP_ERR_NOMEM, "out of memory");
    s = pick(card_only, &pl, &dev, pname, sizeof pname, p);
    if (s != OZIP_OK) {
        free(d);
        return s;
    }
    clGetDeviceInfo(dev, CL_DEVICE_NAME, sizeof dname, dname, NULL);
    d->xilinx = strcmp(pname, "Xilinx") == 0;
    snprintf(d->desc, sizeof d->desc, "%.78s, %.78s", pname, dname); /* both names fit in desc[160] */
    d->ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &e);
    if (e == CL_SUCCESS)
        d->q = clCreateCommandQueue(d->ctx, dev, 0, &e);
    if (e != CL_SUCCESS) {
        cl_close(d);
        return oz_fail(p, OZIP_ERR_DEVICE, "opencl: %s: %s", pname, cl_err(e));
    }
    s = d->xilinx ? build_binary(d, dev, p) : build_source(d, dev, p);
    if (s == OZIP_OK) {
        d->k = clCreateKernel(d->prog, "lmdec", &e);
        if (e != CL_SUCCESS)
            s = oz_fail(p, OZIP_ERR_DEVICE, "opencl: the program has no kernel lmdec (%s)", cl_err(e));
    }
    if (s != OZIP_OK) {
        cl_close(d);
        return s;
    }
    *out = d;
    return OZIP_OK;
}

static ozip_status cl_open(oz_kdev **out, const ozip_params *p)
{
    return cl_open_any(out, 0, p);
}

static ozip_status cl_open_card(oz_kdev **out, const ozip_params *p)
{
    return cl_open_any(out, 1, p);
}

static ozip_status cl_alloc(oz_kdev *d, int arg, size_t n, oz_kbuf **b, const ozip_params *p)
{
    oz_kbuf *k = calloc(1, sizeof *k);
    cl_int e = CL_SUCCESS;
    if (!k)
        return oz_fail(p, OZIP_ERR_NOMEM, "out of memory");
#ifdef OZ_HAVE_CL_EXT_XILINX
    if (d->xilinx) {
        /* the bank of kernel argument `arg`, as the .xclbin's connectivity says */
        cl_mem_ext_ptr_t ext;
        memset(&ext, 0, sizeof ext);
        ext.argidx = (unsigned)arg;
        ext.kernel = d->k;
        k->m = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE | CL_MEM_EXT_PTR_XILINX, n, &ext, &e);
    } else
#endif
        k->m = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE, n, NULL, &e);
    if (e != CL_SUCCESS) {
        free(k);
        return oz_fail(p, OZIP_ERR_DEVICE, "opencl: a %zu-byte buffer for kernel argument %d: %s", n, arg, cl_err(e));
    }
    *b = k;
    return OZIP_OK;
}

static ozip_status cl_write(oz_kdev *d, oz_kbuf *b, const void *src, size_t n, const ozip_params *p)
{
    cl_int e = clEnqueueWriteBuffer(d->q, b->m, CL_TRUE, 0, n, src, 0, NULL, NULL);
    return e == CL_SUCCESS ? OZIP_OK : oz_fail(p, OZIP_ERR_DEVICE, "opencl: writing a buffer: %s", cl_err(e));
}

static ozip_status cl_read(oz_kdev *d, oz_kbuf *b, void *dst, size_t n, const ozip_params *p)
{
    cl_int e = clEnqueueReadBuffer(d->q, b->m, CL_TRUE, 0, n, dst, 0, NULL, NULL);
    return e == CL_SUCCESS ? OZIP_OK : oz_fail(p, OZIP_ERR_DEVICE, "opencl: reading a buffer: %s", cl_err(e));
}

static ozip_status cl_run(oz_kdev *d, oz_kbuf *const *b, uint32_t nstreams, const ozip_params *p)
{
    cl_uint ns = nstreams;
    size_t one = 1;
    cl_int e = CL_SUCCESS;
    int i;
    for (i = 0; i < OZ_KARG_NBUF && e == CL_SUCCESS; i++)
        e = clSetKernelArg(d->k, (cl_uint)i, sizeof(cl_mem), &b[i]->m);
    if (e == CL_SUCCESS)
        e = clSetKernelArg(d->k, OZ_KARG_NBUF, sizeof ns, &ns);
    if (e == CL_SUCCESS && !d->xilinx)
        e = clSetKernelArg(d->k, OZ_KARG_NBUF + 1, sizeof(cl_mem), &d->chip);
    /* one work-item: the kernel is a single task, as on the card */
    if (e == CL_SUCCESS)
        e = clEnqueueNDRangeKernel(d->q, d->k, 1, NULL, &one, &one, 0, NULL, NULL);
    if (e == CL_SUCCESS)
        e = clFinish(d->q);
    return e == CL_SUCCESS ? OZIP_OK : oz_fail(p, OZIP_ERR_DEVICE, "opencl: the launch failed: %s", cl_err(e));
}

static void cl_release(oz_kdev *d, oz_kbuf *b)
{
    (void)d;
    clReleaseMemObject(b->m);
    free(b);
}

static const char *cl_describe(oz_kdev *d)
{
    return d->desc;
}

const oz_kdev_ops oz_kdev_opencl = {"opencl", cl_open, cl_alloc, cl_write, cl_read, cl_run, cl_release, cl_close,
                                    cl_describe};
const oz_kdev_ops oz_kdev_opencl_card = {"opencl", cl_open_card, cl_alloc, cl_write, cl_read, cl_run, cl_release,
                                         cl_close, cl_describe};
