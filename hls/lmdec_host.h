/* lmdec_host.h - what every host of the kernel does (the testbench hls/tb/
 * and the host backends host/backend_*.c): describe a bound model and a list
 * of model-coded streams in the kernel's buffers (hls/lmdec.h), and read the
 * per-stream results back. Plain C with libc; not part of the kernel. */
#ifndef OZK_LMDEC_HOST_H
#define OZK_LMDEC_HOST_H

#include <stddef.h>

#include "lmdec.h"

typedef struct ozk_job {
    const uint8_t *in; /* payload (an rANS stream) */
    uint64_t in_len;
    uint64_t out_len;  /* bytes to decode */
} ozk_job;

/* The buffers of one launch (malloc'ed, 64-byte aligned, sizes multiples of 64). */
typedef struct ozk_bufs {
    uint32_t *desc;
    size_t desc_bytes;
    uint8_t *in; /* payloads, each at a 64-byte aligned offset */
    size_t in_bytes;
    size_t out_bytes;
    uint64_t *out_off; /* where stream i starts in `out` */
    uint32_t *status;  /* filled with OZK_NOT_RUN */
    size_t status_bytes;
    uint32_t nstreams;
} ozk_bufs;

/* Checks the model against the kernel's limits: OZK_L_NONE or the limit
 * exceeded; `why` (if not NULL) receives a sentence. */
int ozk_model_fits(const oz_config *c, char *why, size_t why_n);
/* Fills b for model m (bound on `image`) and jobs[n]. Returns 0, or -1 when
 * out of memory. */
int ozk_pack(const oz_model *m, const uint8_t *image, uint32_t image_size, const ozk_job *jobs, uint32_t n,
             ozk_bufs *b);
void ozk_bufs_free(ozk_bufs *b);
/* A 64-bit counter of the status buffer. */
uint64_t ozk_status64(const uint32_t *status, int at);
/* One line on the kernel-level result (status[OZK_ST_RC] != OZK_OK). */
const char *ozk_strerror(const uint32_t *status);

#endif
