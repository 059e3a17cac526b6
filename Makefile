# ozip - build. `make` leaves the command at ./ozip and the library at ./libozip.a.
#
#   make            build (checks the required Debian packages first)
#   make demo       install missing packages (as root) or name them, build, run the demo
#   make test       install missing packages (as root) or name them, build, run the test suite
#                   (ends with "N passed, N failed")
#   make tables     regenerate core/oz_tables.h (tools/gen_tables.c)
#   make clean
#
# Required: gcc, make, libopenblas-dev, libxxhash-dev, liblzma-dev, libzstd-dev.
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
LDLIBS   = -lopenblas -lxxhash -llzma -lzstd -lm -ldl -fopenmp -pthread

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

CORE_SRC  = core/oz_model.c core/oz_codec.c core/oz_format.c
TRAIN_SRC = gpu_train/train_cpu.c gpu_train/train_common.c gpu_train/export.c
HOST_SRC  = host/ozip_lib.c host/classic.c host/model_io.c host/train_host.c host/util.c \
            host/backend_cpu.c host/fileio.c host/cuda_plugin.c
CORE_OBJ  = $(CORE_SRC:%.c=build/%.o)
TRAIN_OBJ = $(TRAIN_SRC:%.c=build/%.o)
HOST_OBJ  = $(HOST_SRC:%.c=build/%.o)
LIB_OBJ   = $(CORE_OBJ) $(TRAIN_OBJ) $(HOST_OBJ)
HEADERS   = $(wildcard core/*.h host/*.h gpu_train/*.h include/*.h)

.PHONY: all deps demo test check-deps clean tables install bench

all: check-deps ozip $(CUDA_PLUGIN)

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

build/host/%.o: host/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_HOST) -c $< -o $@

libozip.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

ozip: build/host/cli.o libozip.a $(CUDA_PLUGIN)
	$(CC) $(CFLAGS_HOST) -o $@ build/host/cli.o libozip.a $(LDLIBS)
	@echo "built ./ozip: backends $$(./ozip -V | sed -n 's/^backends: //p')"
	@$(if $(NVCC_PATH),echo "built build/libozip_cuda.so: the CUDA trainer ($(NVCC_PATH))",echo "nvcc not found: the CUDA trainer is not built")

build/pic/gpu_train/%.o: gpu_train/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TRAIN) -fPIC -fvisibility=hidden -c $< -o $@

build/libozip_cuda.so: gpu_train/train_cuda.cu build/pic/gpu_train/train_common.o $(HEADERS)
	$(NVCC) $(NVCCFLAGS) -shared -o $@ gpu_train/train_cuda.cu build/pic/gpu_train/train_common.o \
	    -lcublas -Xlinker -rpath,$(CUDA_HOME)/lib64 -Xcompiler -static-libstdc++,-static-libgcc

demo: deps
	@$(MAKE) --no-print-directory ozip
	@tools/demo.sh

# ---------------------------------------------------------------- tests
TEST_BIN = build/tests/test_core build/tests/test_model build/tests/test_train build/tests/test_lib \
           build/tests/test_cuda

build/tests/%: tests/%.c libozip.a tests/harness.h
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
build/tests/%_san: tests/%.c $(CORE_SRC) $(HEADERS) tests/harness.h
	@mkdir -p build/tests
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -g $(SAN) -o $@ $< $(CORE_SRC) -lm

test: deps
	@$(MAKE) --no-print-directory all $(TEST_BIN) build/tests/test_model_san build/tests/test_core_san \
	    $(EMU_DIR)/libozip_cuda.so $(EMU_DIR)/libcuda.so.1
	@tests/run.sh

tables:
	$(CC) -O2 tools/gen_tables.c -lm -o build/gen_tables
	build/gen_tables > core/oz_tables.h

install: ozip libozip.a $(CUDA_PLUGIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	install -m 755 ozip $(DESTDIR)$(PREFIX)/bin/ozip
	install -m 644 libozip.a $(DESTDIR)$(PREFIX)/lib/libozip.a
	install -m 644 include/ozip.h $(DESTDIR)$(PREFIX)/include/ozip.h
	$(if $(CUDA_PLUGIN),install -d $(DESTDIR)$(PREFIX)/lib/ozip && install -m 755 $(CUDA_PLUGIN) $(DESTDIR)$(PREFIX)/lib/ozip/libozip_cuda.so)

clean:
	rm -rf build ozip libozip.a
