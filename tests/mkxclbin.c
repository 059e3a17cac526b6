/* mkxclbin.c - writes a synthetic .xclbin that describes the lmdec kernel
 * (its arguments, one compute unit, three memory banks) and holds no
 * bitstream: enough for XRT's no-op shim (XCL_EMULATION_MODE=noop), with
 * which the host's xrt and Xilinx-OpenCL paths run their whole call
 * sequence in CI. Built from XRT's own xclbin.h structures (libxrt-dev);
 * no Vitis, no xclbinutil. Nothing runs on it: the kernel writes no result,
 * and the host must say so.
 *
 *   mkxclbin OUT.xclbin */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xclbin.h>

/* The kernel's arguments (hls/lmdec.h) and the bank each is connected to
 * (like board/u55c/connectivity.cfg: gmem0 -> bank 0, gmem1 -> 1, gmem2 -> 2). */
static const struct {
    const char *name, *type, *port;
    int bank, offset, size;
} ARGS[] = {
    {"model", "uint8_t*", "M_AXI_GMEM0", 0, 0x10, 8},  {"desc", "uint32_t*", "M_AXI_GMEM1", 1, 0x1c, 8},
    {"in", "uint8_t*", "M_AXI_GMEM1", 1, 0x28, 8},     {"out", "uint8_t*", "M_AXI_GMEM2", 2, 0x34, 8},
    {"status", "uint32_t*", "M_AXI_GMEM2", 2, 0x40, 8}, {"nstreams", "uint32_t", "S_AXI_CONTROL", -1, 0x4c, 4},
};
#define NARGS ((int)(sizeof ARGS / sizeof ARGS[0]))
#define NBANKS 3
#define CU_BASE 0x1800000ull

static char xml[8192];

static void make_xml(void)
{
    int i, n = 0;
    n += snprintf(xml + n, sizeof xml - n,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<project name=\"lmdec\"><platform vendor=\"xilinx\" boardid=\"synthetic\" name=\"noop\">"
                  "<device name=\"fpga0\"><core name=\"OCL_REGION_0\" target=\"hw\">\n"
                  "<kernel name=\"lmdec\" language=\"c\" vlnv=\"xilinx.com:hls:lmdec:1.0\" preferredWorkGroupSizeMultiple=\"0\" "
                  "workGroupSize=\"1\" interrupt=\"true\" hwControlProtocol=\"ap_ctrl_chain\">\n"
                  "<port name=\"S_AXI_CONTROL\" mode=\"slave\" range=\"0x1000\" dataWidth=\"32\" portType=\"addressable\" base=\"0x0\"/>\n");
    for (i = 0; i < 3; i++)
        n += snprintf(xml + n, sizeof xml - n,
                      "<port name=\"M_AXI_GMEM%d\" mode=\"master\" range=\"0xFFFFFFFFFFFFFFFF\" dataWidth=\"512\" "
                      "portType=\"addressable\" base=\"0x0\"/>\n", i);
    for (i = 0; i < NARGS; i++)
        n += snprintf(xml + n, sizeof xml - n,
                      "<arg name=\"%s\" addressQualifier=\"%d\" id=\"%d\" port=\"%s\" size=\"0x%x\" offset=\"0x%x\" "
                      "hostOffset=\"0x0\" hostSize=\"0x%x\" type=\"%s\"/>\n",
                      ARGS[i].name, ARGS[i].bank >= 0 ? 1 : 0, i, ARGS[i].port, ARGS[i].size, ARGS[i].offset,
                      ARGS[i].size, ARGS[i].type);
    snprintf(xml + n, sizeof xml - n,
             "<instance name=\"lmdec_1\"><addrRemap base=\"0x%llx\" range=\"0x10000\" port=\"S_AXI_CONTROL\"/></instance>\n"
             "</kernel></core></device></platform></project>\n", (unsigned long long)CU_BASE);
}

int main(int argc, char **argv)
{
    /* sections: MEM_TOPOLOGY, IP_LAYOUT, CONNECTIVITY, EMBEDDED_METADATA */
    size_t hdr = sizeof(struct axlf) + 3 * sizeof(struct axlf_section_header);
    size_t mem_sz = sizeof(struct mem_topology) + (NBANKS - 1) * sizeof(struct mem_data);
    size_t ip_sz = sizeof(struct ip_layout);
    size_t con_sz = sizeof(struct connectivity) + (NARGS - 2) * sizeof(struct connection);
    size_t off_mem, off_ip, off_con, off_xml, total, xml_len;
    unsigned char *b;
    struct axlf *top;
    struct mem_topology *mt;
    struct ip_layout *ipl;
    struct connectivity *con;
    FILE *f;
    int i, c = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: mkxclbin OUT.xclbin\n");
        return 2;
    }
    make_xml();
    xml_len = strlen(xml);
#define A8(x) (((x) + 7) & ~(size_t)7)
    off_mem = A8(hdr);
    off_ip = A8(off_mem + mem_sz);
    off_con = A8(off_ip + ip_sz);
    off_xml = A8(off_con + con_sz);
    total = A8(off_xml + xml_len);
    b = calloc(1, total);
    if (!b)
        return 1;
    top = (struct axlf *)b;
    memcpy(top->m_magic, "xclbin2", 8);
    top->m_signature_length = -1;
    memset(top->reserved, 0xFF, sizeof top->reserved);
    top->m_uniqueId = 0x6F7A6970; /* "ozip" */
    top->m_header.m_length = total;
    top->m_header.m_timeStamp = (uint64_t)time(NULL);
    top->m_header.m_versionMajor = 2;
    top->m_header.m_versionMinor = 13;
    top->m_header.m_mode = XCLBIN_HW_EMU; /* no bitstream inside */
    strcpy((char *)top->m_header.m_platformVBNV, "xilinx_synthetic_noop");
    for (i = 0; i < 16; i++)
        top->m_header.uuid[i] = (unsigned char)(0x5A + i);
    top->m_header.m_numSections = 4;
    {
        struct { uint32_t kind; const char *name; size_t off, size; } sec[4] = {
            {MEM_TOPOLOGY, "mem_topology", off_mem, mem_sz}, {IP_LAYOUT, "ip_layout", off_ip, ip_sz},
            {CONNECTIVITY, "connectivity", off_con, con_sz}, {EMBEDDED_METADATA, "metadata", off_xml, xml_len}};
        for (i = 0; i < 4; i++) {
            struct axlf_section_header *s = &top->m_sections[i];
            s->m_sectionKind = sec[i].kind;
            strncpy(s->m_sectionName, sec[i].name, sizeof s->m_sectionName - 1);
            s->m_sectionOffset = sec[i].off;
            s->m_sectionSize = sec[i].size;
        }
    }
    mt = (struct mem_topology *)(b + off_mem);
    mt->m_count = NBANKS;
    for (i = 0; i < NBANKS; i++) {
        mt->m_mem_data[i].m_type = MEM_HBM;
        mt->m_mem_data[i].m_used = 1;
        mt->m_mem_data[i].m_size = 256 * 1024; /* KB: one 256 MB pseudo-channel */
        mt->m_mem_data[i].m_base_address = (uint64_t)i << 28;
        snprintf((char *)mt->m_mem_data[i].m_tag, sizeof mt->m_mem_data[i].m_tag, "HBM[%d]", i);
    }
    ipl = (struct ip_layout *)(b + off_ip);
    ipl->m_count = 1;
    ipl->m_ip_data[0].m_type = IP_KERNEL;
    ipl->m_ip_data[0].properties = (AP_CTRL_CHAIN << IP_CONTROL_SHIFT) | IP_INT_ENABLE_MASK;
    ipl->m_ip_data[0].m_base_address = CU_BASE;
    strcpy((char *)ipl->m_ip_data[0].m_name, "lmdec:lmdec_1");
    con = (struct connectivity *)(b + off_con);
    for (i = 0; i < NARGS; i++)
        if (ARGS[i].bank >= 0) {
            con->m_connection[c].arg_index = i;
            con->m_connection[c].m_ip_layout_index = 0;
            con->m_connection[c].mem_data_index = ARGS[i].bank;
            c++;
        }
    con->m_count = c;
    memcpy(b + off_xml, xml, xml_len);
    f = fopen(argv[1], "wb");
    if (!f || fwrite(b, 1, total, f) != total || fclose(f) != 0) {
        perror(argv[1]);
        return 1;
    }
    free(b);
    return 0;
}
