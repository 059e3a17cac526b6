#!/bin/sh
# tools.sh - the speed tools run and refuse bad input: engine_bench saves a
# model and times the same model again from the file (--save-model, --model),
# and fwd_bench times it in ticks. Their numbers are not checked (speed is a
# benchmark's business, not a test's); that they run, report and refuse is.
set -u
cd "$(dirname "$0")/.." || exit 1
T=$(mktemp -d "${TMPDIR:-/tmp}/ozip-tools.XXXXXX")
trap 'rm -rf "$T"' EXIT
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1${2:+: $2}"; }
EB=build/engine_bench
FB=build/fwd_bench
ARCH=L=1,D=16,H=2,F=32,W=32,wbits=5
export OMP_WAIT_POLICY=passive

if $EB --arch $ARCH --data data/demo.json --bytes 4000 --streams 2 --only scalar:decode --save-model "$T/m" \
    > "$T/out1" 2>&1 && [ -s "$T/m" ] && grep -q '^scalar  *decode ' "$T/out1"; then
    ok "engine_bench trains, times and saves a model (--save-model)"
else
    nok "engine_bench trains, times and saves a model (--save-model)" "$(tail -2 "$T/out1")"
fi
if $EB --model "$T/m" --data data/demo.json --bytes 4000 --streams 2 --only scalar:encode > "$T/out2" 2>&1 &&
    grep -q "^model L=1,D=16,H=2,F=32,W=32,wbits=5" "$T/out2" && grep -q '^scalar  *encode ' "$T/out2"; then
    ok "engine_bench times a saved model with its own shape (--model)"
else
    nok "engine_bench times a saved model with its own shape (--model)" "$(tail -2 "$T/out2")"
fi
if $EB --model "$T/m" --data data/demo.json --bytes 4000 --streams 2 --repeat-ref 2 --only reference:decode > "$T/out7" 2>&1 &&
    grep -q '^reference  *decode ' "$T/out7"; then
    ok "engine_bench times the reference more than once (--repeat-ref)"
else
    nok "engine_bench times the reference more than once (--repeat-ref)" "$(tail -2 "$T/out7")"
fi
if $EB --model "$T/m" --data data/demo.json --bytes 4000 --streams 4 --decode-loops 3 --only scalar:decode > "$T/out9" 2>&1 &&
    grep -q '^scalar  *decode ' "$T/out9"; then
    ok "engine_bench decodes the same streams several times a run (--decode-loops)"
else
    nok "engine_bench decodes the same streams several times a run (--decode-loops)" "$(tail -2 "$T/out9")"
fi
if $EB --model "$T/m" --data data/demo.json --bytes 4000 --decode-loops 0 > "$T/out10" 2>&1; then
    nok "engine_bench refuses --decode-loops 0" "it exited 0"
else
    ok "engine_bench refuses --decode-loops 0"
fi
if $EB --model "$T/m" --data data/demo.json --bytes 4000 --repeat-ref 0 > "$T/out8" 2>&1; then
    nok "engine_bench refuses --repeat-ref 0" "it exited 0"
else
    ok "engine_bench refuses --repeat-ref 0"
fi
head -c 5000 data/demo.json > "$T/notmodel"
if $EB --model "$T/notmodel" --data data/demo.json --bytes 4000 > "$T/out3" 2>&1; then
    nok "engine_bench refuses a file that is not a model image" "it exited 0"
elif grep -q "not a model image" "$T/out3"; then
    ok "engine_bench refuses a file that is not a model image"
else
    nok "engine_bench refuses a file that is not a model image" "$(tail -1 "$T/out3")"
fi
if $FB "$T/m" data/demo.json 0 3 2 > "$T/out4" 2>&1 &&
    awk '$1 == "encode" && $2 > 0 { e = 1 } $1 == "decode" && $2 > 0 { d = 1 } END { exit !(e && d) }' "$T/out4"; then
    ok "fwd_bench reports encode and decode ticks per byte"
else
    nok "fwd_bench reports encode and decode ticks per byte" "$(tail -2 "$T/out4")"
fi
if $FB "$T/m" data/demo.json 7 > "$T/out5" 2>&1; then
    nok "fwd_bench refuses an unknown instruction set" "it exited 0"
else
    ok "fwd_bench refuses an unknown instruction set"
fi
if $FB "$T/notmodel" data/demo.json > "$T/out6" 2>&1; then
    nok "fwd_bench refuses a file that is not a model image" "it exited 0"
else
    ok "fwd_bench refuses a file that is not a model image"
fi
