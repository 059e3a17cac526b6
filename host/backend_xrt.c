/* backend_xrt.c - the FPGA kernel on an Alveo card through XRT's native C API
 * (--device xrt, and the first choice of --device fpga).
 *
 * The sequence Vitis hosts use: xrtDeviceOpen -> xrtDeviceLoadXclbinFile ->
 * xrtPLKernelOpen("lmdec") -> per buffer xrtBOAlloc in the memory group of
 * its kernel argument (xrtKernelArgGroupId: the bank the .xclbin's
 * connectivity gave it), xrtBOMap / xrtBOSync -> xrtKernelRun -> xrtRunWait.
 *
 * libxrt_coreutil is loaded with dlopen when the backend is used, so ozip
 * starts and runs without XRT installed; the XRT headers (Debian's
 * libxrt-dev) are needed to build it. XRT needs XILINX_XRT set (AMD's
 * packages: /opt/xilinx/xrt; Debian's libxrt1: see docs/fpga.md).
 * Environment: OZIP_XCLBIN (default: lmdec.xclbin next to ozip),
 * OZIP_XRT_DEVICE (device index, default 0). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xrt/xrt_bo.h>
#include <xrt/xrt_device.h>
#include <xrt/xrt_kernel.h>

#include "internal.h"

#define XRT_LIB "libxrt_coreutil.so.2"

struct oz_kdev {
    void *lib;
    xrtDeviceHandle dev;
    xrtKernelHandle k;
    char desc[160];
    xrtDeviceHandle (*DeviceOpen)(unsigned);
    int (*DeviceClose)(xrtDeviceHandle);
    int (*LoadXclbinFile)(xrtDeviceHandle, const char *);
    int (*GetXclbinUUID)(xrtDeviceHandle, xuid_t);
    xrtKernelHandle (*KernelOpen)(xrtDeviceHandle, const xuid_t, const char *);
    int (*KernelClose)(xrtKernelHandle);
    int (*ArgGroupId)(xrtKernelHandle, int);
    xrtBufferHandle (*BOAlloc)(xrtDeviceHandle, size_t, xrtBufferFlags, xrtMemoryGroup);
    void *(*BOMap)(xrtBufferHandle);
    int (*BOSync)(xrtBufferHandle, enum xclBOSyncDirection, size_t, size_t);
    int (*BOFree)(xrtBufferHandle);
    xrtRunHandle (*KernelRun)(xrtKernelHandle, ...);
    enum ert_cmd_state (*RunWait)(xrtRunHandle);
    int (*RunClose)(xrtRunHandle);
};

struct oz_kbuf {
    xrtBufferHandle bo;
    void *map;
    size_t n;
};

static void xrt_close(oz_kdev *d)
{
    if (!d)
        return;
    if (d->k)
        d->KernelClose(d->k);
    if (d->dev)
        d->DeviceClose(d->dev);
    if (d->lib)
        dlclose(d->lib);
    free(d);
}

#define SYM(field, name) (*(void **)&d->field = dlsym(d->lib, name)) != NULL

static ozip_status xrt_open(oz_kdev **out, const ozip_params *p)
{
    oz_kdev *d = calloc(1, sizeof *d);
    const char *xclbin = getenv("OZIP_XCLBIN"), *idx = getenv("OZIP_XRT_DEVICE");
    char def[4200];
    xuid_t uuid;
    FILE *f;
    if (!d)
        return oz_fail(p, OZIP_ERR_NOMEM, "out of memory");
    d->lib = dlopen(XRT_LIB, RTLD_NOW | RTLD_LOCAL);
    if (!d->lib) {
        free(d);
        return oz_fail(p, OZIP_ERR_DEVICE, "xrt: cannot load %s (install XRT: Debian's libxrt1, or AMD's xrt package)",
                       XRT_LIB);
    }
    if (!(SYM(DeviceOpen, "xrtDeviceOpen") && SYM(DeviceClose, "xrtDeviceClose") &&
          SYM(LoadXclbinFile, "xrtDeviceLoadXclbinFile") && SYM(GetXclbinUUID, "xrtDeviceGetXclbinUUID") &&
          SYM(KernelOpen, "xrtPLKernelOpen") && SYM(KernelClose, "xrtKernelClose") &&
          SYM(ArgGroupId, "xrtKernelArgGroupId") && SYM(BOAlloc, "xrtBOAlloc") && SYM(BOMap, "xrtBOMap") &&
          SYM(BOSync, "xrtBOSync") && SYM(BOFree, "xrtBOFree") && SYM(KernelRun, "xrtKernelRun") &&
          SYM(RunWait, "xrtRunWait") && SYM(RunClose, "xrtRunClose"))) {
        xrt_close(d);
        return oz_fail(p, OZIP_ERR_DEVICE, "xrt: %s lacks the native C API (XRT 2.8 or newer is needed)", XRT_LIB);
    }
    if (!getenv("XILINX_XRT")) {
        xrt_close(d);
        return oz_fail(p, OZIP_ERR_DEVICE,
                       "xrt: XILINX_XRT is not set (source XRT's setup.sh, or see docs/fpga.md for Debian's XRT)");
    }
    if (!xclbin || !*xclbin) {
        snprintf(def, sizeof def, "%s/lmdec.xclbin", oz_exe_dir());
        xclbin = def;
    }
    if (!(f = fopen(xclbin, "rb"))) {
        xrt_close(d);
        return oz_fail(p, OZIP_ERR_DEVICE,
                       "xrt: no .xclbin at %s (build it with make -C bitstream TARGET=hw PLATFORM=..., then set "
                       "OZIP_XCLBIN)", xclbin);
    }
    fclose(f);
    d->dev = d->DeviceOpen(idx ? (unsigned)atoi(idx) : 0u);
    if (!d->dev) {
        xrt_close(d);
        return oz_fail(p, OZIP_ERR_DEVICE, "xrt: no device %s (is an Alveo card installed, with its driver?)",
                       idx ? idx : "0");
    }
    if (d->LoadXclbinFile(d->dev, xclbin) != 0 || d->GetXclbinUUID(d->dev, uuid) != 0) {
        xrt_close(d);
        return oz_fail(p, OZIP_ERR_DEVICE, "xrt: cannot load %s on device %s (built for another platform?)", xclbin,
                       idx ? idx : "0");
    }
    d->k = d->KernelOpen(d->dev, uuid, "lmdec");
    if (!d->k) {
        xrt_close(d);
        return oz_fail(p, OZIP_ERR_DEVICE, "xrt: %s has no kernel lmdec", xclbin);
    }
    snprintf(d->desc, sizeof d->desc, "device %s%s, %.100s", idx ? idx : "0",
             getenv("XCL_EMULATION_MODE") ? " (XCL_EMULATION_MODE set)" : "", xclbin);
    *out = d;
    return OZIP_OK;
}

static ozip_status xrt_alloc(oz_kdev *d, int arg, size_t n, oz_kbuf **b, const ozip_params *p)
{
    oz_kbuf *k = calloc(1, sizeof *k);
    int grp = d->ArgGroupId(d->k, arg);
    if (!k)
        return oz_fail(p, OZIP_ERR_NOMEM, "out of memory");
    if (grp < 0) {
        free(k);
        return oz_fail(p, OZIP_ERR_DEVICE, "xrt: kernel argument %d has no memory bank in the .xclbin", arg);
    }
    k->bo = d->BOAlloc(d->dev, n, XRT_BO_FLAGS_NONE, (xrtMemoryGroup)grp);
    if (!k->bo || !(k->map = d->BOMap(k->bo))) {
        if (k->bo)
            d->BOFree(k->bo);
        free(k);
        return oz_fail(p, OZIP_ERR_DEVICE, "xrt: cannot allocate %zu bytes in bank %d of the card", n, grp);
    }
    k->n = n;
    *b = k;
    return OZIP_OK;
}

static ozip_status xrt_write(oz_kdev *d, oz_kbuf *b, const void *src, size_t n, const ozip_params *p)
{
    memcpy(b->map, src, n);
    if (d->BOSync(b->bo, XCL_BO_SYNC_BO_TO_DEVICE, n, 0) != 0)
        return oz_fail(p, OZIP_ERR_DEVICE, "xrt: copying %zu bytes to the card failed", n);
    return OZIP_OK;
}

static ozip_status xrt_read(oz_kdev *d, oz_kbuf *b, void *dst, size_t n, const ozip_params *p)
{
    if (d->BOSync(b->bo, XCL_BO_SYNC_BO_FROM_DEVICE, n, 0) != 0)
        return oz_fail(p, OZIP_ERR_DEVICE, "xrt: copying %zu bytes from the card failed", n);
    memcpy(dst, b->map, n);
    return OZIP_OK;
}

static ozip_status xrt_run(oz_kdev *d, oz_kbuf *const *b, uint32_t nstreams, const ozip_params *p)
{
    /* scalars must have their exact width: nstreams is a 4-byte argument */
    xrtRunHandle r = d->KernelRun(d->k, b[OZ_KARG_MODEL]->bo, b[OZ_KARG_DESC]->bo, b[OZ_KARG_IN]->bo,
                                  b[OZ_KARG_OUT]->bo, b[OZ_KARG_STATUS]->bo, (uint32_t)nstreams);
    enum ert_cmd_state st;
    if (!r)
        return oz_fail(p, OZIP_ERR_DEVICE, "xrt: the launch failed");
    st = d->RunWait(r);
    d->RunClose(r);
    if (st != ERT_CMD_STATE_COMPLETED)
        return oz_fail(p, OZIP_ERR_DEVICE, "xrt: the kernel ended in state %d, not COMPLETED", (int)st);
    return OZIP_OK;
}

static void xrt_release(oz_kdev *d, oz_kbuf *b)
{
    d->BOFree(b->bo);
    free(b);
}

static const char *xrt_describe(oz_kdev *d)
{
    return d->desc;
}

const oz_kdev_ops oz_kdev_xrt = {"xrt", xrt_open, xrt_alloc, xrt_write, xrt_read, xrt_run, xrt_release, xrt_close,
                                 xrt_describe};
