/* oz_bytes.h - little-endian field access, independent of host byte order. */
#ifndef OZ_BYTES_H
#define OZ_BYTES_H

#include "oz_types.h"

OZ_INLINE uint32_t oz_rd16(OZ_MEM const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
OZ_INLINE uint32_t oz_rd32(OZ_MEM const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
OZ_INLINE uint64_t oz_rd64(OZ_MEM const uint8_t *p) { return (uint64_t)oz_rd32(p) | ((uint64_t)oz_rd32(p + 4) << 32); }
OZ_INLINE void oz_wr16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
OZ_INLINE void oz_wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
OZ_INLINE void oz_wr64(uint8_t *p, uint64_t v)
{
    oz_wr32(p, (uint32_t)v);
    oz_wr32(p + 4, (uint32_t)(v >> 32));
}

#endif /* OZ_BYTES_H */
