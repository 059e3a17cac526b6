#!/bin/sh
# roundtrip.sh - the command line on a real GPU (tests/gpu/run.sh runs it;
# tests/cli.sh has the same checks on tiny inputs): a file compressed with
# --device cuda decompresses with --device cpu to identical bytes; training on
# the GPU is deterministic; --device auto picks the GPU and says so.
# Usage: OZIP=path/to/ozip tests/gpu/roundtrip.sh [FILE]   (default: 600 KB of data/demo.json)
set -u
OZIP=${OZIP:-$(pwd)/ozip}
T=$(mktemp -d "${TMPDIR:-/tmp}/ozip-gpu-rt.XXXXXX")
trap 'rm -rf "$T"' EXIT
if [ $# -gt 0 ]; then F=$1; else head -c 600000 data/demo.json > "$T/in" && F=$T/in; fi
A="--arch=L=2,D=64,H=4,F=128,W=64 --epochs=1 --force-model"
fails=0
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1${2:+: $2}"; fails=$((fails + 1)); }

t0=$(date +%s)
"$OZIP" -v --device=cuda $A -o "$T/a.oz" "$F" 2> "$T/a.err"
rc=$?
cat "$T/a.err"
if [ $rc = 0 ] && grep -q "trained on cuda" "$T/a.err"; then
    ok "--device cuda trains on the GPU ($(wc -c < "$F") bytes -> $(wc -c < "$T/a.oz"), $(($(date +%s) - t0)) s)"
else
    nok "--device cuda trains on the GPU" "exit $rc"
fi
"$OZIP" -d -c --device=cpu "$T/a.oz" | cmp -s - "$F" &&
    ok "a file compressed with --device cuda decompresses with --device cpu to identical bytes" ||
    nok "a file compressed with --device cuda decompresses with --device cpu to identical bytes"
"$OZIP" -q --device=cuda $A -o "$T/b.oz" "$F" && cmp -s "$T/a.oz" "$T/b.oz" &&
    ok "--device cuda is deterministic: the same input gives the same .oz bytes" ||
    nok "--device cuda is deterministic: the same input gives the same .oz bytes"
"$OZIP" -v $A -o "$T/c.oz" "$F" 2> "$T/c.err" && grep -q "trained on cuda" "$T/c.err" &&
    ok "--device auto trains on the GPU and says so at -v" ||
    nok "--device auto trains on the GPU and says so at -v" "$(cat "$T/c.err")"
exit $((fails > 0))
