#!/bin/sh
# fpga.sh - the FPGA path, checked without Vitis or a card (docs/fpga.md,
# "What is verified where"): the kernel compiles as C, C++ and OpenCL C; the
# csim testbench; files encoded by the CPU path decode to identical bytes on
# the emulated card (emu) and on OpenCL (PoCL); corrupt input gives the CPU
# path's message through every backend; limits; the bitstream consistency
# check; the performance model's target; XRT's noop smoke run.
# Prints "ok - ..." / "not ok - ..." / "skip - ..." lines (counted by run.sh).
set -u
OZIP=${OZIP:-$(pwd)/ozip}
ROOT=$(pwd)
CC=${CC:-cc}
CXX=${CXX:-g++}
T=$(mktemp -d "${TMPDIR:-/tmp}/ozip-fpga.XXXXXX")
trap 'rm -rf "$T"' EXIT
FAST="--arch=L=1,D=16,H=2,F=32,W=16 --epochs=0.5 -T2 --force-model"
fails=0
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1${2:+: $2}"; fails=$((fails + 1)); }
skip() { echo "skip - $1: $2"; }
backends=$("$OZIP" -V | sed -n 's/^backends: //p')
has() { echo " $backends " | grep -q " $1 "; }
# PoCL keeps compiled kernels in its cache; a private one keeps runs independent
export POCL_CACHE_DIR="$T/pocl-cache"

# --- the kernel source compiles as C (freestanding), C++ and OpenCL C
if $CC -std=c99 -ffreestanding -fno-builtin -fno-tree-loop-distribute-patterns -nostdinc \
    -isystem "$($CC -print-file-name=include)" -Wall -Wextra -Werror -pedantic -Wno-unknown-pragmas -O2 \
    -c hls/lmdec.c -o "$T/k.o" 2> "$T/err"; then
    undef=$(nm -u "$T/k.o" | awk '{print $2}' | tr '\n' ' ')
    [ -z "$undef" ] && ok "kernel compiles as freestanding C99 (-Werror -pedantic) and needs no library symbol" \
        || nok "kernel needs no library symbol" "undefined: $undef"
else
    nok "kernel compiles as freestanding C99" "$(head -3 "$T/err")"
fi
$CXX -x c++ -std=c++11 -Wall -Wextra -Werror -Wno-unknown-pragmas -O2 -c hls/lmdec.c -o "$T/kx.o" 2> "$T/err" \
    && ok "kernel compiles as C++ (g++ -x c++ -Werror, as Vitis HLS compiles it)" \
    || nok "kernel compiles as C++" "$(head -3 "$T/err")"
if command -v clang > /dev/null 2>&1; then
    clang -x cl -cl-std=CL1.2 -Werror -Wno-unknown-pragmas -fsyntax-only hls/lmdec.c 2> "$T/err" \
        && ok "kernel compiles as OpenCL C 1.2 (clang -x cl -Werror)" \
        || nok "kernel compiles as OpenCL C 1.2" "$(head -3 "$T/err")"
else
    skip "kernel as OpenCL C with clang" "clang is not installed (the PoCL decode below still builds it)"
fi

# --- csim testbench (C build: every vector; C++ build: the first)
if [ -x build/hls/tb_lmdec ] && [ -x build/hls/tb_lmdec_cxx ]; then
    build/hls/tb_lmdec
    build/hls/tb_lmdec_cxx hls/tb/data/taxi-l1d16.oz data/taxi-yellow_tripdata_2015-01.csv | sed 's/^\(ok\|not ok\) - tb:/\1 - tb (C++):/'
else
    nok "csim testbench is built" "run make hls-tb"
fi

# --- cross-decoding: files encoded by the CPU path decode to the same bytes everywhere
CORPUS="$ROOT/../shared/corpus"
if [ -d "$CORPUS" ]; then
    set -- "$CORPUS/log-Apache_2k.log" "$CORPUS/taxi-yellow_tripdata_2016-01.csv" "$CORPUS/flights-200k.json"
else
    echo "# ../shared/corpus is missing: data/ files instead"
    set -- "$ROOT/data/taxi-yellow_tripdata_2015-01.csv" "$ROOT/data/demo.json"
fi
devs="emu"
has opencl && devs="$devs opencl" || skip "decoding on opencl" "the opencl backend is not built (ocl-icd-opencl-dev, opencl-headers)"
n=0
for f in "$@"; do
    n=$((n + 1))
    b=$(basename "$f")
    head -c 65536 "$f" > "$T/in$n"
    if ! "$OZIP" -q -c $FAST --stream-size=2K "$T/in$n" > "$T/in$n.oz"; then
        nok "corpus $b: CPU encode"
        continue
    fi
    for d in $devs; do
        start=$(date +%s)
        if "$OZIP" -d -c --device "$d" "$T/in$n.oz" > "$T/out" 2> "$T/err" && cmp -s "$T/out" "$T/in$n"; then
            ok "corpus $b (64 KiB, 32 streams, encoded on cpu) decodes to identical bytes on $d ($(( $(date +%s) - start )) s)"
        else
            nok "corpus $b decodes to identical bytes on $d" "$(head -3 "$T/err")"
        fi
    done
done
"$OZIP" -d -c -v --device emu "$T/in1.oz" 2> "$T/err" > /dev/null
grep -q "kernel: [0-9]* modelled cycles = .* MB/s" "$T/err" && ok "-v on emu reports the kernel's modelled cycles" \
    || nok "-v on emu reports the kernel's modelled cycles" "$(cat "$T/err")"
grep -q "decoded on emu: native kernel, [0-9]* PEs" "$T/err" && ok "-v names the decode device" \
    || nok "-v names the decode device" "$(cat "$T/err")"

# --- corrupt input: the same message as the CPU path, through every backend
size=$(wc -c < "$T/in1.oz")
for off in $((size - 3)) $((size - 700)) $((size - 5000)); do
    cp "$T/in1.oz" "$T/bad.oz"
    printf '\125' | dd of="$T/bad.oz" bs=1 seek=$off conv=notrunc 2> /dev/null
    "$OZIP" -d -c --device cpu "$T/bad.oz" > /dev/null 2> "$T/cpu.err"; rc_cpu=$?
    for d in $devs; do
        "$OZIP" -d -c --device "$d" "$T/bad.oz" > /dev/null 2> "$T/dev.err"; rc=$?
        if [ $rc_cpu = 1 ] && [ $rc = 1 ] && cmp -s "$T/cpu.err" "$T/dev.err"; then
            ok "stream byte $off corrupted: $d exits 1 with the CPU path's message ($(cut -d: -f3- "$T/cpu.err" | head -c 60))"
        else
            nok "stream byte $off corrupted: $d gives the CPU path's error" "cpu ($rc_cpu): $(cat "$T/cpu.err"); $d ($rc): $(cat "$T/dev.err")"
        fi
    done
done

# --- a model beyond the kernel's limits: refused with a clear message, never decoded
head -c 12000 "$T/in1" > "$T/small"
if "$OZIP" -q -c --arch=L=9,D=16,H=2,F=32,W=16 --epochs=0.1 -T2 --force-model "$T/small" > "$T/big.oz"; then
    "$OZIP" -d -c --device emu "$T/big.oz" > /dev/null 2> "$T/err"; rc=$?
    [ $rc = 1 ] && grep -q "exceeds the kernel's layers limit.*--device cpu" "$T/err" \
        && ok "a 9-layer model on emu: exit 1, names the limit and the way out" \
        || nok "a 9-layer model on emu: exit 1, names the limit" "exit $rc: $(cat "$T/err")"
    "$OZIP" -d -c --device cpu "$T/big.oz" | cmp -s - "$T/small" && ok "the same file decodes on cpu" \
        || nok "the same file decodes on cpu"
else
    nok "encoding with a 9-layer model"
fi

# --- the emulated card's library missing: a clear error
OZIP_EMU_LIB=/nonexistent/libozip_kernel_emu.so "$OZIP" -d -c --device emu "$T/in1.oz" > /dev/null 2> "$T/err"; rc=$?
[ $rc = 1 ] && grep -q "cannot load the emulated kernel" "$T/err" && ok "emu without its library: exit 1, says what to do" \
    || nok "emu without its library: exit 1" "exit $rc: $(cat "$T/err")"

# --- bitstream: consistency of kernel arguments and board configurations; v++ absent
make -s -C bitstream check > "$T/chk" 2>&1; rc=$?
cat "$T/chk"
[ $rc = 0 ] || nok "make -C bitstream check exits 0"
if command -v v++ > /dev/null 2>&1; then
    skip "bitstream without v++" "v++ is installed here"
else
    make -s -C bitstream TARGET=hw > "$T/out" 2>&1; rc=$?
    [ $rc != 0 ] && grep -q "v++ is not installed" "$T/out" && ok "make -C bitstream without Vitis: fails with a clear message" \
        || nok "make -C bitstream without Vitis: fails with a clear message" "exit $rc: $(head -3 "$T/out")"
fi

# --- performance model: every board's build within its budget; the target on the U55C
if [ -x build/hls/perfmodel ]; then
    build/hls/perfmodel --check > "$T/pm" 2>&1 && ok "perf model: builds within budget, default model >= 5 MB/s on U55C at 250 MHz ($(sed -n 's/^\([0-9.]* MB\/s at 300 MHz, [0-9.]* MB\/s at 250 MHz\).*/\1/p' "$T/pm"))" \
        || nok "perf model --check" "$(tail -5 "$T/pm")"
else
    nok "perf model is built" "build/hls/perfmodel"
fi

# --- XRT: the host's call sequence on XRT's noop shim (nothing computes there)
if has xrt && [ -x build/tests/mkxclbin ]; then
    mkdir -p "$T/xrt/lib" "$T/icd"
    for l in /usr/lib/*/libxrt_*.so.2 /usr/lib/libxrt_*.so.2; do [ -e "$l" ] && ln -sf "$l" "$T/xrt/lib/"; done
    build/tests/mkxclbin "$T/noop.xclbin"
    env XILINX_XRT="$T/xrt" XCL_EMULATION_MODE=noop OZIP_XCLBIN="$T/noop.xclbin" \
        "$OZIP" -d -c --device xrt "$T/in1.oz" > "$T/out" 2> "$T/err"; rc=$?
    [ $rc = 1 ] && [ ! -s "$T/out" ] && grep -q "xrt: the kernel did not finish: no result" "$T/err" \
        && ok "xrt on the noop shim: device open, xclbin load, kernel open, BOs, run, wait; then 'no result', exit 1, no output" \
        || nok "xrt on the noop shim" "exit $rc: $(cat "$T/err")"
    "$OZIP" -d -c --device xrt "$T/in1.oz" > /dev/null 2> "$T/err"; rc=$?
    [ $rc = 1 ] && grep -q "xrt: " "$T/err" && ok "xrt without XILINX_XRT or a card: exit 1, says why ($(cut -d: -f3- "$T/err" | head -c 50))" \
        || nok "xrt without a card: exit 1" "exit $rc: $(cat "$T/err")"
    xocl=$(ls /usr/lib/*/libxilinxopencl.so.2 2> /dev/null | head -1)
    if has opencl && [ -n "$xocl" ]; then
        # XRT's OpenCL registered privately (never system-wide: without XILINX_XRT it aborts every OpenCL program)
        echo "$xocl" > "$T/icd/xilinx.icd"
        env XILINX_XRT="$T/xrt" XCL_EMULATION_MODE=noop OCL_ICD_VENDORS="$T/icd" OZIP_XCLBIN="$T/noop.xclbin" \
            "$OZIP" -d -c --device fpga "$T/in1.oz" > /dev/null 2> "$T/err"; rc=$?
        [ $rc = 1 ] && grep -q "xrt: the kernel did not finish" "$T/err" && ok "fpga picks xrt first (noop shim)" \
            || nok "fpga picks xrt first" "exit $rc: $(cat "$T/err")"
        env XILINX_XRT="$T/xrt" XCL_EMULATION_MODE=noop OCL_ICD_VENDORS="$T/icd" OZIP_XCLBIN="$T/noop.xclbin" \
            "$OZIP" -d -c --device opencl "$T/in1.oz" > /dev/null 2> "$T/err"; rc=$?
        [ $rc = 1 ] && grep -q "opencl: the kernel did not finish" "$T/err" \
            && ok "opencl on the Xilinx platform (noop): program from the .xclbin, banked buffers, launch; then 'no result', exit 1" \
            || nok "opencl on the Xilinx platform (noop)" "exit $rc: $(cat "$T/err")"
    else
        skip "opencl on the Xilinx platform" "needs the opencl backend and libxilinxopencl (libxrt1)"
    fi
else
    skip "xrt noop smoke run" "the xrt backend is not built (libxrt-dev)"
fi
exit $((fails > 0))
