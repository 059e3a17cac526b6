/* backend_emu.c - the emulated card (--device emu): the FPGA kernel built as
 * a native shared object (build/libozip_kernel_emu.so, from hls/lmdec.c and
 * hls/emu_device.c), loaded with dlopen and driven through the same buffer /
 * launch sequence as a card (host/backend_fpga.c). Its kernel counts the
 * cycles of the kernel's cycle model, which -v reports.
 *
 * Where the library is looked for: $OZIP_EMU_LIB, then next to the ozip
 * executable, in its build/ folder, in ../lib/ozip (make install), then in the
 * build folder ozip was built in. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../hls/lmdec.h"
#include "internal.h"

#define EMU_LIB "libozip_kernel_emu.so"
#ifndef OZ_BUILD_DIR
#define OZ_BUILD_DIR "build"
#endif

struct oz_kdev {
    void *lib;
    unsigned (*abi)(void);
    void (*build)(uint32_t *, uint32_t *, uint32_t *, uint64_t *);
    void *(*bo_alloc)(size_t);
    void *(*bo_map)(void *);
    int (*bo_sync)(void *, int, size_t, size_t);
    void (*bo_free)(void *);
    int (*run)(void *, void *, void *, void *, void *, uint32_t);
    char desc[96];
};

struct oz_kbuf {
    void *bo;
    size_t n;
};

static void *load_lib(char *tried, size_t tn)
{
    const char *env = getenv("OZIP_EMU_LIB");
    char path[1024], inst[1024];
    const char *dirs[4];
    void *h;
    int i;
    tried[0] = 0;
    if (env && *env) {
        snprintf(tried, tn, "%s: %s", env, (h = dlopen(env, RTLD_NOW | RTLD_LOCAL)) ? "" : dlerror());
        return h;
    }
    dirs[0] = oz_exe_dir();
    snprintf(path, sizeof path, "%s/build", oz_exe_dir());
    dirs[1] = path;
    snprintf(inst, sizeof inst, "%s/../lib/ozip", oz_exe_dir()); /* make install */
    dirs[2] = inst;
    dirs[3] = OZ_BUILD_DIR;
    for (i = 0; i < 4; i++) {
        char p[1100];
        snprintf(p, sizeof p, "%s/%s", dirs[i], EMU_LIB);
        if ((h = dlopen(p, RTLD_NOW | RTLD_LOCAL)))
            return h;
        snprintf(tried + strlen(tried), tn - strlen(tried), "%s%s", i ? ", " : "", p);
    }
    return NULL;
}

static ozip_status emu_open(oz_kdev **out, const ozip_params *p)
{
    char tried[4096];
    oz_kdev *d = calloc(1, sizeof *d);
    uint32_t pe, lanes, mhz;
    uint64_t chip;
    if (!d)
        return oz_fail(p, OZIP_ERR_NOMEM, "out of memory");
    d->lib = load_lib(tried, sizeof tried);
    if (!d->lib) {
        free(d);
        return oz_fail(p, OZIP_ERR_DEVICE,
                       "emu: cannot load the emulated kernel %s (tried %s); run make, or set OZIP_EMU_LIB", EMU_LIB,
                       tried);
    }
    *(void **)&d->abi = dlsym(d->lib, "ozemu_abi");
    *(void **)&d->build = dlsym(d->lib, "ozemu_build");
    *(void **)&d->bo_alloc = dlsym(d->lib, "ozemu_bo_alloc");
    *(void **)&d->bo_map = dlsym(d->lib, "ozemu_bo_map");
    *(void **)&d->bo_sync = dlsym(d->lib, "ozemu_bo_sync");
    *(void **)&d->bo_free = dlsym(d->lib, "ozemu_bo_free");
    *(void **)&d->run = dlsym(d->lib, "ozemu_run");
    if (!d->abi || !d->build || !d->bo_alloc || !d->bo_map || !d->bo_sync || !d->bo_free || !d->run ||
        d->abi() % 1000u != OZK_VERSION) {
        dlclose(d->lib);
        free(d);
        return oz_fail(p, OZIP_ERR_DEVICE, "emu: %s is not a kernel of this ozip's version; rebuild it with make",
                       EMU_LIB);
    }
    d->build(&pe, &lanes, &mhz, &chip);
    snprintf(d->desc, sizeof d->desc, "native kernel, %u PEs x %u lanes, cycles modelled at %u MHz", pe, lanes, mhz);
    *out = d;
    return OZIP_OK;
}

static ozip_status emu_alloc(oz_kdev *d, int arg, size_t n, oz_kbuf **b, const ozip_params *p)
{
    oz_kbuf *k = calloc(1, sizeof *k);
    (void)arg; /* one memory: no banks to choose */
    if (!k || !(k->bo = d->bo_alloc(n))) {
        free(k);
        return oz_fail(p, OZIP_ERR_NOMEM, "emu: out of device memory (%zu bytes)", n);
    }
    k->n = n;
    *b = k;
    return OZIP_OK;
}

static ozip_status emu_write(oz_kdev *d, oz_kbuf *b, const void *src, size_t n, const ozip_params *p)
{
    memcpy(d->bo_map(b->bo), src, n);
    if (d->bo_sync(b->bo, 1, n, 0) != 0)
        return oz_fail(p, OZIP_ERR_DEVICE, "emu: buffer sync to the device failed");
    return OZIP_OK;
}

static ozip_status emu_read(oz_kdev *d, oz_kbuf *b, void *dst, size_t n, const ozip_params *p)
{
    if (d->bo_sync(b->bo, 0, n, 0) != 0)
        return oz_fail(p, OZIP_ERR_DEVICE, "emu: buffer sync from the device failed");
    memcpy(dst, d->bo_map(b->bo), n);
    return OZIP_OK;
}

static ozip_status emu_run(oz_kdev *d, oz_kbuf *const *b, uint32_t nstreams, const ozip_params *p)
{
    if (d->run(b[OZ_KARG_MODEL]->bo, b[OZ_KARG_DESC]->bo, b[OZ_KARG_IN]->bo, b[OZ_KARG_OUT]->bo,
               b[OZ_KARG_STATUS]->bo, nstreams) != 0)
        return oz_fail(p, OZIP_ERR_DEVICE, "emu: the launch failed");
    return OZIP_OK;
}

static void emu_release(oz_kdev *d, oz_kbuf *b)
{
    d->bo_free(b->bo);
    free(b);
}

static void emu_close(oz_kdev *d)
{
    if (!d)
        return;
    dlclose(d->lib);
    free(d);
}

static const char *emu_describe(oz_kdev *d)
{
    return d->desc;
}

const oz_kdev_ops oz_kdev_emu = {"emu", emu_open, emu_alloc, emu_write, emu_read, emu_run, emu_release, emu_close,
                                 emu_describe};
