# ozip - build. `make` leaves the command at ./ozip and the library at ./libozip.a.
#
#   make            build (checks the required Debian packages first)
#   make demo       install missing packages (as root) or name them, build, run the demo
#   make test       install missing packages (as root) or name them, build, run the test suite
#                   (ends with "N passed, N failed")
#   make bench      the benchmark beside gzip, bzip2, xz, zstd, brotli, then
#                   bench-engine: rewrites docs/benchmarks.md, docs/bench/ and docs/bench-*.png (an hour;
#                   settings such as FILES="a b" LEVELS=6: see tests/bench/run.sh)
#   make bench-quick  a one-minute smoke run of the harness into bench-out/quick/
#   make bench-engine the integer model's speed per engine (reference, scalar,
#                   AVX2, AVX-512): the engine section of docs/benchmarks.md
#   make tables     regenerate core/oz_tables.h (tools/gen_tables.c)
#   make clean
#
# Required: gcc, make, libopenblas-dev, libxxhash-dev, liblzma-dev, libzstd-dev, libbz2-dev,
# libbrotli-dev.
# Optional backends are detected and reported (see `ozip -V`):
#   nvcc (CUDA toolkit with cuBLAS) -> build/libozip_cuda.so, the CUDA trainer,
#   loaded at run time by `ozip --device auto|cuda` (`make NVCC=` skips it).

CC       ?= cc
CXX      ?= g++
NVCC     ?= nvcc
PREFIX   ?= /usr/local
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

WARN      = -Wall -Wextra -Wshadow -Wno-unused-parameter
OPT      ?= -O3 -g
CFLAGS_HOST = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -pthread -D_FILE_OFFSET_BITS=64 -fno-strict-aliasing
# core/ is freestanding C99; no fast-math anywhere near it (it has no float anyway).
CFLAGS_CORE = -std=c99 $(OPT) $(WARN) -pedantic -fno-strict-aliasing
# The float trainer: fast-math only here (training need not be bit-exact across
# machines; the integer model it exports is what must be).
CFLAGS_TRAIN = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -ffast-math -fopenmp -pthread -I/usr/include/$(MULTIARCH)
LDLIBS   = -lxxhash -llzma -lzstd -lbz2 -lbrotlienc -lbrotlidec -lm -ldl -fopenmp -pthread

# The CUDA trainer plugin: machine code for sm_80 (A100) and sm_90 (H100,
# H200), and compute_90 PTX that newer GPUs compile when it loads. cudart is
# linked statically and cuBLAS found through an rpath to this toolkit, so the
# plugin needs only the driver and libcublas at run time, and ozip needs neither.
NVCC_PATH  := $(if $(NVCC),$(shell command -v $(NVCC) 2>/dev/null))
CUDA_HOME  ?= $(patsubst %/bin/nvcc,%,$(realpath $(NVCC_PATH)))
CUDA_ARCHS ?= 80 90
NVCCFLAGS   = -O3 -std=c++17 --cudart static \
              $(foreach a,$(CUDA_ARCHS),-gencode arch=compute_$(a),code=sm_$(a)) -gencode arch=compute_90,code=compute_90 \
              -DOZ_CUDA_ARCHS='"$(foreach a,$(CUDA_ARCHS),sm_$(a)) +PTX"' \
              -Xcompiler -fPIC,-fvisibility=hidden,-Wall,-Wextra,-Wno-unused-parameter
CUDA_PLUGIN = $(if $(NVCC_PATH),build/libozip_cuda.so)

# Optional decode backends (docs/fpga.md), detected here and reported by `make`:
#   emu     always (the FPGA kernel built natively: build/libozip_kernel_emu.so)
#   opencl  needs ocl-icd-opencl-dev + opencl-headers (and an ICD, e.g. pocl-opencl-icd, to run)
#   xrt     needs libxrt-dev (its headers; libxrt_coreutil is loaded at run time)
HAVE_OPENCL := $(shell printf '\043define CL_TARGET_OPENCL_VERSION 120\n\043include <CL/cl.h>\nint main(void){return clGetPlatformIDs(0,0,0);}\n' | \
                 $(CC) -x c - -lOpenCL -o /dev/null 2>/dev/null && echo 1)
HAVE_XRT := $(shell printf '\043include <xrt/xrt_kernel.h>\n\043include <xrt/xrt_bo.h>\nint main(void){return 0;}\n' | \
              $(CC) -std=c11 -I/usr/include/xrt -x c - -o /dev/null 2>/dev/null && echo 1)
BACKEND_DEFS = -DOZ_BUILD_DIR='"$(CURDIR)/build"' -DOZ_HLS_DIR='"$(CURDIR)/hls"'
BACKEND_SRC  = host/backend_fpga.c host/backend_emu.c hls/lmdec_host.c
BACKEND_LIBS = -ldl
ifeq ($(HAVE_OPENCL),1)
BACKEND_DEFS += -DOZ_HAVE_OPENCL
BACKEND_SRC  += host/backend_opencl.c
BACKEND_LIBS += -lOpenCL
endif
ifeq ($(HAVE_XRT),1)
BACKEND_DEFS += -DOZ_HAVE_XRT -DOZ_HAVE_CL_EXT_XILINX -I/usr/include/xrt
BACKEND_SRC  += host/backend_xrt.c
endif
CFLAGS_HOST += $(BACKEND_DEFS)
LDLIBS += $(BACKEND_LIBS)

CORE_SRC  = core/oz_model.c core/oz_codec.c core/oz_format.c
TRAIN_SRC = gpu_train/train_cpu.c gpu_train/train_common.c gpu_train/export.c gpu_train/blas.c
HOST_SRC  = host/ozip_lib.c host/classic.c host/model_io.c host/train_host.c host/util.c \
            host/backend_cpu.c host/fileio.c host/fast/ozf.c host/fast/ozf_codec.c host/fast/kern_scalar.c \
            host/cuda_plugin.c $(BACKEND_SRC)
# SIMD kernels: each file is compiled for its instruction set and only called
# after a CPUID check (host/fast/ozf.c), so one binary runs on any x86-64.
ISA_SRC   = host/fast/kern_avx2.c host/fast/kern_avx512.c
ISA_OBJ   = $(ISA_SRC:%.c=build/%.o)
FLAGS_avx2   = -mavx2 -mfma
FLAGS_avx512 = -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni
CORE_OBJ  = $(CORE_SRC:%.c=build/%.o)
TRAIN_OBJ = $(TRAIN_SRC:%.c=build/%.o)
HOST_OBJ  = $(patsubst hls/%.c,build/hls/%.o,$(HOST_SRC:host/%.c=build/host/%.o))
LIB_OBJ   = $(CORE_OBJ) $(TRAIN_OBJ) $(HOST_OBJ) $(ISA_OBJ)
HEADERS   = $(wildcard core/*.h host/*.h host/fast/*.h gpu_train/*.h include/*.h hls/*.h)

.PHONY: all deps demo test check-deps clean tables install bench bench-quick bench-engine hls-tb hls-vectors print-ldlibs fuzz

all: check-deps ozip build/libozip_kernel_emu.so $(CUDA_PLUGIN)

check-deps:
	@tools/deps.sh --check

deps:
	@tools/deps.sh --install

build/core/%.o: core/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CORE) -c $< -o $@

build/gpu_train/%.o: gpu_train/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TRAIN) -c $< -o $@

build/host/fast/kern_%.o: host/fast/kern_%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_HOST) $(FLAGS_$*) -c $< -o $@

build/host/%.o: host/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_HOST) -c $< -o $@

build/hls/%.o: hls/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_HOST) -c $< -o $@

libozip.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

ozip: build/host/cli.o libozip.a $(CUDA_PLUGIN)
	$(CC) $(CFLAGS_HOST) -o $@ build/host/cli.o libozip.a $(LDLIBS)
	@echo "built ./ozip: backends $$(./ozip -V | sed -n 's/^backends: //p')"
	@[ "$(HAVE_OPENCL)" = 1 ] || echo "  opencl backend not built: install ocl-icd-opencl-dev opencl-headers (and pocl-opencl-icd to run it)"
	@[ "$(HAVE_XRT)" = 1 ] || echo "  xrt backend not built: install libxrt-dev"
	@$(if $(NVCC_PATH),echo "built build/libozip_cuda.so: the CUDA trainer ($(NVCC_PATH))",echo "nvcc not found: the CUDA trainer is not built")

build/pic/gpu_train/%.o: gpu_train/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TRAIN) -fPIC -fvisibility=hidden -c $< -o $@

build/libozip_cuda.so: gpu_train/train_cuda.cu build/pic/gpu_train/train_common.o $(HEADERS)
	$(NVCC) $(NVCCFLAGS) -shared -o $@ gpu_train/train_cuda.cu build/pic/gpu_train/train_common.o \
	    -lcublas -Xlinker -rpath,$(CUDA_HOME)/lib64 -Xcompiler -static-libstdc++,-static-libgcc

# the tiled attention kernels against the generic ones (tests/gpu/attn_check.cu):
# on a GPU where nvcc is, and under the CPU emulation everywhere
CUDA_TEST_BIN = $(if $(NVCC_PATH),build/tests/attn_check)
build/tests/emu/attn_check: tests/gpu/attn_check.cu gpu_train/train_cuda.cu tests/cuda_emu/emu.h tests/cuda_emu/emu.cpp \
                       build/pic/gpu_train/train_common.o $(HEADERS)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -O2 -g -DOZ_CUDA_EMU -Wall -Wno-unknown-pragmas -Wno-unused-parameter \
	    -include tests/cuda_emu/emu.h -x c++ tests/gpu/attn_check.cu -x none tests/cuda_emu/emu.cpp \
	    build/pic/gpu_train/train_common.o -o $@ -ldl -lm
build/tests/attn_check: tests/gpu/attn_check.cu gpu_train/train_cuda.cu build/pic/gpu_train/train_common.o $(HEADERS)
	@mkdir -p build/tests
	$(NVCC) $(NVCCFLAGS) -o $@ tests/gpu/attn_check.cu build/pic/gpu_train/train_common.o \
	    -lcublas -Xlinker -rpath,$(CUDA_HOME)/lib64 -Xcompiler -static-libstdc++,-static-libgcc

demo: deps
	@$(MAKE) --no-print-directory ozip
	@tools/demo.sh

# ---------------------------------------------------------------- tests
TEST_BIN = build/tests/test_core build/tests/test_model build/tests/test_train build/tests/test_lib \
           build/tests/test_fast build/tests/test_cuda

build/tests/%: tests/%.c libozip.a tests/harness.h tests/rand_model.h
	@mkdir -p build/tests
	$(CC) $(CFLAGS_HOST) -fopenmp -I/usr/include/$(MULTIARCH) -o $@ $< libozip.a $(LDLIBS)

# The CUDA trainer's source built against the CPU emulation of CUDA and cuBLAS
# (tests/cuda_emu/), so its kernels and host code are tested on every machine;
# an empty libcuda.so.1 stands in for the driver the host looks for.
EMU_DIR = build/tests/emu
$(EMU_DIR)/libozip_cuda.so: gpu_train/train_cuda.cu tests/cuda_emu/emu.h tests/cuda_emu/emu.cpp \
                            build/pic/gpu_train/train_common.o $(HEADERS)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -O2 -g -fPIC -shared -DOZ_CUDA_EMU -DOZ_CUDA_ARCHS='"none (CPU emulation)"' \
	    -Wall -Wno-unknown-pragmas -Wno-unused-parameter -include tests/cuda_emu/emu.h \
	    -x c++ gpu_train/train_cuda.cu -x none tests/cuda_emu/emu.cpp build/pic/gpu_train/train_common.o -o $@
$(EMU_DIR)/libcuda.so.1:
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -x c /dev/null -o $@

# the core tests again with UBSan + ASan: any overflow or out-of-bounds access fails
SAN = -fsanitize=undefined,address -fno-sanitize-recover=all -fno-omit-frame-pointer
build/tests/%_san: tests/%.c $(CORE_SRC) $(HEADERS) tests/harness.h tests/rand_model.h
	@mkdir -p build/tests
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -g $(SAN) -o $@ $< $(CORE_SRC) -lm

# The whole library again with UBSan + ASan (LeakSanitizer included), at -O1,
# objects under build/san/, for the library and fast-engine tests: a memory
# error or leak anywhere on the host side fails them, not only in core/
SANFLAGS = -O1 $(SAN)
SAN_OBJ  = $(LIB_OBJ:build/%=build/san/%)
build/san/core/%.o: core/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CORE) $(SANFLAGS) -c $< -o $@
build/san/gpu_train/%.o: gpu_train/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TRAIN) $(SANFLAGS) -c $< -o $@
build/san/host/fast/kern_%.o: host/fast/kern_%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_HOST) $(FLAGS_$*) $(SANFLAGS) -c $< -o $@
build/san/host/%.o: host/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_HOST) $(SANFLAGS) -c $< -o $@
build/san/hls/%.o: hls/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_HOST) $(SANFLAGS) -c $< -o $@
build/san/libozip.a: $(SAN_OBJ)
	rm -f $@
	ar rcs $@ $^
build/san/tests/%: tests/%.c build/san/libozip.a tests/harness.h tests/rand_model.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_HOST) -fopenmp -I/usr/include/$(MULTIARCH) $(SANFLAGS) -o $@ $< build/san/libozip.a $(LDLIBS)

# FPGA path (tests/fpga.sh): testbench, perf model, and the synthetic .xclbin for XRT's noop shim
FPGA_TEST_BIN = build/hls/tb_lmdec build/hls/tb_lmdec_cxx build/hls/perfmodel
ifeq ($(HAVE_XRT),1)
FPGA_TEST_BIN += build/tests/mkxclbin
endif
build/tests/mkxclbin: tests/mkxclbin.c
	@mkdir -p build/tests
	$(CC) -std=c11 $(OPT) $(WARN) -I/usr/include/xrt -o $@ $<

test: deps
	@$(MAKE) --no-print-directory all $(TEST_BIN) build/tests/test_model_san build/tests/test_core_san \
	    build/san/tests/test_lib build/san/tests/test_fast build/san/tests/fuzz $(FPGA_TEST_BIN) \
	    $(EMU_DIR)/libozip_cuda.so $(EMU_DIR)/libcuda.so.1 build/tests/emu/attn_check $(CUDA_TEST_BIN) \
	    build/engine_bench build/fwd_bench
	@tests/run.sh

# Randomised checks (tests/fuzz.c): forged .oz files on every engine, random
# model shapes on every path, with the library built with UBSan, ASan and
# LSan. `make test` runs a short fixed-seed pass; this runs FUZZ_SECONDS
# (default 600) from FUZZ_SEED (default: the time), failures into fuzz-out/.
FUZZ_SECONDS ?= 600
fuzz: deps
	@$(MAKE) --no-print-directory all build/san/tests/fuzz
	build/san/tests/fuzz --seconds $(FUZZ_SECONDS) --seed $(or $(FUZZ_SEED),$$(date +%s)) --out fuzz-out

# ---------------------------------------------------------------- benchmarks
# the engine half records the commit read before the first half rewrites docs/
bench: all build/engine_bench
	@tools/deps.sh --bench
	@c=$$(git describe --always --dirty 2>/dev/null || echo unknown); \
	tests/bench/run.sh && OZ_BENCH_COMMIT=$$c tests/bench/engine.sh

bench-engine: all build/engine_bench
	@tests/bench/engine.sh

bench-quick: all
	@tests/bench/quick.sh bench-out/quick

# ---------------------------------------------------------------- FPGA kernel (hls/, docs/fpga.md)
# The kernel compiles as C, as C++ (as Vitis HLS compiles it) and as OpenCL C
# from the same files; the only warnings switched off are the HLS pragmas.
KERNEL_WARN = $(WARN) -Wno-unknown-pragmas
HLS_HDR  = hls/lmdec.h hls/lmdec_host.h hls/perfmodel.h $(wildcard core/*.h)
HLS_TB   = hls/tb/tb_lmdec.c hls/lmdec.c hls/lmdec_host.c $(CORE_SRC)

# csim testbench, C and C++ builds (self-checking; exits non-zero on a mismatch)
build/hls/tb_lmdec: $(HLS_TB) $(HLS_HDR)
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -D_GNU_SOURCE $(OPT) $(KERNEL_WARN) -fno-strict-aliasing -o $@ $(HLS_TB)
build/hls/tb_lmdec_cxx: $(HLS_TB) $(HLS_HDR)
	@mkdir -p $(dir $@)
	$(CXX) -x c++ -std=c++11 -D_GNU_SOURCE $(OPT) $(KERNEL_WARN) -Werror -fno-strict-aliasing -o $@ $(HLS_TB)

# The emulated card: the kernel as a native shared object (host/backend_emu.c loads it).
build/libozip_kernel_emu.so: hls/lmdec.c hls/emu_device.c $(HLS_HDR)
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -D_GNU_SOURCE $(OPT) $(KERNEL_WARN) -fno-strict-aliasing -fPIC -shared -pthread \
	    -o $@ hls/lmdec.c hls/emu_device.c

# The performance model (docs/fpga.md): tables per board and model shape.
build/hls/perfmodel: hls/perfmodel.c libozip.a $(HLS_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_HOST) -o $@ hls/perfmodel.c libozip.a $(LDLIBS)

hls-tb: build/hls/tb_lmdec build/hls/tb_lmdec_cxx
	build/hls/tb_lmdec && build/hls/tb_lmdec_cxx

# The testbench's vectors: .oz files made by the CPU encoder from the first
# 48 KiB of the taxi data (shapes chosen to reach every padding case of the
# kernel's layout). Regenerate with `make hls-vectors`; never edit by hand.
TB_IN = build/hls/taxi-48k.csv
TB_OZ = ./ozip -q -f -c --force-model --epochs=2 -T1
hls-vectors: ozip
	@mkdir -p build/hls hls/tb/data
	head -c 49152 data/taxi-yellow_tripdata_2015-01.csv > $(TB_IN)
	$(TB_OZ) --arch=L=1,D=16,H=2,F=32,W=16 --stream-size=8K $(TB_IN) > hls/tb/data/taxi-l1d16.oz
	$(TB_OZ) --arch=L=2,D=48,H=4,F=96,W=32,tied=0 --stream-size=4K $(TB_IN) > hls/tb/data/taxi-l2d48-untied.oz
	$(TB_OZ) --arch=L=2,D=64,H=2,F=80,W=24 --stream-size=6000 $(TB_IN) > hls/tb/data/taxi-l2d64h2f80.oz

tables:
	$(CC) -O2 tools/gen_tables.c -lm -o build/gen_tables
	build/gen_tables > core/oz_tables.h

# The FPGA kernel goes along: the emulated card in lib/ozip/, the kernel source
# (for --device opencl) in share/ozip/ (host/backend_emu.c, backend_opencl.c look there);
# and the CUDA trainer plugin in lib/ozip/ when it was built.
install: ozip libozip.a build/libozip_kernel_emu.so $(CUDA_PLUGIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(PREFIX)/lib/ozip $(DESTDIR)$(PREFIX)/share/ozip/hls $(DESTDIR)$(PREFIX)/share/ozip/core
	install -m 755 ozip $(DESTDIR)$(PREFIX)/bin/ozip
	install -m 644 libozip.a $(DESTDIR)$(PREFIX)/lib/libozip.a
	install -m 644 include/ozip.h $(DESTDIR)$(PREFIX)/include/ozip.h
	install -m 755 build/libozip_kernel_emu.so $(DESTDIR)$(PREFIX)/lib/ozip/libozip_kernel_emu.so
	install -m 644 hls/lmdec.c hls/lmdec.h $(DESTDIR)$(PREFIX)/share/ozip/hls/
	install -m 644 core/*.h $(DESTDIR)$(PREFIX)/share/ozip/core/
	$(if $(CUDA_PLUGIN),install -m 755 $(CUDA_PLUGIN) $(DESTDIR)$(PREFIX)/lib/ozip/libozip_cuda.so)

clean:
	rm -rf build ozip libozip.a

# speed of the integer model per engine (docs/benchmarks.md, "CPU inference")
build/engine_bench: tools/engine_bench.c libozip.a
	$(CC) $(CFLAGS_HOST) -o $@ $< libozip.a $(LDLIBS)

# the forward pass's best case in TSC ticks; tools/ab.sh compares two builds
build/fwd_bench: tools/fwd_bench.c libozip.a
	$(CC) $(CFLAGS_HOST) -o $@ $< libozip.a $(LDLIBS)

print-ldlibs:
	@echo $(LDLIBS)
