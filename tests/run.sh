#!/bin/sh
# run.sh - the test suite (`make test`, and .ci/run). Runs every test program
# and script, echoes their lines, and ends with "N passed, N failed".
# A test line is "ok - ...", "not ok - ..." or "skip - ...".
set -u
cd "$(dirname "$0")/.." || exit 1
LOG=$(mktemp "${TMPDIR:-/tmp}/ozip-tests.XXXXXX")
trap 'rm -f "$LOG"' EXIT
start=$(date +%s)

run() { # run NAME COMMAND...
    name=$1; shift
    t0=$(date +%s)
    echo "# --- $name"
    "$@" > "$LOG.one" 2>&1
    rc=$?
    cat "$LOG.one"
    cat "$LOG.one" >> "$LOG"
    # a program that died without reporting a failure still fails
    if [ $rc -ne 0 ] && ! grep -q "^not ok" "$LOG.one"; then
        echo "not ok - $name exited with status $rc" | tee -a "$LOG"
    fi
    echo "# $name: $(( $(date +%s) - t0 )) s"
    rm -f "$LOG.one"
}

[ -d ../shared/corpus ] || echo "# note: ../shared/corpus is missing; corpus cases are skipped (data/ is used instead)"
run "core primitives, coder, format" build/tests/test_core
run "integer model" build/tests/test_model
run "integer model under UBSan+ASan" build/tests/test_model_san
run "core primitives under UBSan+ASan" build/tests/test_core_san
run "fast engine (SIMD kernels vs core)" build/tests/test_fast
run "trainer" build/tests/test_train
run "library API" build/tests/test_lib
run "library API, library built with UBSan+ASan+LSan" build/san/tests/test_lib
run "fast engine, built with UBSan+ASan+LSan" build/san/tests/test_fast
run "forged files and random shapes on every engine, UBSan+ASan+LSan (a short run of make fuzz)" \
    build/san/tests/fuzz --seed 1 --cases 96 --shapes 3 --out build/fuzz-out
run "CUDA trainer (GPU)" build/tests/test_cuda
run "CUDA trainer source under CPU emulation" env LD_LIBRARY_PATH=build/tests/emu \
    OZIP_CUDA_PLUGIN=build/tests/emu/libozip_cuda.so build/tests/test_cuda
if [ -x build/tests/attn_check ]; then
    run "CUDA tiled attention against the generic kernels (GPU)" build/tests/attn_check
else
    echo "skip - CUDA tiled attention against the generic kernels (GPU): nvcc is not installed" | tee -a "$LOG"
fi
run "CUDA tiled attention against the generic kernels, CPU emulation" build/tests/emu/attn_check
run "core builds (freestanding, C++, nvcc)" tests/builds.sh
run "command line" tests/cli.sh
run "FPGA kernel and hosts, without Vitis" tests/fpga.sh
run "benchmark harness (bench-quick)" tests/bench/quick.sh
run "speed tools (engine_bench, fwd_bench)" tests/tools.sh

passed=$(grep -c "^ok " "$LOG")
failed=$(grep -c "^not ok " "$LOG")
skipped=$(grep -c "^skip " "$LOG")
echo "# $skipped skipped, $(( $(date +%s) - start )) s in all"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
