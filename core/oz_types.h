/* oz_types.h - fixed-width types and portability macros for core/.
 *
 * core/ is compiled as freestanding C99, as C++ (g++, Vitis HLS), by nvcc and,
 * for the parts the FPGA kernel uses, as OpenCL C. This header is the only
 * place that knows the difference. It includes nothing but the freestanding
 * headers <stdint.h> and <stddef.h>.
 */
#ifndef OZ_TYPES_H
#define OZ_TYPES_H

#if defined(__OPENCL_VERSION__) || defined(__OPENCL_C_VERSION__)
/* OpenCL C has its own fixed-width built-in types and no <stdint.h>. */
typedef char int8_t;
typedef uchar uint8_t;
typedef short int16_t;
typedef ushort uint16_t;
typedef int int32_t;
typedef uint uint32_t;
typedef long int64_t;
typedef ulong uint64_t;
#define OZ_TABLE __constant
#define OZ_INLINE static inline
#define OZ_MEM __global
#else
#include <stddef.h>
#include <stdint.h>
#define OZ_TABLE static const
#if defined(__cplusplus) || (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L)
#define OZ_INLINE static inline
#else
#define OZ_INLINE static
#endif
#define OZ_MEM
#endif

/* OZ_MEM qualifies the pointers of the decode-path operations (oz_int.h,
 * oz_ops.h, the decoding half of oz_rans.h, the reads of oz_bytes.h). It is
 * empty in C, C++ and CUDA. OpenCL C 1.2 (what PoCL offers) has no generic
 * address space, so the FPGA kernel built as OpenCL C (hls/) keeps every
 * array these operations touch in __global memory, and every such pointer
 * is __global there. It never changes a value, only where it lives. */

/* Status codes returned by core/ functions (0 = success). The host maps them
 * to the public ozip_status codes and messages (host/ozip_lib.c). */
enum {
    OZ_CORE_OK = 0,
    OZ_CORE_EFORMAT = 1,   /* not the expected structure (bad magic, bad field) */
    OZ_CORE_EVERSION = 2,  /* a version or feature this code does not know */
    OZ_CORE_ELIMIT = 3,    /* a dimension outside the supported maxima */
    OZ_CORE_ETRUNC = 4,    /* input ends early */
    OZ_CORE_ECORRUPT = 5,  /* decoding failed a consistency check */
    OZ_CORE_EPARAM = 6     /* caller error: bad argument */
};

#endif /* OZ_TYPES_H */
