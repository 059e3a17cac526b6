#!/bin/sh
# run.sh - every check of the CUDA trainer that needs a GPU, and its
# benchmark, in one command of at most 10 minutes on a lent GPU machine.
#
# Prepare here (no GPU needed), then send it with the device tool:
#   tests/gpu/bundle.sh
#   device run: command "sh tests/gpu/run.sh", carry ["gpu-bundle"], timeout_s 600
# (run it from a checkout of the commit that holds this script: the device
# tool sends the checkout the session was started in.)
#
# Stages, each with a time limit, in order of importance (3.5 minutes on
# an H200 with 16 host CPUs, 9:40 at most; a stage that would pass the deadline is cut short
# and reported as not finished):
#   0. build/tests/attn_check: the tiled attention kernels against the
#      warp-per-row ones, output by output (tests/gpu/attn_check.cu);
#   1. build/tests/test_cuda: (a) loss and every gradient tensor against the
#      CPU trainer on 16 shapes, (b) 300 training steps on both, integer code
#      within 0.08 bits/byte, determinism, graph replay against direct launches;
#   2. tests/gpu/roundtrip.sh: (c) a file compressed with --device cuda
#      decompresses with --device cpu to identical bytes; --device auto;
#   3. test_cuda --bench: training tokens/s, default and 1.2M-parameter
#      512-context models, FLOP/s against the GPU's peak, the CPU beside it;
#   4. flights-200k.json at -9 with --device cuda: time and size, then decoded
#      with --device cpu and compared;
#   5. tests/gpu/corpus.sh: every corpus file at the default level with
#      --device cuda, decoded with --device cpu under every ISA the host has;
#   6. tests/cli.sh, the whole command-line suite (training on the GPU), with
#      whatever time is left.
# Writes $OUT/results.txt (all test lines, the benchmark, the end-to-end
# figures) and one log per stage; ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
OUT=${OUT:-$ROOT/gpu-out}
mkdir -p "$OUT"
R=$OUT/results.txt
: > "$R"
START=$(date +%s)
DEADLINE=${GPU_DEADLINE:-580} # seconds; the device tool stops a command at 600
W=/tmp/ozip-gpu
B=$ROOT/gpu-bundle

say() { echo "$*" | tee -a "$R"; }
left() { echo $((DEADLINE - ($(date +%s) - START))); }

# stage NAME SECONDS COMMAND...: runs COMMAND with at most SECONDS (less if
# the deadline is nearer), output to $OUT/NAME.log, test lines to results.
stage() {
    name=$1 budget=$2
    shift 2
    l=$(left)
    [ "$l" -lt "$budget" ] && budget=$l
    if [ "$budget" -lt 15 ]; then
        say "skip - $name: not started, out of time"
        return 1
    fi
    say "# --- $name (limit ${budget} s)"
    t0=$(date +%s)
    timeout -k 5 "$budget" "$@" > "$OUT/$name.log" 2>&1
    rc=$?
    grep -E "^(ok|not ok|skip) " "$OUT/$name.log" | tee -a "$R"
    say "# $name: exit $rc after $(($(date +%s) - t0)) s"
    if [ $rc = 124 ] || [ $rc = 137 ]; then
        say "not ok - $name did not finish within ${budget} s"
    elif [ $rc != 0 ] && ! grep -q "^not ok" "$OUT/$name.log"; then
        say "not ok - $name exited with status $rc"
    fi
    return $rc
}

finish() {
    passed=$(grep -c "^ok " "$R")
    failed=$(grep -c "^not ok " "$R")
    skipped=$(grep -c "^skip " "$R")
    echo
    echo "=== summary ($(($(date +%s) - START)) s; full results in \$OUT/results.txt)"
    grep -E "^(# GPU|bench |flights |corpus |not ok )" "$R"
    echo "# $skipped skipped"
    echo "$passed passed, $failed failed" | tee -a "$R"
    exit $((failed > 0))
}

# ---------------------------------------------------------------- machine
{
    echo "# ozip GPU run, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(cat "$B/commit" 2> /dev/null || git rev-parse HEAD 2> /dev/null)"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader 2>&1 |
        sed 's/^/# GPU: /'
    echo "# host: $(nproc) CPUs, $(uname -r), $(. /etc/os-release 2> /dev/null && echo "$PRETTY_NAME")"
    echo "# nvcc: $(nvcc --version 2> /dev/null | tail -1)"
} | tee -a "$R"
nvidia-smi > "$OUT/env.log" 2>&1

# ------------------------------------------------- binaries: carried or built
rm -rf "$W"
mkdir -p "$W/lib"
if [ -x "$B/ozip" ]; then
    for f in "$B"/lib/*.gz; do
        [ -f "$f" ] && gunzip -c "$f" > "$W/lib/$(basename "$f" .gz)"
    done
    cp "$B/ozip" "$B/libozip_cuda.so" "$B/test_cuda" "$B/attn_check" "$W/"
    OZIP=$W/ozip TEST_CUDA=$W/test_cuda PLUGIN=$W/libozip_cuda.so ATTN_CHECK=$W/attn_check
    say "# binaries: gpu-bundle/ (built by tests/gpu/bundle.sh)"
else
    say "# binaries: gpu-bundle/ is missing; building here"
    stage build 240 make -j"$(nproc)" all build/tests/test_cuda build/tests/attn_check || finish
    OZIP=$ROOT/ozip TEST_CUDA=$ROOT/build/tests/test_cuda PLUGIN=$ROOT/build/libozip_cuda.so
    ATTN_CHECK=$ROOT/build/tests/attn_check
fi
if [ -d "$B/corpus" ]; then
    mkdir -p "$W/corpus"
    for f in "$B"/corpus/*.gz; do
        gunzip -c "$f" > "$W/corpus/$(basename "$f" .gz)"
    done
fi
# cuBLAS and the driver, wherever this image keeps them
LIBS=$W/lib
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib \
    /usr/lib/x86_64-linux-gnu /usr/lib64; do
    if [ -e "$d/libcublas.so.13" ] || [ -e "$d/libcuda.so.1" ]; then LIBS=$LIBS:$d; fi
done
py=$(python3 -c 'import os, nvidia.cublas as c; print(os.path.join(list(c.__path__)[0], "lib"))' 2> /dev/null)
[ -n "$py" ] && [ -d "$py" ] && LIBS=$LIBS:$py
# none of the usual places: look anywhere (pip's CUDA 13 wheels keep it under nvidia/cu13/lib)
case ":$LIBS:" in
*cuda* | *nvidia*) ;;
*)
    d=$(find /usr /opt -name libcublas.so.13 -print 2> /dev/null | head -1)
    [ -n "$d" ] && LIBS=$LIBS:$(dirname "$d")
    ;;
esac
export LD_LIBRARY_PATH=$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OZIP_CUDA_PLUGIN=$PLUGIN
"$OZIP" -V -v 2>&1 | tee -a "$R"
if ! "$OZIP" -V -v 2> /dev/null | grep -q "^cuda: .*GPU 0:"; then
    say "not ok - a usable GPU for the CUDA trainer (see the cuda: line above; LD_LIBRARY_PATH=$LD_LIBRARY_PATH)"
    ldd "$PLUGIN" >> "$OUT/env.log" 2>&1
    finish
fi

# ---------------------------------------- sh tests/gpu/run.sh sanitize [TEXT]
# Every gradient comparison with each tensor's norms and largest error, then
# the comparisons whose name holds TEXT (default "W 100, T 300: partial")
# under compute-sanitizer's memcheck, racecheck, initcheck and synccheck: for
# finding a kernel that is right in the CPU emulation and wrong on a GPU.
if [ "${1:-}" = sanitize ]; then
    only=${2:-W 100, T 300: partial}
    CS=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
    stage attn_check 60 "$ATTN_CHECK"
    stage detail 90 env OZ_CUDA_TEST_DETAIL=1 OZ_CUDA_TEST_ONLY= "$TEST_CUDA"
    grep -E "^#   |^#     " "$OUT/detail.log" >> "$R"
    for tool in memcheck racecheck initcheck synccheck; do
        stage "$tool" 90 env OZ_CUDA_TEST_ONLY="$only" "$CS" --tool "$tool" --error-exitcode 3 "$TEST_CUDA"
        grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Error|Invalid|hazard" "$OUT/$tool.log" | head -20 >> "$R"
    done
    finish
fi

# ------------------------------------------------------------------ stages
stage attn_check 60 "$ATTN_CHECK"
stage test_cuda 200 "$TEST_CUDA"
stage roundtrip 150 env OZIP="$OZIP" sh tests/gpu/roundtrip.sh
stage bench 120 "$TEST_CUDA" --bench
grep -E "^(# GPU|bench )" "$OUT/bench.log" >> "$R" 2> /dev/null

if [ -f "$W/corpus/flights-200k.json" ]; then
    F=$W/corpus/flights-200k.json
    t0=$(date +%s)
    if stage flights 400 "$OZIP" -9 -v -f --device=cuda -o "$W/flights.oz" "$F"; then
        ct=$(($(date +%s) - t0))
        size=$(wc -c < "$W/flights.oz")
        say "flights -9 --device cuda: $(wc -c < "$F") -> $size bytes in $ct s (wall, this machine's $(nproc) CPUs encode)"
        grep -E "bytes \(model|model:|training " "$OUT/flights.log" | sed 's/^/flights   /' | tee -a "$R"
        l=$(left)
        if [ "$l" -gt 20 ]; then
            t0=$(date +%s)
            if timeout "$l" "$OZIP" -d -c --device=cpu "$W/flights.oz" | cmp -s - "$F"; then
                say "ok - flights-200k.json trained with --device cuda -9 decodes with --device cpu to identical bytes ($(($(date +%s) - t0)) s)"
            else
                say "not ok - flights-200k.json trained with --device cuda -9 decodes with --device cpu to identical bytes"
            fi
        else
            say "skip - flights-200k.json decode on the CPU: out of time"
        fi
    fi
else
    say "skip - flights-200k.json end to end: not in gpu-bundle/ (bundle.sh copies it from ../shared/corpus)"
fi
if [ -d "$W/corpus" ]; then
    stage corpus 240 env OZIP="$OZIP" sh tests/gpu/corpus.sh "$W/corpus"
    grep "^corpus " "$OUT/corpus.log" >> "$R"
else
    say "skip - corpus trained on the GPU, decoded on the CPU: no corpus in gpu-bundle/"
fi
stage cli 200 env OZIP="$OZIP" sh tests/cli.sh
finish
