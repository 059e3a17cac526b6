/* cuda_plugin.c - finding and loading the CUDA trainer plugin
 * (libozip_cuda.so, gpu_train/cuda_api.h) at run time, so that ozip itself
 * needs no CUDA library, driver or GPU. What is missing is reported in the
 * order a user can act on it: plugin not built, no driver, plugin does not
 * load (a CUDA library missing), no usable GPU. */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../gpu_train/cuda_api.h"
#include "internal.h"

static struct {
    pthread_once_t find_once, open_once, probe_once;
    char path[PATH_MAX];
    const oz_cuda_api *api;
    int found, driver, usable;
    char why[512];    /* why the plugin is not loaded */
    char device[512]; /* probe: the GPU, or why none can train */
} cu = {PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, "", NULL, 0, 0, 0, "", ""};

/* Where the plugin may be: $OZIP_CUDA_PLUGIN, else beside the executable,
 * in build/ beside it (the source tree), or in ../lib/ozip/ (installed). */
static int find_plugin(char *out, size_t n)
{
    static const char *rel[] = {"libozip_cuda.so", "build/libozip_cuda.so", "../lib/ozip/libozip_cuda.so"};
    const char *env = getenv("OZIP_CUDA_PLUGIN");
    char exe[PATH_MAX], *slash;
    ssize_t k;
    size_t i;
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return access(out, R_OK) == 0;
    }
    k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0)
        return 0;
    exe[k] = 0;
    slash = strrchr(exe, '/');
    if (!slash)
        return 0;
    slash[1] = 0;
    for (i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        snprintf(out, n, "%s%s", exe, rel[i]);
        if (access(out, R_OK) == 0)
            return 1;
    }
    return 0;
}

static void find(void)
{
    const char *env = getenv("OZIP_CUDA_PLUGIN");
    cu.found = find_plugin(cu.path, sizeof cu.path);
    cu.driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_GLOBAL) != NULL;
    if (cu.found)
        return;
    if (env && *env)
        snprintf(cu.why, sizeof cu.why, "OZIP_CUDA_PLUGIN=%.400s: no such file", cu.path);
    else
        snprintf(cu.why, sizeof cu.why,
                 "this ozip was built without the CUDA trainer (no libozip_cuda.so beside it; "
                 "`make` builds it where nvcc is installed)");
}

static void open_plugin(void)
{
    void *h;
    oz_cuda_get_api_fn get;
    const oz_cuda_api *api;
    pthread_once(&cu.find_once, find);
    if (!cu.found)
        return;
    h = dlopen(cu.path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(cu.why, sizeof cu.why, "the CUDA trainer plugin does not load: %.400s", dlerror());
        return;
    }
    get = (oz_cuda_get_api_fn)dlsym(h, "oz_cuda_get_api");
    api = get ? get() : NULL;
    if (!api || api->version != OZ_CUDA_API_VERSION || api->opts_size != sizeof(tr_opts) ||
        api->scales_size != sizeof(tr_scales)) {
        snprintf(cu.why, sizeof cu.why, "the CUDA trainer plugin %.400s belongs to another ozip version", cu.path);
        return; /* not closed: unloading a CUDA runtime is not worth the risk */
    }
    cu.api = api;
}

static void probe(void)
{
    pthread_once(&cu.open_once, open_plugin);
    if (!cu.api)
        snprintf(cu.device, sizeof cu.device, "%s", cu.why);
    else
        cu.usable = cu.api->probe(cu.device, sizeof cu.device);
}

const oz_cuda_api *oz_cuda_api_get(void)
{
    pthread_once(&cu.open_once, open_plugin);
    return cu.api;
}

const oz_cuda_api *oz_cuda_usable(char *why, size_t n)
{
    pthread_once(&cu.find_once, find);
    if (!cu.found) {
        snprintf(why, n, "%s", cu.why);
        return NULL;
    }
    /* no driver: say so without loading the CUDA libraries to find it out */
    if (!cu.driver) {
        snprintf(why, n, "no NVIDIA driver (libcuda.so.1 not found)");
        return NULL;
    }
    pthread_once(&cu.probe_once, probe);
    snprintf(why, n, "%s", cu.device);
    return cu.usable ? cu.api : NULL;
}

void oz_cuda_describe(char *buf, size_t n)
{
    char dev[512];
    const oz_cuda_api *api = oz_cuda_api_get();
    if (!api) {
        snprintf(buf, n, "not available: %s", cu.why);
        return;
    }
    if (oz_cuda_usable(dev, sizeof dev))
        snprintf(buf, n, "%s (%s); GPU 0: %s", cu.path, api->build, dev);
    else
        snprintf(buf, n, "%s (%s); no usable GPU: %s", cu.path, api->build, dev);
}
