/* oz_format.c - .oz frame header, model descriptor and index (docs/format.md). */
#include "oz_format.h"

const uint8_t OZ_MAGIC[OZ_MAGIC_LEN] = {0x89, 'O', 'Z', 'P', 0x0D, 0x0A, 0x1A, 0x0A};

uint64_t oz_header_bytes(const oz_frame *f)
{
    return OZ_FRAME_HEADER + ((f->flags & OZ_F_MODEL) ? OZ_MODEL_DESC : 0) +
           (uint64_t)f->stream_count * OZ_INDEX_ENTRY + 4;
}

int oz_is_frame(const uint8_t *buf, uint64_t len)
{
    int i;
    if (len < OZ_MAGIC_LEN)
        return 0;
    for (i = 0; i < OZ_MAGIC_LEN; i++)
        if (buf[i] != OZ_MAGIC[i])
            return 0;
    return 1;
}

uint64_t oz_frame_write(const oz_frame *f, const oz_index_entry *idx, uint8_t *out)
{
    uint8_t *p = out;
    uint32_t i;
    for (i = 0; i < OZ_MAGIC_LEN; i++)
        p[i] = OZ_MAGIC[i];
    p[8] = OZ_FORMAT_MAJOR;
    p[9] = OZ_FORMAT_MINOR;
    oz_wr16(p + 10, f->flags);
    oz_wr32(p + 12, f->stream_count);
    oz_wr64(p + 16, f->original_size);
    oz_wr64(p + 24, f->content_xxh64);
    oz_wr32(p + 32, f->stream_block);
    for (i = 36; i < OZ_FRAME_HEADER; i++)
        p[i] = 0;
    p += OZ_FRAME_HEADER;
    if (f->flags & OZ_F_MODEL) {
        for (i = 0; i < OZ_MODEL_DESC; i++)
            p[i] = 0;
        p[0] = (uint8_t)f->model_coding;
        oz_wr32(p + 4, f->model_size);
        oz_wr32(p + 8, f->model_stored);
        oz_wr64(p + 16, f->model_xxh64);
        p += OZ_MODEL_DESC;
    }
    for (i = 0; i < f->stream_count; i++) {
        p[0] = (uint8_t)idx[i].method;
        p[1] = p[2] = p[3] = 0;
        oz_wr32(p + 4, idx[i].stored_size);
        oz_wr32(p + 8, idx[i].xxh32);
        p += OZ_INDEX_ENTRY;
    }
    return (uint64_t)(p - out);
}

uint64_t oz_stream_len(const oz_frame *f, uint32_t i)
{
    uint64_t start = (uint64_t)i * f->stream_block;
    uint64_t rest = f->original_size - start;
    return rest < f->stream_block ? rest : f->stream_block;
}

int oz_frame_read(const uint8_t *b, uint64_t len, oz_frame *f)
{
    uint32_t i;
    uint64_t want;
    if (!oz_is_frame(b, len))
        return len < OZ_MAGIC_LEN ? OZ_CORE_ETRUNC : OZ_CORE_EFORMAT;
    if (len < OZ_FRAME_HEADER)
        return OZ_CORE_ETRUNC;
    f->major = b[8];
    f->minor = b[9];
    if (f->major != OZ_FORMAT_MAJOR)
        return OZ_CORE_EVERSION;
    f->flags = oz_rd16(b + 10);
    if (f->flags & ~OZ_F_KNOWN)
        return OZ_CORE_EVERSION;
    if ((f->flags & OZ_F_MODEL_EXTERNAL) && !(f->flags & OZ_F_MODEL))
        return OZ_CORE_EFORMAT;
    for (i = 36; i < OZ_FRAME_HEADER; i++)
        if (b[i] != 0)
            return OZ_CORE_EFORMAT;
    f->stream_count = oz_rd32(b + 12);
    f->original_size = oz_rd64(b + 16);
    f->content_xxh64 = oz_rd64(b + 24);
    f->stream_block = oz_rd32(b + 32);
    if (f->original_size == 0) {
        if (f->stream_count != 0)
            return OZ_CORE_EFORMAT;
    } else {
        if (f->stream_block == 0)
            return OZ_CORE_EFORMAT;
        want = (f->original_size + f->stream_block - 1) / f->stream_block;
        if (want != f->stream_count)
            return OZ_CORE_EFORMAT;
    }
    f->model_coding = f->model_size = f->model_stored = 0;
    f->model_xxh64 = 0;
    if (f->flags & OZ_F_MODEL) {
        const uint8_t *d = b + OZ_FRAME_HEADER;
        if (len < OZ_FRAME_HEADER + OZ_MODEL_DESC)
            return OZ_CORE_ETRUNC;
        if (d[1] | d[2] | d[3] | d[12] | d[13] | d[14] | d[15])
            return OZ_CORE_EFORMAT;
        f->model_coding = d[0];
        f->model_size = oz_rd32(d + 4);
        f->model_stored = oz_rd32(d + 8);
        f->model_xxh64 = oz_rd64(d + 16);
        if (f->model_coding >= OZ_MC_COUNT)
            return OZ_CORE_EVERSION;
        if (f->model_size < 64)
            return OZ_CORE_EFORMAT;
        if ((f->flags & OZ_F_MODEL_EXTERNAL) ? f->model_stored != 0 : f->model_stored == 0)
            return OZ_CORE_EFORMAT;
    }
    return OZ_CORE_OK;
}

int oz_index_read(const uint8_t *buf, const oz_frame *f, uint32_t i, oz_index_entry *e)
{
    const uint8_t *p = buf + OZ_FRAME_HEADER + ((f->flags & OZ_F_MODEL) ? OZ_MODEL_DESC : 0) +
                       (uint64_t)i * OZ_INDEX_ENTRY;
    if (p[1] | p[2] | p[3])
        return OZ_CORE_EFORMAT;
    e->method = p[0];
    e->stored_size = oz_rd32(p + 4);
    e->xxh32 = oz_rd32(p + 8);
    if (e->method >= OZ_M_COUNT)
        return OZ_CORE_EVERSION;
    if (e->method == OZ_M_MODEL && !(f->flags & OZ_F_MODEL))
        return OZ_CORE_EFORMAT;
    if (e->method == OZ_M_RAW && e->stored_size != oz_stream_len(f, i))
        return OZ_CORE_EFORMAT;
    return OZ_CORE_OK;
}
