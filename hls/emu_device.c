/* emu_device.c - the emulated card: the kernel (lmdec.c) compiled natively,
 * behind a buffer / launch interface shaped like XRT's native API (what
 * Vitis sw_emu gave). Built as build/libozip_kernel_emu.so; the host's emu
 * backend (host/backend_emu.c) loads it with dlopen and drives it exactly as
 * it drives a card:
 *   ozemu_bo_alloc  a buffer in "device memory", apart from its host mirror
 *   ozemu_bo_map    the host mirror
 *   ozemu_bo_sync   copies between the two (nothing moves without it)
 *   ozemu_run       one launch of the kernel on the device copies, to the end
 * One compute unit: launches are serialised, as on a card with one CU. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lmdec.h"

#define OZEMU_ABI 1u

typedef struct ozemu_bo {
    uint8_t *host, *dev;
    size_t n;
} ozemu_bo;

static pthread_mutex_t cu_lock = PTHREAD_MUTEX_INITIALIZER;

unsigned ozemu_abi(void)
{
    return OZEMU_ABI * 1000u + OZK_VERSION;
}

/* The build parameters of this kernel, for the host's report. */
void ozemu_build(uint32_t *pe, uint32_t *lanes, uint32_t *mhz, uint64_t *chip_bytes)
{
    *pe = OZK_PE;
    *lanes = OZK_LANES;
    *mhz = OZK_CLOCK_MHZ;
    *chip_bytes = sizeof(ozk_chip);
}

void *ozemu_bo_alloc(size_t n)
{
    ozemu_bo *b = (ozemu_bo *)calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->n = n;
    /* device memory starts as garbage, as on a card: the host must sync */
    b->host = (uint8_t *)malloc(n ? n : 1);
    b->dev = (uint8_t *)malloc(n ? n : 1);
    if (!b->host || !b->dev) {
        free(b->host);
        free(b->dev);
        free(b);
        return NULL;
    }
    memset(b->dev, 0xA5, n);
    return b;
}

void *ozemu_bo_map(void *bo)
{
    return ((ozemu_bo *)bo)->host;
}

/* to_device: 1 host -> device, 0 device -> host. Returns 0 or -1 (range). */
int ozemu_bo_sync(void *bo, int to_device, size_t n, size_t off)
{
    ozemu_bo *b = (ozemu_bo *)bo;
    if (off > b->n || n > b->n - off)
        return -1;
    if (to_device)
        memcpy(b->dev + off, b->host + off, n);
    else
        memcpy(b->host + off, b->dev + off, n);
    return 0;
}

void ozemu_bo_free(void *bo)
{
    ozemu_bo *b = (ozemu_bo *)bo;
    if (!b)
        return;
    free(b->host);
    free(b->dev);
    free(b);
}

/* One launch, in the kernel's argument order (lmdec.h). */
int ozemu_run(void *model, void *desc, void *in, void *out, void *status, uint32_t nstreams)
{
    pthread_mutex_lock(&cu_lock);
    lmdec(((ozemu_bo *)model)->dev, (const uint32_t *)(void *)((ozemu_bo *)desc)->dev, ((ozemu_bo *)in)->dev,
          ((ozemu_bo *)out)->dev, (uint32_t *)(void *)((ozemu_bo *)status)->dev, nstreams);
    pthread_mutex_unlock(&cu_lock);
    return 0;
}
